package group

// Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, TxnOffsetCommit and the
// completion of transactional offsets, and offset expiry.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
)

// OffsetCommit serves OffsetCommit v0–v9, answering once the offsets are durable.
func (c *Coordinator) OffsetCommit(ctx context.Context, version int16, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	wait, code := c.offsetCommit(version, req, resp)
	if code == 0 && wait != nil {
		if err := wait(ctx); err != nil {
			code = kerr.CoordinatorNotAvailable.Code
			if ctx.Err() != nil {
				code = kerr.RequestTimedOut.Code
			}
		}
	}
	if code != 0 {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		}
	}
	return resp
}

// offsetCommit validates the commit and applies it; the returned wait makes it durable.
func (c *Coordinator) offsetCommit(version int16, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse) (func(context.Context) error, int16) {
	for _, rt := range req.Topics {
		out := kmsg.OffsetCommitResponseTopic{Topic: rt.Topic}
		for _, rp := range rt.Partitions {
			out.Partitions = append(out.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: rp.Partition})
		}
		resp.Topics = append(resp.Topics, out)
	}
	if req.Group == "" {
		return nil, kerr.InvalidGroupID.Code
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, notCoordinator
	}
	g := c.groups[req.Group]
	if code := c.validateCommit(g, version, req); code != 0 {
		return nil, code
	}
	if g == nil {
		g = c.getGroup(req.Group, true) // a "simple" commit creates an empty group
	}
	now := c.cfg.Now().UnixMilli()
	expire := int64(-1)
	if version >= 2 && version <= 4 && req.RetentionTimeMillis > 0 {
		expire = now + req.RetentionTimeMillis
	}
	var entries []coordlog.Entry
	for i, rt := range req.Topics {
		_, parts, known := c.topics.Partitions(rt.Topic)
		for j, rp := range rt.Partitions {
			op := &resp.Topics[i].Partitions[j]
			if op.ErrorCode = c.checkCommit(known, parts, rp.Partition, rp.Metadata); op.ErrorCode != 0 {
				continue
			}
			tp := topicPartition{rt.Topic, rp.Partition}
			o := offset{Offset: rp.Offset, LeaderEpoch: -1, Metadata: strOrEmpty(rp.Metadata), CommitMs: now, ExpireMs: expire}
			if version >= 6 {
				o.LeaderEpoch = rp.LeaderEpoch
			}
			g.offsets[tp] = o
			value, _ := jsonMarshal(o)
			entries = append(entries, coordlog.Entry{Key: offsetKey(g.id, tp), Value: value})
		}
	}
	return c.write(entries...), 0
}

// checkCommit is the per-partition check of OffsetCommit and TxnOffsetCommit: the partition
// must exist and the metadata fit offset.metadata.max.bytes.
func (c *Coordinator) checkCommit(known bool, partitions, partition int32, metadata *string) int16 {
	switch {
	case !known || partition < 0 || partition >= partitions:
		return kerr.UnknownTopicOrPartition.Code
	case metadata != nil && len(*metadata) > c.cfg.MaxMetadataBytes:
		return kerr.OffsetMetadataTooLarge.Code
	}
	return 0
}

// validateCommit applies Kafka's member and generation checks (ClassicGroup and ConsumerGroup
// validateOffsetCommit); mu is held.
func (c *Coordinator) validateCommit(g *group, version int16, req *kmsg.OffsetCommitRequest) int16 {
	simple := req.Generation < 0 && req.MemberID == ""
	if g == nil && c.cfg.OtherGroup(req.Group) {
		return kerr.GroupIDNotFound.Code // a share group holds the id: it has no committed offsets
	}
	if g == nil {
		switch {
		case simple:
			return 0
		case version >= 9:
			return kerr.GroupIDNotFound.Code
		default:
			return kerr.IllegalGeneration.Code
		}
	}
	if g.consumer != nil && len(g.consumer.members) > 0 {
		return c.validateConsumerCommit(g, version, req.MemberID, req.Generation)
	}
	cg := g.classic
	if simple {
		if cg != nil && len(cg.members) > 0 {
			// Kafka: an admin commit to a group with members is refused.
			return kerr.UnknownMemberID.Code
		}
		return 0
	}
	if cg == nil || len(cg.members) == 0 {
		return kerr.UnknownMemberID.Code
	}
	if code := cg.checkMember(req.MemberID, strOrEmpty(req.InstanceID)); code != 0 {
		return code
	}
	if req.Generation != cg.generation {
		return kerr.IllegalGeneration.Code
	}
	if cg.state == stateCompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	c.armSession(g, cg.members[req.MemberID])
	return 0
}

