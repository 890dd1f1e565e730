package txn

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
)

// pidBlock is the journal value under ProducerIDKey: ids in [Start, End) are reserved.
type pidBlock struct {
	Version int16 `json:"version"`
	Start   int64 `json:"block_start"`
	End     int64 `json:"block_end"`
}

// NextProducerID allocates a producer id for an idempotent (non-transactional) producer.
func (c *Coordinator) NextProducerID(ctx context.Context) (int64, error) {
	if perr := c.readyErr(); perr != nil {
		return noPID, fmt.Errorf("%w: %s", ErrNotReady, perr.Message)
	}
	return c.allocPID(ctx)
}

// allocPID hands out the next producer id, reserving (durably) a new block first when the
// current one is used up.
func (c *Coordinator) allocPID(ctx context.Context) (int64, error) {
	select {
	case c.pidLock <- struct{}{}:
	case <-ctx.Done():
		return noPID, ctx.Err()
	}
	defer func() { <-c.pidLock }()
	if c.pidNext >= c.pidEnd {
		start := c.pidEnd
		if start > math.MaxInt64-c.cfg.ProducerIDBlockSize {
			return noPID, ErrProducerIDsExhausted
		}
		end := start + c.cfg.ProducerIDBlockSize
		val, _ := json.Marshal(pidBlock{Version: 1, Start: start, End: end})
		c.mu.Lock()
		store := c.store
		c.mu.Unlock()
		if store == nil {
			return noPID, ErrNotReady
		}
		if err := store.Write(ctx, coordlog.Entry{Key: []byte(ProducerIDKey), Value: val}); err != nil {
			// The block may be on disk after all: never hand out its ids.
			c.pidNext, c.pidEnd = end, end
			return noPID, fmt.Errorf("txn: reserve producer ids [%d, %d): %w", start, end, err)
		}
		c.pidNext, c.pidEnd = start, end
	}
	id := c.pidNext
	c.pidNext++
	return id, nil
}
