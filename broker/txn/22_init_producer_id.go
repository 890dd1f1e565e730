package txn

// InitProducerId (key 22), v0–v5.
//
// A null transactional id gets a fresh producer id with epoch 0 (the v3+ producer id and epoch
// fields are ignored, as in Kafka). Otherwise: an empty id is INVALID_REQUEST; a timeout ≤ 0 or
// above Config.MaxTimeout is INVALID_TRANSACTION_TIMEOUT; a v3+ request must give both the
// producer id and epoch or neither (INVALID_REQUEST). An unknown id gets a new producer id,
// epoch 0, state Empty. A known id: given producer id/epoch (KIP-360) must be the current ones,
// or the previous ones of a bump the client never heard about, else PRODUCER_FENCED
// (INVALID_PRODUCER_EPOCH below v4, KIP-588). Prepare* answers CONCURRENT_TRANSACTIONS. An
// Ongoing transaction is aborted with a fencing epoch bump first (Kafka answers
// CONCURRENT_TRANSACTIONS at that point and bumps again on the retry; we finish the abort
// synchronously and go on). Then the epoch is bumped, or, when it is exhausted
// (≥ MaxInt16-1), a new producer id with epoch 0 replaces it; the state becomes Empty with the
// new timeout.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// producerIDAndEpoch is the producer a KIP-360 request claims to be.
type producerIDAndEpoch struct {
	pid   int64
	epoch int16
}

// InitProducerID handles InitProducerId.
func (c *Coordinator) InitProducerID(ctx context.Context, version int16, req *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.Version = version
	resp.ProducerID, resp.ProducerEpoch = noPID, noEpoch
	pid, epoch, perr := c.initProducerID(ctx, version, req)
	if perr != nil {
		if version < 4 && perr == kerr.ProducerFenced {
			perr = kerr.InvalidProducerEpoch
		}
		resp.ErrorCode = perr.Code
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = pid, epoch
	return resp
}

func (c *Coordinator) initProducerID(ctx context.Context, version int16, req *kmsg.InitProducerIDRequest) (int64, int16, *kerr.Error) {
	if perr := c.readyErr(); perr != nil {
		return noPID, noEpoch, perr
	}
	if req.TransactionalID == nil {
		pid, err := c.allocPID(ctx)
		if err != nil {
			c.log.Warn("txn: cannot allocate a producer id", "err", err)
			return noPID, noEpoch, storeErr(err)
		}
		return pid, 0, nil
	}
	id := *req.TransactionalID
	if id == "" {
		return noPID, noEpoch, kerr.InvalidRequest
	}
	timeout := req.TransactionTimeoutMillis
	if timeout <= 0 || time.Duration(timeout)*time.Millisecond > c.cfg.MaxTimeout {
		return noPID, noEpoch, kerr.InvalidTransactionTimeout
	}
	var expected *producerIDAndEpoch
	if version >= 3 {
		switch {
		case req.ProducerID == noPID && req.ProducerEpoch == noEpoch:
		case req.ProducerID == noPID || req.ProducerEpoch == noEpoch:
			return noPID, noEpoch, kerr.InvalidRequest
		default:
			expected = &producerIDAndEpoch{req.ProducerID, req.ProducerEpoch}
		}
	}

	e, err := c.lockEntry(ctx, id, true)
	if err != nil {
		return noPID, noEpoch, kerr.ConcurrentTransactions
	}
	defer c.unlock(e)
	st := c.state(e)
	if expected != nil && !validExpected(st, *expected) {
		return noPID, noEpoch, kerr.ProducerFenced
	}
	switch {
	case st.State.preparing():
		return noPID, noEpoch, kerr.ConcurrentTransactions
	case st.State == Ongoing:
		// Only the current producer may abort its own transaction through a KIP-360 re-init; an
		// older one is already fenced and must not disturb the new producer's transaction.
		if expected != nil && (expected.pid != st.PID || expected.epoch != st.Epoch) {
			return noPID, noEpoch, kerr.ProducerFenced
		}
		c.log.Info("txn: aborting the open transaction of a re-initialized producer",
			"transactional_id", id, "producer_id", st.PID, "producer_epoch", st.Epoch)
		done, perr := c.fenceAbort(ctx, e, st)
		if perr != nil {
			return noPID, noEpoch, perr
		}
		st = done
		if expected != nil {
			expected.epoch = st.Epoch
		}
	}
	next, perr := c.bumpForInit(ctx, st, expected)
	if perr != nil {
		return noPID, noEpoch, perr
	}
	next.TimeoutMs = timeout
	next.State = Empty
	next.Partitions, next.Groups = nil, nil
	next.StartMs, next.UpdateMs = -1, c.nowMs()
	next.NextPID, next.TV2 = noPID, false
	if err := c.persist(ctx, e, next); err != nil {
		c.log.Warn("txn: cannot persist InitProducerId", "transactional_id", id, "err", err)
		return noPID, noEpoch, storeErr(err)
	}
	return next.PID, next.Epoch, nil
}

// validExpected is Kafka's isValidProducerId: the producer a KIP-360 request names is the
// current one, or the id is fresh, or it is the previous producer id retrying after the
// exhausted epoch made us switch ids.
func validExpected(st txnState, exp producerIDAndEpoch) bool {
	return st.Epoch == noEpoch || exp.pid == st.PID ||
		(exp.pid == st.LastPID && epochExhausted(exp.epoch))
}

// bumpForInit returns st with the producer id and epoch InitProducerId hands out (Kafka's
// prepareIncrementProducerEpoch and prepareProducerIdRotation).
func (c *Coordinator) bumpForInit(ctx context.Context, st txnState, exp *producerIDAndEpoch) (txnState, *kerr.Error) {
	rotate := func(lastEpoch int16) (txnState, *kerr.Error) {
		pid, err := c.allocPID(ctx)
		if err != nil {
			c.log.Warn("txn: cannot allocate a producer id", "err", err)
			return txnState{}, storeErr(err)
		}
		if st.PID >= 0 {
			st.LastPID = st.PID
		}
		st.PID, st.Epoch, st.LastEpoch = pid, 0, lastEpoch
		return st, nil
	}
	switch {
	case st.Epoch == noEpoch: // a new transactional id
		return rotate(noEpoch)
	case exp == nil:
		if epochExhausted(st.Epoch) {
			return rotate(noEpoch)
		}
		st.Epoch, st.LastEpoch = st.Epoch+1, noEpoch
		return st, nil
	case exp.pid == st.PID && exp.epoch == st.Epoch:
		if epochExhausted(st.Epoch) {
			return rotate(st.Epoch)
		}
		st.Epoch, st.LastEpoch = st.Epoch+1, st.Epoch
		return st, nil
	case exp.epoch == st.LastEpoch && exp.pid == st.lastEpochPID():
		// A retry of a bump whose answer the producer lost: hand out the same epoch again.
		return st, nil
	}
	return txnState{}, kerr.ProducerFenced
}
