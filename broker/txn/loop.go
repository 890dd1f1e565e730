package txn

import (
	"context"
	"time"
)

// loop is the background goroutine: every AbortCheckInterval it aborts timed-out transactions
// and retries unfinished completions; every ExpirationCheckInterval it deletes idle
// transactional ids. It exits when ctx ends, closing done.
func (c *Coordinator) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	abortTick := time.NewTicker(c.cfg.AbortCheckInterval)
	defer abortTick.Stop()
	expireTick := time.NewTicker(c.cfg.ExpirationCheckInterval)
	defer expireTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-abortTick.C:
			c.abortTimedOut(ctx)
			_ = c.completePending(ctx)
		case <-expireTick.C:
			c.expireIDs(ctx)
		}
	}
}

// idsWhere returns the ids of persisted entries whose state satisfies pred.
func (c *Coordinator) idsWhere(pred func(*txnState) bool) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id, e := range c.txns {
		if e.persisted && pred(&e.st) {
			ids = append(ids, id)
		}
	}
	return ids
}

// withEntry runs fn with id's operation lock held, if id still exists.
func (c *Coordinator) withEntry(ctx context.Context, id string, fn func(e *entry, st txnState)) error {
	e, err := c.lockEntry(ctx, id, false)
	if err != nil || e == nil {
		return err
	}
	defer c.unlock(e)
	if !e.persisted {
		return nil
	}
	fn(e, c.state(e))
	return nil
}

// completePending finishes every transaction left in Prepare*. A failure is logged and left
// for the next round; only ctx ending is returned.
func (c *Coordinator) completePending(ctx context.Context) error {
	for _, id := range c.idsWhere(func(st *txnState) bool { return st.State.preparing() }) {
		err := c.withEntry(ctx, id, func(e *entry, st txnState) {
			if !st.State.preparing() {
				return
			}
			if _, err := c.complete(ctx, e, st); err != nil {
				c.log.Warn("txn: cannot complete transaction; will retry", "transactional_id", id,
					"state", st.State, "err", err)
				return
			}
			c.log.Info("txn: completed a prepared transaction", "transactional_id", id, "state", st.State)
		})
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// timedOut reports an open transaction older than its timeout at nowMs (Kafka's
// txnStartTimestamp + txnTimeoutMs < now).
func timedOut(st *txnState, nowMs int64) bool {
	return st.State == Ongoing && st.StartMs+int64(st.TimeoutMs) < nowMs
}

// abortTimedOut aborts every timed-out transaction with a fencing epoch bump.
func (c *Coordinator) abortTimedOut(ctx context.Context) {
	now := c.nowMs()
	for _, id := range c.idsWhere(func(st *txnState) bool { return timedOut(st, now) }) {
		err := c.withEntry(ctx, id, func(e *entry, st txnState) {
			if !timedOut(&st, c.nowMs()) {
				return
			}
			c.log.Info("txn: aborting timed-out transaction", "transactional_id", id,
				"producer_id", st.PID, "producer_epoch", st.Epoch, "timeout_ms", st.TimeoutMs,
				"partitions", len(st.Partitions), "groups", len(st.Groups))
			if _, perr := c.fenceAbort(ctx, e, st); perr != nil {
				c.log.Warn("txn: cannot abort timed-out transaction", "transactional_id", id, "err", perr)
			}
		})
		if err != nil {
			return
		}
	}
}

// expired reports an idle id whose last transition is older than the expiration at nowMs
// (Kafka's txnLastUpdateTimestamp <= now - transactional.id.expiration.ms).
func (c *Coordinator) expired(st *txnState, nowMs int64) bool {
	return st.State.idle() && st.UpdateMs <= nowMs-c.cfg.IDExpiration.Milliseconds()
}

// expireIDs deletes every expired transactional id.
func (c *Coordinator) expireIDs(ctx context.Context) {
	now := c.nowMs()
	for _, id := range c.idsWhere(func(st *txnState) bool { return c.expired(st, now) }) {
		err := c.withEntry(ctx, id, func(e *entry, st txnState) {
			if !c.expired(&st, c.nowMs()) {
				return
			}
			if err := c.remove(ctx, e); err != nil {
				c.log.Warn("txn: cannot expire transactional id", "transactional_id", id, "err", err)
				return
			}
			c.log.Info("txn: expired transactional id", "transactional_id", id, "producer_id", st.PID)
		})
		if err != nil {
			return
		}
	}
}
