// Package config holds Bulwark's configuration: the broker configuration file, read in Kafka's
// own server.properties syntax and key names, and Kafka's topic-level configuration keys with
// their broker-level synonyms.
//
// Two tables of key definitions (Def), one for broker keys and one for topic keys, drive
// everything: parsing and type checks, range and enum validation, the typed Config fields the
// broker reads, DescribeConfigs entries with their sources and synonyms, which keys
// AlterConfigs may change at runtime, and the generated docs/configuration.md. Keys that Kafka
// does not have live under the prefix "bulwark.". Kafka keys that Bulwark accepts but does not act
// on (thread counts, socket buffer sizes, ...) are marked "accepted, no effect" so that an
// existing Kafka or MSK configuration loads unchanged; keys Kafka does not know are rejected.
//
// Concurrency: the key tables are built once at package initialisation and never modified
// afterwards, so they are safe for concurrent reads. A *Config is a plain value: it is not
// locked, and callers must not modify one that other goroutines read. WithDynamic returns a new
// copy rather than changing its receiver, so a broker can swap in a re-resolved configuration
// while readers keep the old one.
package config
