// Package coordlog is a durable last-write-wins key/value journal for the broker's
// coordinators: committed offsets, group metadata, transactional-id state and producer-id
// blocks. The owner writes entries (a nil value deletes the key), reads the current value of a
// key from memory, and rebuilds its typed state from the journal at Open.
//
// # File layout
//
// A journal is an ordinary partition log directory of package broker/log (plog): segments of
// Kafka v2 record batches (`<20-digit base offset>.log` with `.index` and `.timeindex`), a
// leader-epoch checkpoint and the clean-shutdown marker, encrypted at rest when the caller sets
// Options.Config.Sealing. Each Write is one uncompressed batch (producer id -1, leader epoch 0),
// one record per entry: the record key is the entry key (never null) and the record value is
// the entry value, null for a tombstone. Nothing else is stored: there is no checkpoint of the
// log start offset and no separate index, because the journal is only ever replayed from its
// first segment to its end.
//
// # Replay
//
// Open reads the whole log in 1 MiB chunks (a larger batch is still read whole), splits the
// batches, checks each CRC and decodes every record, and applies them in offset order to a map:
// the last write of a key wins and a tombstone removes it. The log has already truncated a torn
// tail, so any record that fails to decode is a bug or tampering, and Open fails naming its
// offset rather than guessing.
//
// # Compaction
//
// Overwrites leave dead records behind. When the log is larger than
// max(Options.CompactMinBytes, 2×live bytes), Compact (called by the owner, or by Write after
// its own append) rewrites the live set: it notes X, the log end offset, makes the log roll so
// that the rewrite starts a new segment, appends every live entry again in batches of at most
// about 1 MiB, fsyncs them, and finally calls DeleteRecordsBefore(X), which removes every
// segment that lies wholly below X.
//
// # Crash safety
//
// A Write is one batch, and the log keeps or truncates a batch as a whole, so after a crash
// either all or none of a Write's entries are replayed. Compaction needs no journal of its own
// because replay is last-write-wins: the rewritten records carry the values that were current
// at X, so replaying the old records followed by any prefix of the rewrite yields the same map,
// and once the rewrite is durable, replaying it without the deleted segments does as well (a
// key absent from the rewrite was deleted before X; if a segment still holding older records
// of it survives, it also holds the tombstone, which comes later). The log is opened with log
// start offset 0, so a start offset raised by DeleteRecordsBefore but lost in a crash simply
// replays a few superseded records again.
//
// # Concurrency
//
// A Store is safe for concurrent use. One sync.Mutex guards the map, the live-byte count and
// every append to the log (so a Write's batch and its map update happen in the same order for
// everyone), and compaction runs entirely under it. A Write releases the mutex before it waits
// for its batch to be fsynced, so concurrent writers share the log's group commit; Append is
// the same split exposed to callers that order their own state under their own locks (append
// under the lock, wait after releasing it). The mutex is
// taken before any of the log's own locks. Callbacks (Open's fn, Range's fn) run without the
// mutex and receive copies, so they may call back into the Store.
package coordlog
