// Package logship delivers a stream of log lines (the audit trail, the broker log) to sinks:
// CloudWatch Logs, Firehose and S3, each within its service's API limits.
//
// A stream's own files are the durable spool: a Source reads entries after a position, and a
// Shipper per (stream, sink) sends them in order, in batches the sink accepts, and records how far
// it got in a cursor file, fsynced after every delivered batch. A sink that is down is retried
// with exponential backoff for as long as it takes; nothing is dropped, and a crash at any point
// re-sends at most the batch in flight (delivery is at least once; every entry carries an id that
// lets a reader drop duplicates). A batch a sink partly refuses (Firehose's FailedPutCount) is
// retried for exactly the refused entries. The stream's writer keeps files a shipper has not
// delivered yet (see Shipper.Position).
//
// # Concurrency
//
// Each Shipper has one goroutine. Sources are read concurrently with their writer; they only read
// complete, fsynced lines.
package logship
