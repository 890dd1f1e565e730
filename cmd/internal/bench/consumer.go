package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"sort"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxClockSkew is how far in the future a send time may be and still be
// taken for one of ours when producer and consumer clocks differ.
const maxClockSkew = time.Second

// consumer reads its assigned partitions from fixed start offsets with no
// consumer group, so it works against brokers without group support.
type consumer struct {
	cl           *kgo.Client
	measureStart int64 // unix nanos; records sent earlier are warmup
	pollNow      int64 // receive time of the current poll; owned by run
	each         func(*kgo.Record)

	lat      Histogram    // end-to-end latency of measured records, ns
	total    atomic.Int64 // every record read, warmup included
	measured atomic.Int64 // records sent after warmup
	// worst is the largest end-to-end latency (ns) since the last progress line.
	worst    atomic.Int64
	errs     atomic.Int64
	firstErr atomic.Pointer[string]
}

// newConsumer wraps cl; the caller sets measureStart before starting run.
func newConsumer(cl *kgo.Client) *consumer {
	c := &consumer{cl: cl}
	c.each = c.onRecord // one method value for every poll
	return c
}

// assignPartitions splits partitions round-robin over n consumers, each
// starting at the given offset; consumers left without partitions are
// dropped.
func assignPartitions(topic string, starts map[int32]int64, n int) []map[string]map[int32]kgo.Offset {
	parts := make([]int32, 0, len(starts))
	for p := range starts {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	if n > len(parts) {
		n = len(parts)
	}
	out := make([]map[string]map[int32]kgo.Offset, n)
	for i := range out {
		out[i] = map[string]map[int32]kgo.Offset{topic: {}}
	}
	for i, p := range parts {
		out[i%n][topic][p] = kgo.NewOffset().At(starts[p])
	}
	return out
}

// run polls until ctx is done or the client is closed.
func (c *consumer) run(ctx context.Context) {
	for {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		// One clock read per poll: the records of a poll arrived together.
		c.pollNow = time.Now().UnixNano()
		fs.EachError(c.onError)
		fs.EachRecord(c.each)
	}
}

func (c *consumer) onError(_ string, _ int32, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		return
	}
	c.errs.Add(1)
	if c.firstErr.Load() == nil {
		msg := err.Error()
		c.firstErr.CompareAndSwap(nil, &msg)
	}
}

func (c *consumer) onRecord(r *kgo.Record) {
	c.total.Add(1)
	// Records from other writers to the same topic may be short; they are
	// counted but carry no timestamp to measure.
	if len(r.Value) < minRecordSize {
		return
	}
	sent := int64(binary.BigEndian.Uint64(r.Value))
	// A send time in the future cannot be ours (same host, or clocks within
	// the skew allowance): it is another writer's payload.
	if sent >= c.measureStart && sent <= c.pollNow+int64(maxClockSkew) {
		c.measured.Add(1)
		d := c.pollNow - sent
		c.lat.Record(d)
		if d > c.worst.Load() {
			c.worst.Store(d) // only run's goroutine writes it
		}
	}
}
