package txn

// EndTxn (key 26), v0–v5.
//
// v0–v4 (transaction version 1, Kafka's endTransactionWithTV1): the producer id must be the
// current one (INVALID_PRODUCER_ID_MAPPING) and the epoch equal (PRODUCER_FENCED, or
// INVALID_PRODUCER_EPOCH below v2). Ongoing: PrepareCommit/PrepareAbort is persisted with the
// partition and group lists, every marker is written and every group completed, then
// CompleteCommit/CompleteAbort is persisted and the answer sent. Complete* with the same
// outcome is a retry and succeeds; the other outcome is INVALID_TXN_STATE; Prepare* with the
// same outcome is CONCURRENT_TRANSACTIONS, with the other INVALID_TXN_STATE; Empty is
// INVALID_TXN_STATE.
//
// v5 (transaction version 2, KIP-890 part 2): the epoch is bumped at Prepare, so the markers
// carry the new epoch, and the answer carries the producer id and epoch to use next; when the
// epoch is exhausted a new producer id (epoch 0) takes over at Complete* (the markers then
// carry epoch MaxInt16 under the old id). A retry with the previous epoch (or the previous
// producer id and epoch MaxInt16-1 after a switch) succeeds for the same outcome and answers
// the current id and epoch. As in Kafka's TV2 path, an abort of an Empty or completed
// transaction at the current epoch is accepted: nothing is written to partitions, but the
// epoch is bumped.

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn handles EndTxn.
func (c *Coordinator) EndTxn(ctx context.Context, version int16, req *kmsg.EndTxnRequest) *kmsg.EndTxnResponse {
	resp := kmsg.NewPtrEndTxnResponse()
	resp.Version = version
	st, perr := c.endTxn(ctx, version >= 5, req)
	if perr != nil {
		if version < 2 && perr == kerr.ProducerFenced {
			perr = kerr.InvalidProducerEpoch
		}
		resp.ErrorCode = perr.Code
		return resp
	}
	if version >= 5 {
		resp.ProducerID, resp.ProducerEpoch = st.PID, st.Epoch
	}
	return resp
}

func (c *Coordinator) endTxn(ctx context.Context, tv2 bool, req *kmsg.EndTxnRequest) (txnState, *kerr.Error) {
	if perr := c.readyErr(); perr != nil {
		return txnState{}, perr
	}
	if req.TransactionalID == "" {
		return txnState{}, kerr.InvalidRequest
	}
	e, err := c.lockEntry(ctx, req.TransactionalID, false)
	if err != nil {
		return txnState{}, kerr.ConcurrentTransactions
	}
	if e == nil {
		return txnState{}, kerr.InvalidProducerIDMapping
	}
	defer c.unlock(e)
	if !e.persisted {
		return txnState{}, kerr.InvalidProducerIDMapping
	}
	st := c.state(e)
	if tv2 {
		return c.endTxnV2(ctx, e, st, req)
	}
	return c.endTxnV1(ctx, e, st, req)
}

// endTxnV1 is Kafka's endTransactionWithTV1.
func (c *Coordinator) endTxnV1(ctx context.Context, e *entry, st txnState, req *kmsg.EndTxnRequest) (txnState, *kerr.Error) {
	switch {
	case st.PID != req.ProducerID:
		return txnState{}, kerr.InvalidProducerIDMapping
	case st.Epoch != req.ProducerEpoch:
		return txnState{}, kerr.ProducerFenced
	}
	switch st.State {
	case Ongoing:
		prep := st
		prep.State = prepareState(req.Commit)
		prep.UpdateMs = c.nowMs()
		prep.NextPID, prep.TV2 = noPID, false
		return c.prepareAndComplete(ctx, e, prep)
	case CompleteCommit, CompleteAbort:
		if (st.State == CompleteCommit) == req.Commit {
			return st, nil
		}
	case PrepareCommit, PrepareAbort:
		if (st.State == PrepareCommit) == req.Commit {
			return txnState{}, kerr.ConcurrentTransactions
		}
	}
	c.logInvalidTransition(e.id, st.State, req.Commit)
	return txnState{}, kerr.InvalidTxnState
}

