package txn

import (
	"context"
	"errors"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
)

// prepareAndComplete ends a transaction: it persists prep (PrepareCommit or PrepareAbort, with
// the epoch the markers carry already set), writes the markers and completes the groups, and
// persists Complete*. It returns the completed state. If the completion fails after Prepare*
// is durable, the transaction stays in Prepare* for the background loop to finish, and the
// caller gets CONCURRENT_TRANSACTIONS (what Kafka answers while markers are pending). The
// caller holds e's operation lock.
func (c *Coordinator) prepareAndComplete(ctx context.Context, e *entry, prep txnState) (txnState, *kerr.Error) {
	if err := c.persist(ctx, e, prep); err != nil {
		c.log.Warn("txn: cannot persist prepare", "transactional_id", e.id, "state", prep.State, "err", err)
		return txnState{}, storeErr(err)
	}
	if h := c.hookAfterPrepare; h != nil {
		if err := h(e.id); err != nil {
			return txnState{}, kerr.ConcurrentTransactions
		}
	}
	done, err := c.complete(ctx, e, prep)
	if err != nil {
		c.log.Warn("txn: cannot complete transaction; will retry", "transactional_id", e.id,
			"state", prep.State, "err", err)
		return txnState{}, kerr.ConcurrentTransactions
	}
	return done, nil
}

// complete finishes a transaction in Prepare*: markers to every partition (a partition that no
// longer exists is skipped), CompleteTxn for every group, then Complete* persisted with the
// partitions and groups cleared. For a transaction-version-2 end that exhausted the epoch the
// producer id switches to NextPID with epoch 0, remembering the old id and the last epoch the
// client saw. The caller holds e's operation lock.
func (c *Coordinator) complete(ctx context.Context, e *entry, st txnState) (txnState, error) {
	commit := st.State == PrepareCommit
	for _, p := range st.Partitions {
		err := c.markers.WriteMarker(ctx, p, st.PID, st.Epoch, commit, coordinatorEpoch)
		if errors.Is(err, ErrUnknownPartition) {
			c.log.Info("txn: skipping marker for a deleted partition", "transactional_id", e.id,
				"topic", p.Topic, "partition", p.Partition)
			continue
		}
		if err != nil {
			return txnState{}, err
		}
	}
	for _, g := range st.Groups {
		if err := c.groups.CompleteTxn(ctx, g, st.PID, commit); err != nil {
			return txnState{}, err
		}
	}
	done := st
	done.State = CompleteAbort
	if commit {
		done.State = CompleteCommit
	}
	done.Partitions, done.Groups = nil, nil
	done.UpdateMs = c.nowMs()
	if st.TV2 && st.NextPID >= 0 {
		done.LastPID, done.PID, done.Epoch = st.PID, st.NextPID, 0
	}
	done.NextPID, done.TV2 = noPID, false
	if err := c.persist(ctx, e, done); err != nil {
		return txnState{}, err
	}
	return done, nil
}

// fenceAbort aborts st's open transaction on the coordinator's own initiative (timeout or
// InitProducerId): the epoch is bumped so that the current producer is fenced, and the
// previous epoch is forgotten so that its requests are never taken for retries. The markers
// carry the bumped epoch. The caller holds e's operation lock.
func (c *Coordinator) fenceAbort(ctx context.Context, e *entry, st txnState) (txnState, *kerr.Error) {
	prep := st
	if prep.Epoch < math.MaxInt16 {
		prep.Epoch++
	}
	prep.LastEpoch = noEpoch
	prep.NextPID, prep.TV2 = noPID, false
	prep.State = PrepareAbort
	prep.UpdateMs = c.nowMs()
	return c.prepareAndComplete(ctx, e, prep)
}
