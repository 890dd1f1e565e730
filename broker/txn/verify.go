package txn

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
)

// VerifyProduce is called by Produce for every transactional batch: it succeeds if p is part
// of pid's open transaction at this epoch; with implicitAdd (Produce v12+, KIP-890 part 2) it
// adds the partition (durably) when the transaction may take it. Errors are *kerr.Error values:
// INVALID_PRODUCER_EPOCH (stale epoch), INVALID_TXN_STATE (not added / wrong state),
// INVALID_PRODUCER_ID_MAPPING (unknown pid, or one transactionalID does not own),
// CONCURRENT_TRANSACTIONS (commit/abort in progress).
// A producer id that an exhausted epoch replaced counts as a stale epoch. Before Start and
// after Close the error is COORDINATOR_LOAD_IN_PROGRESS or COORDINATOR_NOT_AVAILABLE.
//
// On success the transaction's operation lock stays held until the caller calls release, after
// appending the batch: the transaction cannot end in between, so a verified batch never lands
// after its transaction's marker (where it would open a transaction no marker ever closes, and
// hold the partition's last stable offset back). This is what Kafka's verification guard does.
func (c *Coordinator) VerifyProduce(ctx context.Context, transactionalID string, pid int64, epoch int16, p Partition, implicitAdd bool) (release func(), err error) {
	if perr := c.readyErr(); perr != nil {
		return nil, perr
	}
	id, st, ok := c.lookupPID(pid)
	if !ok || id != transactionalID {
		// A producer id belongs to one transactional id: a batch naming another's producer id
		// is refused, so WRITE on one transactional id cannot write into another's transaction.
		return nil, kerr.InvalidProducerIDMapping
	}
	// Fail fast without waiting for the lock while a commit or abort is being written (the
	// client retries), as Kafka answers CONCURRENT_TRANSACTIONS there.
	switch {
	case st.PID != pid || st.Epoch != epoch:
		return nil, kerr.InvalidProducerEpoch
	case st.State.preparing():
		return nil, kerr.ConcurrentTransactions
	}
	e, lerr := c.lockEntry(ctx, id, false)
	if lerr != nil {
		return nil, kerr.ConcurrentTransactions
	}
	if e == nil || !e.persisted {
		if e != nil {
			c.unlock(e)
		}
		return nil, kerr.InvalidProducerIDMapping
	}
	release = func() { c.unlock(e) }
	if perr := c.verifyLocked(ctx, e, pid, epoch, p, implicitAdd); perr != nil {
		release()
		return nil, perr
	}
	return release, nil
}

// verifyLocked is VerifyProduce with e's operation lock held.
func (c *Coordinator) verifyLocked(ctx context.Context, e *entry, pid int64, epoch int16, p Partition, implicitAdd bool) *kerr.Error {
	st := c.state(e)
	switch {
	case st.PID != pid || st.Epoch != epoch:
		return kerr.InvalidProducerEpoch
	case st.State.preparing():
		return kerr.ConcurrentTransactions
	case st.State == Ongoing && st.hasPartition(p):
		return nil
	case !implicitAdd:
		return kerr.InvalidTxnState
	case !c.markers.PartitionExists(p.Topic, p.Partition):
		return kerr.UnknownTopicOrPartition
	}
	next := st.toOngoing(c.nowMs())
	next.Partitions = addPartitions(next.Partitions, p)
	if err := c.persist(ctx, e, next); err != nil {
		c.log.Warn("txn: cannot persist an implicit add to a transaction", "transactional_id", e.id, "err", err)
		return storeErr(err)
	}
	return nil
}

// VerifyTxnOffsetCommit is called by TxnOffsetCommit: same idea for a group (implicitAdd for
// TxnOffsetCommit v5+). Errors as above plus PRODUCER_FENCED for a stale epoch (the broker
// maps it to INVALID_PRODUCER_EPOCH for TxnOffsetCommit v0–v2); an unknown transactional id or
// another producer id is INVALID_PRODUCER_ID_MAPPING.
func (c *Coordinator) VerifyTxnOffsetCommit(ctx context.Context, txnID string, pid int64, epoch int16, group string, implicitAdd bool) error {
	if perr := c.readyErr(); perr != nil {
		return perr
	}
	if txnID == "" {
		return kerr.InvalidRequest
	}
	st, ok := c.lookup(txnID)
	if !ok {
		return kerr.InvalidProducerIDMapping
	}
	if perr := checkProducer(st, pid, epoch); perr != nil {
		return perr
	}
	if st.State == Ongoing && st.hasGroup(group) {
		return nil
	}
	if !implicitAdd {
		return kerr.InvalidTxnState
	}
	if perr := c.addOffsets(ctx, txnID, pid, epoch, group); perr != nil {
		return perr
	}
	return nil
}

// lookupPID returns the transactional id that holds (or last held) pid and its state.
func (c *Coordinator) lookupPID(pid int64) (string, txnState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.byPID[pid]
	if !ok {
		return "", txnState{}, false
	}
	e := c.txns[id]
	if e == nil || !e.persisted || e.removed {
		return "", txnState{}, false
	}
	return id, e.st, true
}