// OffsetFetch serves OffsetFetch: one group (v0–v7) or several (v8+).
func (c *Coordinator) OffsetFetch(version int16, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if version < 8 {
		var topics []kmsg.OffsetFetchRequestGroupTopic
		for _, t := range req.Topics {
			topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
		if req.Topics == nil && version >= 2 {
			topics = nil
		}
		out := c.fetchGroup(version, kmsg.OffsetFetchRequestGroup{Group: req.Group, Topics: topics}, req.RequireStable, req.Topics == nil && version >= 2)
		resp.ErrorCode = out.ErrorCode
		for _, t := range out.Topics {
			rt := kmsg.OffsetFetchResponseTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetFetchResponseTopicPartition{Partition: p.Partition,
					Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata, ErrorCode: p.ErrorCode})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, rg := range req.Groups {
		resp.Groups = append(resp.Groups, c.fetchGroup(version, rg, req.RequireStable, rg.Topics == nil))
	}
	return resp
}

func (c *Coordinator) fetchGroup(version int16, rg kmsg.OffsetFetchRequestGroup, requireStable, all bool) kmsg.OffsetFetchResponseGroup {
	out := kmsg.OffsetFetchResponseGroup{Group: rg.Group}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		out.ErrorCode = notCoordinator
		return out
	}
	g := c.groups[rg.Group]
	if g != nil && version >= 9 && rg.MemberID != nil && g.consumer != nil {
		if code := c.validateConsumerFetch(g, *rg.MemberID, rg.MemberEpoch); code != 0 {
			out.ErrorCode = code
			return out
		}
	}
	pending := func(tp topicPartition) bool {
		if g == nil {
			return false
		}
		for _, offs := range g.pendingTxn {
			if _, ok := offs[tp]; ok {
				return true
			}
		}
		return false
	}
	answer := func(tp topicPartition) kmsg.OffsetFetchResponseGroupTopicPartition {
		p := kmsg.OffsetFetchResponseGroupTopicPartition{Partition: tp.partition, Offset: -1, LeaderEpoch: -1, Metadata: kmsg.StringPtr("")}
		if requireStable && pending(tp) {
			p.ErrorCode = kerr.UnstableOffsetCommit.Code
			return p
		}
		if g != nil {
			if o, ok := g.offsets[tp]; ok {
				p.Offset, p.LeaderEpoch, p.Metadata = o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
			}
		}
		return p
	}
	if all {
		if g == nil {
			return out
		}
		byTopic := make(map[string]int)
		for _, tp := range sortedPartitions(g.offsets) {
			i, ok := byTopic[tp.topic]
			if !ok {
				i = len(out.Topics)
				byTopic[tp.topic] = i
				out.Topics = append(out.Topics, kmsg.OffsetFetchResponseGroupTopic{Topic: tp.topic})
			}
			out.Topics[i].Partitions = append(out.Topics[i].Partitions, answer(tp))
		}
		return out
	}
	for _, t := range rg.Topics {
		rt := kmsg.OffsetFetchResponseGroupTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, answer(topicPartition{t.Topic, p}))
		}
		out.Topics = append(out.Topics, rt)
	}
	return out
}

// OffsetDelete serves OffsetDelete: offsets of topics the group is not subscribed to.
func (c *Coordinator) OffsetDelete(ctx context.Context, version int16, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	wait := func(context.Context) error { return nil }
	func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		g := c.groups[req.Group]
		switch {
		case c.closed:
			resp.ErrorCode = notCoordinator
			return
		case req.Group == "":
			resp.ErrorCode = kerr.InvalidGroupID.Code
			return
		case g == nil:
			resp.ErrorCode = kerr.GroupIDNotFound.Code
			return
		case g.classic != nil && len(g.classic.members) > 0 && g.classic.protocolType != "consumer":
			resp.ErrorCode = kerr.NonEmptyGroup.Code
			return
		}
		subscribed := c.subscribedTopics(g)
		var entries []coordlog.Entry
		for _, rt := range req.Topics {
			out := kmsg.OffsetDeleteResponseTopic{Topic: rt.Topic}
			for _, rp := range rt.Partitions {
				op := kmsg.OffsetDeleteResponseTopicPartition{Partition: rp.Partition}
				if subscribed[rt.Topic] {
					op.ErrorCode = kerr.GroupSubscribedToTopic.Code
				} else {
					tp := topicPartition{rt.Topic, rp.Partition}
					if _, ok := g.offsets[tp]; ok {
						delete(g.offsets, tp)
						entries = append(entries, coordlog.Entry{Key: offsetKey(g.id, tp)})
					}
				}
				out.Partitions = append(out.Partitions, op)
			}
			resp.Topics = append(resp.Topics, out)
		}
		wait = c.write(entries...)
	}()
	if err := wait(ctx); err != nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	}
	return resp
}

