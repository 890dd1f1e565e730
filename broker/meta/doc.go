// Package meta is the broker's durable metadata: one ordered log of metadata records (topics,
// partitions, topic and broker configs, ...) with periodic snapshots. It has the shape a
// replicated (Raft) metadata log will take later: every change is a Record with a monotonically
// increasing offset, and one deterministic function (validate, then apply) turns the previous
// State and a record into the next State. Replaying the same records always gives the same State.
//
// # Files
//
// A Store owns one directory (the broker passes <first log.dir>/__cluster_metadata) holding
// meta-<20-digit base offset>.log files of CRC-32C framed JSON records and
// snapshot-<20-digit offset>.json files, each the whole State as of an offset. A snapshot starts a
// new log file first and writes the snapshot second, so the directory is consistent after a crash
// at any step; docs/format/metadata.md has the byte layout and the recovery rules.
//
// # Concurrency
//
// One writer: Store.mu serializes Commit, Snapshot and Close (and with them every file write).
// Readers never lock: State() loads an atomic pointer to the current State. A published State is
// immutable: Commit copies the topic maps once per batch and copies each topic it changes
// (copy-on-write), so a State obtained earlier never changes and may be read from any goroutine.
// Callers must not mutate a State or anything reachable from it.
//
// # Adding a record type
//
//  1. Add a RecordType constant (never reuse a number; numbers are on disk).
//  2. Define the record struct (JSON-encoded, exported fields) with Type, validate and apply
//     methods. validate must reject everything apply cannot handle, because replay runs it on
//     bytes read from disk; apply must be deterministic (no clocks, no randomness: put such values
//     in the record, as CreateTopic does with CreatedAt).
//  3. Add one line to the kinds table in records.go, and the record to docs/format/metadata.md.
//  4. If State gained fields, carry them in snapshotDoc (snapshot.go).
//
// Changing a record's JSON incompatibly means bumping its version in the kinds table and teaching
// its decode function to read the older versions.
package meta
