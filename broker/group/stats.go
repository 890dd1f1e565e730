package group

import (
	"sort"
	"sync/atomic"

	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// Rebalances counts completed rebalances: classic generations that completed a join, and
// consumer-protocol group epoch bumps (Kafka's group-completed-rebalance-count and
// consumer-group-rebalance-count).
type Rebalances struct {
	Classic, Consumer atomic.Uint64
}

// Snapshots returns every group with its committed offsets (transactional commits once their
// transaction commits), sorted by id, for the metrics. It holds the coordinator's lock while it
// copies, which takes time proportional to the number of committed offsets.
func (c *Coordinator) Snapshots() []stats.GroupView {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]stats.GroupView, 0, len(c.groups))
	for id, g := range c.groups {
		s := stats.GroupView{ID: id, State: g.stateName(), Type: g.groupType(), ProtocolType: g.protocolType(),
			Offsets: make([]stats.CommittedOffset, 0, len(g.offsets))}
		for tp, o := range g.offsets {
			s.Offsets = append(s.Offsets, stats.CommittedOffset{Topic: tp.topic, Partition: tp.partition, Offset: o.Offset})
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RebalanceCounts returns the rebalances completed since start.
func (c *Coordinator) RebalanceCounts() (classic, consumer uint64) {
	return c.rebalances.Classic.Load(), c.rebalances.Consumer.Load()
}