// subscribedTopics lists the topics the group's members subscribe to; mu is held.
func (c *Coordinator) subscribedTopics(g *group) map[string]bool {
	out := make(map[string]bool)
	if cg := g.classic; cg != nil && cg.protocolType == "consumer" {
		for _, m := range cg.members {
			var meta kmsg.ConsumerMemberMetadata
			if err := meta.ReadFrom(m.metadataFor(cg.protocol)); err == nil {
				for _, t := range meta.Topics {
					out[t] = true
				}
			}
		}
	}
	if g.consumer != nil {
		for _, m := range g.consumer.members {
			for _, t := range c.consumerTopics(m) {
				out[t] = true
			}
		}
	}
	return out
}

// TxnOffsetCommit stores offsets as pending for the producer until its transaction ends.
func (c *Coordinator) TxnOffsetCommit(ctx context.Context, version int16, req *kmsg.TxnOffsetCommitRequest) *kmsg.TxnOffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	for _, rt := range req.Topics {
		out := kmsg.TxnOffsetCommitResponseTopic{Topic: rt.Topic}
		for _, rp := range rt.Partitions {
			out.Partitions = append(out.Partitions, kmsg.TxnOffsetCommitResponseTopicPartition{Partition: rp.Partition})
		}
		resp.Topics = append(resp.Topics, out)
	}
	setAll := func(code int16) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		}
	}
	wait, code := c.txnOffsetCommit(version, req, resp)
	if code == 0 {
		if err := wait(ctx); err != nil {
			code = kerr.CoordinatorNotAvailable.Code
		}
	}
	if code != 0 {
		setAll(code)
	}
	return resp
}

func (c *Coordinator) txnOffsetCommit(version int16, req *kmsg.TxnOffsetCommitRequest, resp *kmsg.TxnOffsetCommitResponse) (func(context.Context) error, int16) {
	if req.Group == "" {
		return nil, kerr.InvalidGroupID.Code
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, notCoordinator
	}
	g := c.groups[req.Group]
	if version >= 3 && req.Generation >= 0 && req.MemberID != "" {
		// KIP-447: the producer names its consumer's generation, so a zombie is fenced.
		switch {
		case g == nil:
			return nil, kerr.IllegalGeneration.Code
		case g.consumer != nil && len(g.consumer.members) > 0:
			if code := c.validateConsumerCommit(g, 9, req.MemberID, req.Generation); code != 0 {
				return nil, code
			}
		case g.classic != nil:
			if code := g.classic.checkMember(req.MemberID, strOrEmpty(req.InstanceID)); code != 0 {
				return nil, code
			}
			if req.Generation != g.classic.generation {
				return nil, kerr.IllegalGeneration.Code
			}
		}
	}
	if g == nil {
		g = c.getGroup(req.Group, true)
	}
	now := c.cfg.Now().UnixMilli()
	var entries []coordlog.Entry
	for i, rt := range req.Topics {
		_, parts, known := c.topics.Partitions(rt.Topic)
		for j, rp := range rt.Partitions {
			op := &resp.Topics[i].Partitions[j]
			if op.ErrorCode = c.checkCommit(known, parts, rp.Partition, rp.Metadata); op.ErrorCode != 0 {
				continue
			}
			tp := topicPartition{rt.Topic, rp.Partition}
			o := offset{Offset: rp.Offset, LeaderEpoch: -1, Metadata: strOrEmpty(rp.Metadata), CommitMs: now, ExpireMs: -1}
			if version >= 2 {
				o.LeaderEpoch = rp.LeaderEpoch
			}
			if g.pendingTxn[req.ProducerID] == nil {
				g.pendingTxn[req.ProducerID] = make(map[topicPartition]offset)
			}
			g.pendingTxn[req.ProducerID][tp] = o
			value, _ := jsonMarshal(o)
			entries = append(entries, coordlog.Entry{Key: txnOffsetKey(g.id, req.ProducerID, tp), Value: value})
		}
	}
	return c.write(entries...), 0
}

