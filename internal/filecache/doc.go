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
// Closing a descriptor that has unsynced writes loses nothing: the data is in the page cache,
// and a later fsync through a new descriptor of the same file flushes it. On Linux since 4.16 a
// new descriptor also reports a writeback error that no one has seen yet, as long as the kernel
// still holds the file's inode; an error in background writeback followed by the inode's
// eviction from memory, while no descriptor is open, would go unreported (the PostgreSQL
// "fsyncgate" case). Files with writes that are synced promptly (acks=all) are rarely closed
// in that window; flushing a file before closing it is a possible hardening not done yet.
//
// A file whose path was removed (Unlinked) is never reopened by name, so a reader of a deleted
// partition never reads a file created under its name since.
//
// A nil *Cache is valid: its files open once and stay open until closed, as before.
package filecache
