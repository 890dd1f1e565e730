package txn

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
)

// VerifyProduce is called by Produce for every transactional batch: nil if p is part of pid's
// open transaction at this epoch; with implicitAdd (Produce v12+, KIP-890 part 2) it adds the
// partition (durably) when the transaction may take it. Errors are *kerr.Error values:
// INVALID_PRODUCER_EPOCH (stale epoch), INVALID_TXN_STATE (not added / wrong state),
// INVALID_PRODUCER_ID_MAPPING (unknown pid), CONCURRENT_TRANSACTIONS (commit/abort in progress).
// A producer id that an exhausted epoch replaced counts as a stale epoch. Before Start and
// after Close the error is COORDINATOR_LOAD_IN_PROGRESS or COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) VerifyProduce(ctx context.Context, pid int64, epoch int16, p Partition, implicitAdd bool) error {
	if perr := c.readyErr(); perr != nil {
		return perr
	}
	id, st, ok := c.lookupPID(pid)
	if !ok {
		return kerr.InvalidProducerIDMapping
	}
	check := func(st txnState) *kerr.Error {
		if st.PID != pid || st.Epoch != epoch {
			return kerr.InvalidProducerEpoch
		}
		if st.State.preparing() {
			return kerr.ConcurrentTransactions
		}
		return nil
	}
	if perr := check(st); perr != nil {
		return perr
	}
	if st.State == Ongoing && st.hasPartition(p) {
		return nil
	}
	if !implicitAdd {
		return kerr.InvalidTxnState
	}
	if !c.markers.PartitionExists(p.Topic, p.Partition) {
		return kerr.UnknownTopicOrPartition
	}
	perr := c.addToTxn(ctx, id, pid, epoch, func(st txnState) txnState {
		st.Partitions = addPartitions(st.Partitions, p)
		return st
	}, func(st txnState) bool { return st.hasPartition(p) })
	if perr == kerr.ProducerFenced {
		perr = kerr.InvalidProducerEpoch // the state changed while we waited for the lock
	}
	if perr != nil {
		return perr
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