// endTxnV2 is Kafka's transaction-version-2 endTransaction.
func (c *Coordinator) endTxnV2(ctx context.Context, e *entry, st txnState, req *kmsg.EndTxnRequest) (txnState, *kerr.Error) {
	// A retry of an end whose answer (the bumped epoch) the producer lost.
	retryOnBump := st.PID == req.ProducerID && st.LastEpoch == req.ProducerEpoch &&
		int(st.Epoch) == int(req.ProducerEpoch)+1
	// The same after the bump exhausted the epoch and the producer id changed.
	retryOnOverflow := st.LastPID == req.ProducerID && st.PID != req.ProducerID && st.Epoch == 0 &&
		req.ProducerEpoch == math.MaxInt16-1 && st.LastEpoch == req.ProducerEpoch
	isRetry := retryOnBump || retryOnOverflow
	if st.PID != req.ProducerID && !retryOnOverflow {
		return txnState{}, kerr.InvalidProducerIDMapping
	}
	var validEpoch bool
	switch st.State {
	case PrepareCommit, PrepareAbort:
		validEpoch = isRetry
	case CompleteCommit, CompleteAbort:
		validEpoch = isRetry || req.ProducerEpoch == st.Epoch
	default:
		validEpoch = req.ProducerEpoch == st.Epoch
	}
	if !validEpoch {
		return txnState{}, kerr.ProducerFenced
	}
	switch st.State {
	case Ongoing:
		return c.prepareV2(ctx, e, st, req.Commit, false)
	case Empty:
		if !req.Commit {
			return c.prepareV2(ctx, e, st, false, true)
		}
	case CompleteCommit, CompleteAbort:
		sameOutcome := (st.State == CompleteCommit) == req.Commit
		switch {
		case isRetry && sameOutcome:
			return st, nil
		case !isRetry && !req.Commit:
			return c.prepareV2(ctx, e, st, false, true)
		}
	case PrepareCommit, PrepareAbort:
		if (st.State == PrepareCommit) == req.Commit {
			return txnState{}, kerr.ConcurrentTransactions
		}
	}
	c.logInvalidTransition(e.id, st.State, req.Commit)
	return txnState{}, kerr.InvalidTxnState
}

// prepareV2 ends a transaction with the transaction-version-2 epoch bump (Kafka's
// prepareAbortOrCommit). empty is an abort with nothing added: no markers, a new start time.
func (c *Coordinator) prepareV2(ctx context.Context, e *entry, st txnState, commit, empty bool) (txnState, *kerr.Error) {
	if st.Epoch == math.MaxInt16 {
		// Only a coordinator fence reaches MaxInt16, and a fenced producer cannot get here.
		return txnState{}, kerr.ProducerFenced
	}
	prep := st
	prep.NextPID = noPID
	if epochExhausted(st.Epoch) {
		pid, err := c.allocPID(ctx)
		if err != nil {
			c.log.Warn("txn: cannot allocate a producer id", "err", err)
			return txnState{}, storeErr(err)
		}
		prep.NextPID = pid
	}
	now := c.nowMs()
	prep.Epoch, prep.LastEpoch = st.Epoch+1, st.Epoch
	prep.State = prepareState(commit)
	prep.TV2 = true
	prep.UpdateMs = now
	if empty {
		prep.Partitions, prep.Groups = nil, nil
		prep.StartMs = now
	}
	return c.prepareAndComplete(ctx, e, prep)
}

// prepareState is the Prepare* state of an outcome.
func prepareState(commit bool) State {
	if commit {
		return PrepareCommit
	}
	return PrepareAbort
}

// logInvalidTransition logs an EndTxn that the state does not allow (Kafka logs these too).
func (c *Coordinator) logInvalidTransition(id string, from State, commit bool) {
	c.log.Debug("txn: invalid EndTxn", "transactional_id", id, "state", from, "commit", commit)
}
