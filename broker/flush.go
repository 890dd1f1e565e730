package broker

import (
	"context"
	"math"
	"sync"
	"time"
)

// Kafka's flush knobs. By default an acks=all produce waits for its own fsync (group commit), so
// these only matter for data written with acks=0 or acks=1, or with bulwark.log.flush.acks.all
// turned off: flush.messages starts an fsync once that many messages are unflushed, and flush.ms
// once the oldest unflushed data is that old. Both default to never, as in Kafka.

// flushCheckInterval is how often the flush.ms check runs. It bounds how late a time-based flush
// can be, and costs one pass over the partitions.
const flushCheckInterval = 100 * time.Millisecond

// maybeFlushByCount starts a background fsync when a partition holds flush.messages or more
// unflushed messages. The log coalesces concurrent syncs, so a burst costs one fsync.
func (s *Server) maybeFlushByCount(t *topic, p *partition, end int64) {
	n := t.cfg.FlushMessages
	if n <= 0 || n == math.MaxInt64 || end-p.log.FlushedOffset() < n {
		return
	}
	go func() {
		if err := p.log.Sync(s.ctx, end); err != nil && s.ctx.Err() == nil {
			s.logger.Error("flush failed", "topic", p.topicName, "partition", p.index, "err", err)
		}
	}()
}

// flushLoop applies flush.ms: every flushCheckInterval it fsyncs partitions whose unflushed data
// has waited longer than their topic's flush.ms.
func (c *cluster) flushLoop(ctx context.Context, wg *sync.WaitGroup) {
	dirtySince := map[*partition]time.Time{}
	c.runEvery(ctx, wg, flushCheckInterval, func(now time.Time) { c.flushAged(ctx, now, dirtySince) })
}

func (c *cluster) flushAged(ctx context.Context, now time.Time, dirtySince map[*partition]time.Time) {
	seen := make(map[*partition]bool, len(dirtySince))
	for _, t := range c.allTopics() {
		ms := t.cfg.FlushMs
		if ms <= 0 || ms == math.MaxInt64 {
			continue
		}
		for _, p := range t.partitions {
			end := p.log.LogEndOffset()
			if p.log.FlushedOffset() >= end {
				continue
			}
			seen[p] = true
			since, ok := dirtySince[p]
			if !ok {
				dirtySince[p] = now
				continue
			}
			if now.Sub(since) >= time.Duration(ms)*time.Millisecond {
				delete(dirtySince, p)
				if err := p.log.Sync(ctx, end); err != nil && ctx.Err() == nil {
					c.logger.Error("flush failed", "topic", p.topicName, "partition", p.index, "err", err)
				}
			}
		}
	}
	for p := range dirtySince {
		if !seen[p] {
			delete(dirtySince, p)
		}
	}
}
