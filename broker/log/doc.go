// Package log is Bulwark's partition log: one *Log per topic-partition, stored in its own
// directory as a sequence of segments that hold Kafka v2 record batches byte for byte, exactly as
// Kafka lays them out (see docs/format/log.md).
//
// Each segment is a `<20-digit base offset>.log` file of concatenated batches plus two sparse
// indexes, `.index` (relative offset → file position) and `.timeindex` (max timestamp so far →
// relative offset). The indexes are kept in memory as well and written with plain writes; they are
// only read back at Open. A `leader-epoch-checkpoint` file records where each leader epoch began,
// and a `.clean-shutdown` marker written by Close tells Open it may skip recovery.
//
// # Durability
//
// Append never fsyncs: it writes the batch with pwrite and publishes the new log end offset.
// Durability comes from Sync, which hands the work to the log's flusher, a goroutine that runs
// while the log has appends to sync (none for an idle log). The flusher fsyncs the active segment
// once for every waiter that queued since the previous fsync (group commit), so N concurrent
// acks=all producers share one fsync. Segment files are opened through Config.Files, a cache of
// open files that closes idle ones, so an idle partition holds no descriptor. A segment is fsynced (data and
// indexes) before a roll completes, so only the active segment ever holds unsynced data. Without
// the clean-shutdown marker, Open rescans the active segment (and any segment whose indexes are
// missing or inconsistent), checks every batch's length, magic, CRC-32C and offsets, and
// truncates the file at the first bad byte.
//
// # Concurrency
//
// Three locks, always taken in this order:
//
//   - Log.mu serializes everything that changes the log's structure or content: Append, rolls,
//     retention, DeleteRecordsBefore, SetConfig, Close and Delete. File writes happen under it.
//   - Log.smu (a RWMutex) guards the published state readers use: the segment list (replaced,
//     never modified in place), each segment's size, next offset, index slices and max
//     timestamp, the log start and end offsets, and the Wait channel. Writers hold it only for
//     the few assignments that publish an append; readers hold it only to take a snapshot, then
//     pread without any lock, so reads never wait for an append's I/O and appends never wait for
//     a read's I/O.
//   - Log.fmu guards the flusher state (flushed offset, sticky fsync error, wake-up channel).
//
// The epoch cache has its own small mutex (taken last). Segments are reference counted: the log
// holds one reference, and a reader takes one (under smu) for the duration of its preads. A
// deleted segment's files are renamed to *.deleted at once and closed and removed when the last
// reference goes (after Config.FileDeleteDelay), so a read racing with retention never touches a
// closed file.
package log