// CompleteTxn ends a producer's transaction in a group: its pending offsets become committed
// (commit) or are dropped (abort), in one durable journal write. The transaction coordinator
// calls it after writing the partitions' markers.
func (c *Coordinator) CompleteTxn(ctx context.Context, groupID string, pid int64, commit bool) error {
	wait := func() func(context.Context) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		g := c.groups[groupID]
		if g == nil || len(g.pendingTxn[pid]) == 0 {
			return nil
		}
		var entries []coordlog.Entry
		for _, tp := range sortedPartitions(g.pendingTxn[pid]) {
			o := g.pendingTxn[pid][tp]
			entries = append(entries, coordlog.Entry{Key: txnOffsetKey(g.id, pid, tp)})
			if commit {
				g.offsets[tp] = o
				value, _ := jsonMarshal(o)
				entries = append(entries, coordlog.Entry{Key: offsetKey(g.id, tp), Value: value})
			}
		}
		delete(g.pendingTxn, pid)
		return c.write(entries...)
	}()
	if wait == nil {
		return nil
	}
	return wait(ctx)
}

// DeleteTopicOffsets removes every group's committed and pending offsets of the given topics
// (the broker calls it when topics are deleted, and at start for topics that no longer exist).
func (c *Coordinator) DeleteTopicOffsets(ctx context.Context, topics ...string) {
	gone := make(map[string]bool, len(topics))
	for _, t := range topics {
		gone[t] = true
	}
	c.mu.Lock()
	var entries []coordlog.Entry
	for id, g := range c.groups {
		for tp := range g.offsets {
			if gone[tp.topic] {
				delete(g.offsets, tp)
				entries = append(entries, coordlog.Entry{Key: offsetKey(id, tp)})
			}
		}
		for pid, offs := range g.pendingTxn {
			for tp := range offs {
				if gone[tp.topic] {
					delete(offs, tp)
					entries = append(entries, coordlog.Entry{Key: txnOffsetKey(id, pid, tp)})
				}
			}
		}
	}
	wait := c.write(entries...)
	c.mu.Unlock()
	if err := wait(ctx); err != nil {
		c.logger.Error("offsets of deleted topics not removed from the journal", "topics", topics, "err", err)
	}
}

// CommittedTopics lists the topics any group holds offsets for.
func (c *Coordinator) CommittedTopics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[string]bool)
	var out []string
	for _, g := range c.groups {
		for tp := range g.offsets {
			if !seen[tp.topic] {
				seen[tp.topic] = true
				out = append(out, tp.topic)
			}
		}
		for _, offs := range g.pendingTxn {
			for tp := range offs {
				if !seen[tp.topic] {
					seen[tp.topic] = true
					out = append(out, tp.topic)
				}
			}
		}
	}
	return out
}

// ExpireOffsets deletes the offsets of empty groups older than offsets.retention.minutes (or
// their explicit expiry), and groups left with nothing, as Kafka's cleanupGroupMetadata does.
func (c *Coordinator) ExpireOffsets() {
	c.mu.Lock()
	now := c.cfg.Now()
	var entries []coordlog.Entry
	for id, g := range c.groups {
		if !g.isEmpty() {
			continue
		}
		for tp, o := range g.offsets {
			expired := o.ExpireMs >= 0 && now.UnixMilli() >= o.ExpireMs
			if o.ExpireMs < 0 {
				base := max(o.CommitMs, g.emptySince.UnixMilli())
				expired = now.Sub(time.UnixMilli(base)) >= c.cfg.OffsetsRetention
			}
			if expired {
				delete(g.offsets, tp)
				entries = append(entries, coordlog.Entry{Key: offsetKey(id, tp)})
			}
		}
		if len(g.offsets) == 0 && len(g.pendingTxn) == 0 {
			c.shutdownGroup(g)
			delete(c.groups, id)
			entries = append(entries, coordlog.Entry{Key: jsonKey(groupPrefix, id)})
			c.logger.Info("group expired", "group", id)
		}
	}
	wait := c.write(entries...)
	c.mu.Unlock()
	if err := wait(context.Background()); err != nil {
		c.logger.Error("offset expiry not persisted", "err", err)
	}
}
