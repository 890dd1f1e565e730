package share

// The share-group offset admin APIs: DescribeShareGroupOffsets, AlterShareGroupOffsets and
// DeleteShareGroupOffsets (KIP-932). A share group's "offset" for a partition is its SPSO.

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
)

// DescribeOffsets serves one group of DescribeShareGroupOffsets: the SPSO of each partition
// asked for (all the group has state for when Topics is null), -1 where it has none, and (v1)
// the lag: records from the SPSO to the high watermark not yet acknowledged or archived.
func (c *Coordinator) DescribeOffsets(rg kmsg.DescribeShareGroupOffsetsRequestGroup) kmsg.DescribeShareGroupOffsetsResponseGroup {
	out := kmsg.DescribeShareGroupOffsetsResponseGroup{GroupID: rg.GroupID}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		out.ErrorCode = kerr.NotCoordinator.Code
		return out
	}
	if c.groups[rg.GroupID] == nil {
		out.ErrorCode, out.ErrorMessage = kerr.GroupIDNotFound.Code, kmsg.StringPtr("Group "+rg.GroupID+" not found.")
		return out
	}
	topics := rg.Topics
	if topics == nil { // every partition the group has state for
		byTopic := map[string][]int32{}
		for k := range c.byGroup[rg.GroupID] {
			byTopic[k.topic] = append(byTopic[k.topic], k.partition)
		}
		for t, ps := range byTopic {
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			topics = append(topics, kmsg.DescribeShareGroupOffsetsRequestGroupTopic{Topic: t, Partitions: ps})
		}
		sort.Slice(topics, func(i, j int) bool { return topics[i].Topic < topics[j].Topic })
	}
	for _, rt := range topics {
		ot := kmsg.DescribeShareGroupOffsetsResponseGroupTopic{Topic: rt.Topic}
		tid, n, known := c.logs.Partitions(rt.Topic)
		ot.TopicID = tid
		for _, part := range rt.Partitions {
			op := kmsg.DescribeShareGroupOffsetsResponseGroupTopicPartition{Partition: part, StartOffset: -1, LeaderEpoch: -1, Lag: -1}
			switch p := c.parts[partKey{rg.GroupID, rt.Topic, part}]; {
			case !known || part < 0 || part >= n:
				op.ErrorCode, op.ErrorMessage = kerr.UnknownTopicOrPartition.Code, kmsg.StringPtr("This server does not host this topic-partition.")
			case p != nil:
				p.mu.Lock()
				op.StartOffset, op.LeaderEpoch = p.start, 0
				if b, ok := c.logs.Bounds(rt.Topic, part); ok {
					// Records retention removed count neither as the start nor as lag.
					op.StartOffset = max(p.start, b.Start)
					done := 0
					for i, r := range p.recs {
						if p.start+int64(i) >= op.StartOffset && (r.state == acknowledged || r.state == archived) {
							done++
						}
					}
					op.Lag = max(b.HighWatermark-op.StartOffset-int64(done), 0)
				}
				p.mu.Unlock()
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		out.Topics = append(out.Topics, ot)
	}
	return out
}

// AlterOffsets serves AlterShareGroupOffsets: the group must have no members; each partition's
// state starts over at the offset given (in-flight records forgotten).
func (c *Coordinator) AlterOffsets(ctx context.Context, req *kmsg.AlterShareGroupOffsetsRequest, resp *kmsg.AlterShareGroupOffsetsResponse) {
	other := c.cfg.OtherGroup(req.GroupID)
	c.mu.Lock()
	g := c.groups[req.GroupID]
	if code, msg := c.checkEmptyLocked(req.GroupID, g, other); code != 0 {
		c.mu.Unlock()
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		return
	}
	if g == nil { // Kafka creates the group: altering offsets is how a group's start is set
		g = c.newGroupLocked(req.GroupID)
	}
	var entries []coordlog.Entry
	for _, rt := range req.Topics {
		ot := kmsg.AlterShareGroupOffsetsResponseTopic{Topic: rt.Topic}
		tid, n, known := c.logs.Partitions(rt.Topic)
		ot.TopicID = tid
		for _, rp := range rt.Partitions {
			op := kmsg.AlterShareGroupOffsetsResponseTopicPartition{Partition: rp.Partition}
			b, ok := c.logs.Bounds(rt.Topic, rp.Partition)
			switch {
			case !known || rp.Partition < 0 || rp.Partition >= n || !ok:
				op.ErrorCode, op.ErrorMessage = kerr.UnknownTopicOrPartition.Code, kmsg.StringPtr("This server does not host this topic-partition.")
			case rp.StartOffset < -1:
				op.ErrorCode, op.ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr("The start offset must be -1 (latest) or an offset.")
			default:
				start := rp.StartOffset
				if start == -1 || start > b.HighWatermark {
					start = b.HighWatermark
				}
				start = max(start, b.Start)
				k := partKey{req.GroupID, rt.Topic, rp.Partition}
				p := &partition{group: k.group, topic: k.topic, index: k.partition, start: start}
				c.putPartLocked(k, p)
				entries = append(entries, partitionEntry(p))
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	wait := chain(c.write(entries...), c.persistGroup(g))
	c.mu.Unlock()
	if err := wait(ctx); err != nil {
		resp.ErrorCode, resp.ErrorMessage = kerr.CoordinatorNotAvailable.Code, kmsg.StringPtr("the new offsets could not be written")
	}
}

// DeleteOffsets serves DeleteShareGroupOffsets: the group must have no members; the state of
// every partition of the topics named is removed.
func (c *Coordinator) DeleteOffsets(ctx context.Context, req *kmsg.DeleteShareGroupOffsetsRequest, resp *kmsg.DeleteShareGroupOffsetsResponse) {
	c.mu.Lock()
	g := c.groups[req.GroupID]
	if g == nil {
		c.mu.Unlock()
		resp.ErrorCode, resp.ErrorMessage = kerr.GroupIDNotFound.Code, kmsg.StringPtr("Group "+req.GroupID+" not found.")
		return
	}
	if code, msg := c.checkEmptyLocked(req.GroupID, g, false); code != 0 {
		c.mu.Unlock()
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		return
	}
	var entries []coordlog.Entry
	for _, rt := range req.Topics {
		ot := kmsg.DeleteShareGroupOffsetsResponseTopic{Topic: rt.Topic}
		tid, _, known := c.logs.Partitions(rt.Topic)
		ot.TopicID = tid
		if !known {
			ot.ErrorCode, ot.ErrorMessage = kerr.UnknownTopicOrPartition.Code, kmsg.StringPtr("This server does not host this topic.")
		}
		for k := range c.byGroup[req.GroupID] {
			if k.topic == rt.Topic {
				c.dropPartLocked(k)
				entries = append(entries, coordlog.Entry{Key: partitionKey(k)})
			}
		}
		resp.Topics = append(resp.Topics, ot)
	}
	wait := c.write(entries...)
	c.mu.Unlock()
	if err := wait(ctx); err != nil {
		resp.ErrorCode, resp.ErrorMessage = kerr.CoordinatorNotAvailable.Code, kmsg.StringPtr("the change could not be written")
	}
}

// checkEmptyLocked refuses offset changes to a group with members, or to an id another kind of
// group holds.
func (c *Coordinator) checkEmptyLocked(id string, g *group, other bool) (int16, string) {
	switch {
	case c.closed:
		return kerr.NotCoordinator.Code, "the coordinator is shutting down"
	case g == nil && other:
		return kerr.GroupIDNotFound.Code, "Group " + id + " is not a share group."
	case g != nil && len(g.members) > 0:
		return kerr.NonEmptyGroup.Code, "The group is not empty: stop its members first."
	}
	return 0, ""
}
