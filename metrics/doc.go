// Package metrics serves a broker's Prometheus metrics: Kafka's under the names Amazon MSK's JMX
// exporter gives them (kafka_server_BrokerTopicMetrics_Count{name="MessagesInPerSec",topic="t"}),
// at MSK's monitoring levels, and Bulwark's own (bulwark_*_total, base units). docs/metrics.md
// lists every family.
//
// The broker keeps plain atomic counters (package broker/stats); this package reads them at
// scrape time through stats.Source and never runs on the request path. Collector is an unchecked
// prometheus.Collector whose series depend on the level of the moment (asked at every scrape)
// and on the topics and groups that exist. KeyMetrics counts key-service calls, which arrive as
// hook events. Endpoint serves a registry over HTTP, with TLS and basic authentication from an
// exporter-toolkit web configuration file. Subpackage node serves host metrics under node
// exporter's names.
//
// # Concurrency
//
// Collector.Run is the one goroutine that advances meter rates (every 5 s) and steps histogram
// windows (every 30 s); scrapes read the same state. Both go through rates.mu, held only to read
// or update one counter's or histogram's state, never across a walk of the broker. Scrapes are
// serialized by Collector.scrapeMu (they share the time-lag cache). Counters are read with
// atomic loads, so a scrape never blocks produce or fetch beyond the per-partition read locks
// the log takes for its offsets and size.
package metrics
