// Package filecache bounds how many files the broker holds open at once.
//
// A partition's segment files used to stay open for as long as the broker ran, so the process's
// open-file limit capped how many partitions one broker could hold, idle or not (issue 17: 20,000
// descriptors, a few thousand partitions). A File here is a path that opens on use and may be
// closed again by the Cache when it has not been used for a while: idle partitions hold no
// descriptor, busy ones keep theirs, and the number open stays within the Cache's budget.
//
// Eviction is the clock algorithm: every open file sits on a ring with a "used" bit set by each
// access; the hand clears bits as it passes and closes the first file whose bit is already clear
// and that no call is using at that moment. An access to an open file takes only that file's own
// lock, so hot partitions do not contend on a global one.
//
// Closing a descriptor loses no data: unsynced writes stay in the page cache, and a later fsync
// through a new descriptor of the same file flushes them. It could lose an error, though: if
// background writeback of those pages failed while no descriptor was open and the kernel then
// dropped the file's inode from memory, the failure would go with it and the later fsync would
// succeed (the PostgreSQL "fsyncgate" case). So a file with writes no successful fsync has
// covered is dirty, the clock closes clean files first, and it closes a dirty one only after
// fsyncing it; a failure of that fsync is kept and returned by the file's next Sync, where the
// log treats it like any failed fsync. Writes made durable another way, by a syncfs of the whole
// file system through a descriptor opened before them (the broker's CreateTopics), are marked so
// with SyncedTo: creating thousands of partitions into a full cache would otherwise cost an fsync
// for each file it closes to make room.
//
// A file whose path was removed (Unlinked) is never reopened by name, so a reader of a deleted
// partition never reads a file created under its name since.
//
// A nil *Cache is valid: its files open once and stay open until closed, as before.
package filecache
