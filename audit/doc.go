// Package audit writes and checks Bulwark's tamper-evident audit trail.
//
// Records use a CloudTrail-like JSON schema (Record), one per line, in a stream of files
// (<stream>-<first seq>.jsonl). Each record carries its sequence number and the SHA-256 of the
// line before it, so a removed, edited or reordered record breaks the chain. Every
// CheckpointRecords records or CheckpointInterval, a checkpoint record signs the chain: an
// HMAC-SHA256 of the stream name, its sequence number and the chain hash, under a data key from
// the broker's key provider (local keyring or AWS KMS) whose wrapped form travels in the
// checkpoint. Only a holder of the master key can produce or check a signature. A clean close
// writes a final checkpoint; a trail that does not end with one was cut off (or the broker
// stopped uncleanly, which the next start records). docs/format/audit.md documents the layout.
//
// Auditor turns broker hook events into records; Verifier (VerifyDir) checks a trail and reports
// the first missing, edited or reordered record; Query filters one.
//
// # Concurrency
//
// Writer serializes appends with one mutex; its goroutine fsyncs every SyncInterval and writes
// timed checkpoints. Auditor is called from the hook dispatcher's one goroutine for its
// registration (records keep event order) and from the broker's owner for lifecycle records;
// data-plane allow summaries are flushed by its own ticker.
package audit
