// Package txn is the broker's transaction coordinator: it allocates producer ids, keeps the
// state of every transactional id, fences zombie producers by bumping epochs, records which
// partitions and consumer groups a transaction touched, and finishes transactions by writing
// COMMIT or ABORT markers. It follows Apache Kafka's TransactionCoordinator and
// TransactionMetadata (core/src/main/scala/kafka/coordinator/transaction/, Kafka 3.x/4.0) for
// a single node: the coordinator epoch is always 0 and there is no __transaction_state topic.
//
// # APIs
//
// One file per Kafka API, named by key: 22_init_producer_id.go, 24_add_partitions_to_txn.go,
// 25_add_offsets_to_txn.go, 26_end_txn.go, 65_describe_transactions.go and
// 66_list_transactions.go. Each opens with the versions it serves and its deviations from
// Kafka. verify.go holds the hooks the broker's Produce and TxnOffsetCommit paths call
// (VerifyProduce, VerifyTxnOffsetCommit), including the implicit adds of KIP-890 part 2.
// Protocol errors are kerr codes in the responses; Go errors never reach a client.
//
// # State and durability
//
// State lives in a coordlog.Store that the broker opens and owns. The coordinator uses two kinds
// of keys:
//
//   - ProducerIDKey ("pid"): the producer-id block, JSON {"version":1,"block_start":S,
//     "block_end":E}. Ids in [S, E) may have been handed out. A new block is written (and
//     fsynced) before its first id is returned, and after a restart allocation resumes at E, so
//     an id is never handed out twice, even across crashes (ids of a block still unused at the
//     crash are skipped).
//   - KeyPrefix+transactional id ("txn/<id>"): the transaction metadata as JSON (txnState):
//     producer id and epoch, the previous producer id and epoch (for retries after a bump), the
//     next producer id while an epoch-exhausting EndTxn v5 is in flight, timeout, state name,
//     partitions, groups, start and last-update times in milliseconds, and whether the open
//     transaction uses transaction version 2 (EndTxn v5). A tombstone removes an expired id.
//
// Every transition is written before it takes effect in memory: a failed or unknown write
// leaves the in-memory state as it was (the next write of the key replaces the whole value, so
// the journal converges), and the client gets COORDINATOR_NOT_AVAILABLE and retries. Ending a
// transaction first persists PrepareCommit/PrepareAbort with the partition and group lists, then
// writes every marker and completes every group, then persists CompleteCommit/CompleteAbort. If
// the broker stops between the two, the journal still says Prepare*, and Start finishes the
// transaction (markers are idempotent for the log: a repeated marker with no open transaction
// is harmless). If a marker write fails the transaction stays in Prepare*; requests for it get
// CONCURRENT_TRANSACTIONS and the background loop retries the completion every
// AbortCheckInterval, as Kafka's marker channel manager retries forever.
//
// # Differences from Kafka
//
//   - EndTxn answers after the markers are written (Kafka answers once Prepare* is durable and
//     writes markers in the background). Markers are local appends, so this is fast, and it
//     keeps the broker's LSO logic simple.
//   - InitProducerId on an Ongoing transaction aborts it (fence bump, ABORT markers with the
//     bumped epoch, CompleteAbort) and then bumps the epoch again and answers, which is what
//     a Kafka client sees after retrying the CONCURRENT_TRANSACTIONS Kafka returns first.
//   - Timeout aborts and re-init aborts clear the remembered previous epoch, so the fenced
//     producer's retries are never mistaken for retries of the bump (PRODUCER_FENCED).
//   - DescribeTransactions lists only data partitions; consumer groups are kept separately
//     (Kafka shows the group's __consumer_offsets partition).
//   - VerifyTxnOffsetCommit reports a stale epoch as PRODUCER_FENCED whatever the request
//     version; the broker maps it to INVALID_PRODUCER_EPOCH for TxnOffsetCommit v0–v2.
//
// # Concurrency
//
// Coordinator.mu (a sync.Mutex) guards the map of transactional ids, the producer-id index
// and the lifecycle flags; each entry's state is an immutable value replaced under mu, so
// ListTransactions, DescribeTransactions and the read-only verification path only take mu
// briefly and never wait for I/O. Each transactional id has an operation lock (a one-slot
// channel, so that waiting honours ctx) held across the whole of one operation: the journal
// writes and, when ending a transaction, the marker writes and group completions. Producer-id
// allocation has its own one-slot lock held across the journal write of a new block. Lock
// order: id lock, then producer-id lock, then mu; a goroutine holds at most one id lock, and
// mu is never held across I/O or a callback. One background goroutine (started by Start,
// stopped by Close) aborts timed-out transactions, retries unfinished completions and expires
// idle transactional ids; it takes the same id locks as requests.
package txn
