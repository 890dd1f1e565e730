package share

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
)

// assignorName is the only share-group assignor, Kafka's "simple".
const assignorName = "simple"

// group is one share group.
type group struct {
	id      string
	epoch   int32
	members map[string]*member
	// subscription summarizes the subscribed topics and their partition counts when the
	// assignment was computed, so a topic created, deleted or grown moves the group epoch.
	subscription string
}

// member is one share-group member.
type member struct {
	id, rack             string
	clientID, clientHost string
	topics               []string // subscribed topic names, sorted
	epoch, previousEpoch int32
	assigned             map[[16]byte][]int32
	timer                *time.Timer
}

// groupDoc is a share group's journal value: its epoch, so that epochs keep growing across a
// restart. Members are not written: after a restart they are unknown, and a member's next
// heartbeat (UNKNOWN_MEMBER_ID) makes it rejoin with its whole subscription.
type groupDoc struct {
	Epoch int32 `json:"epoch"`
}

func restoreGroup(id string, d groupDoc) *group {
	return &group{id: id, epoch: d.Epoch, members: make(map[string]*member)}
}

func (g *group) sortedIDs() []string {
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (g *group) state() string {
	if len(g.members) == 0 {
		return "Empty"
	}
	return "Stable"
}

// persistGroup writes the group's epoch; mu is held.
func (c *Coordinator) persistGroup(g *group) func(context.Context) error {
	v, _ := json.Marshal(groupDoc{Epoch: g.epoch})
	return c.write(coordlog.Entry{Key: groupKey(g.id), Value: v})
}

// IsShareGroup reports whether a share group holds the id. It takes no lock.
func (c *Coordinator) IsShareGroup(id string) bool {
	_, ok := c.known.Load(id)
	return ok
}

// newGroupLocked creates a share group; mu is held.
func (c *Coordinator) newGroupLocked(id string) *group {
	g := &group{id: id, members: make(map[string]*member)}
	c.groups[id] = g
	c.known.Store(id, true)
	return g
}

// ClientInfo identifies the connection a request came from.
type ClientInfo struct{ ClientID, Host string }

// Heartbeat serves ShareGroupHeartbeat: join (epoch 0), stay (the epoch it was given) or leave
// (-1). The simple assignor's assignment takes effect at once: share partitions are not owned,
// so nothing needs revoking first.
func (c *Coordinator) Heartbeat(ctx context.Context, version int16, req *kmsg.ShareGroupHeartbeatRequest, client ClientInfo) *kmsg.ShareGroupHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
	wait, code, msg := c.heartbeat(req, client, resp)
	if code == 0 && wait != nil {
		if err := wait(ctx); err != nil {
			code, msg = kerr.CoordinatorNotAvailable.Code, "the group's state could not be written"
		}
	}
	if code != 0 {
		resp.ErrorCode, resp.ErrorMessage, resp.Assignment = code, kmsg.StringPtr(msg), nil
	}
	return resp
}

func (c *Coordinator) heartbeat(req *kmsg.ShareGroupHeartbeatRequest, client ClientInfo, resp *kmsg.ShareGroupHeartbeatResponse) (func(context.Context) error, int16, string) {
	switch {
	case req.GroupID == "":
		return nil, kerr.InvalidGroupID.Code, "GroupId can't be empty."
	case req.MemberID == "":
		return nil, kerr.InvalidRequest.Code, "MemberId can't be empty."
	case req.RackID != nil && *req.RackID == "":
		return nil, kerr.InvalidRequest.Code, "RackId can't be empty."
	case req.MemberEpoch < -1:
		return nil, kerr.InvalidRequest.Code, "MemberEpoch is invalid."
	case req.MemberEpoch == 0 && len(req.SubscribedTopicNames) == 0:
		return nil, kerr.InvalidRequest.Code, "SubscribedTopicNames must be set in first request."
	}
	other := c.cfg.OtherGroup(req.GroupID) // asked before mu: the group coordinator locks too
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, kerr.NotCoordinator.Code, "the coordinator is shutting down"
	}
	g := c.groups[req.GroupID]
	if g == nil {
		if req.MemberEpoch != 0 {
			return nil, kerr.UnknownMemberID.Code, "Group " + req.GroupID + " not found."
		}
		if other {
			return nil, kerr.GroupIDNotFound.Code, "Group " + req.GroupID + " is not a share group."
		}
		g = c.newGroupLocked(req.GroupID)
	}
	m := g.members[req.MemberID]
	if req.MemberEpoch == -1 {
		if m == nil {
			return nil, kerr.UnknownMemberID.Code, "Member " + req.MemberID + " is not a member of group " + g.id + "."
		}
		resp.MemberID, resp.MemberEpoch = kmsg.StringPtr(m.id), -1
		c.logger.Info("share group member left", "group", g.id, "member", m.id)
		wait := c.removeMember(g, m)
		return chain(wait, c.persistGroup(g)), 0, ""
	}
	changed := false
	switch {
	case m == nil && req.MemberEpoch != 0:
		return nil, kerr.UnknownMemberID.Code, "Member " + req.MemberID + " is not a member of group " + g.id + "."
	case m == nil:
		if c.cfg.MaxSize > 0 && len(g.members) >= c.cfg.MaxSize {
			return nil, kerr.GroupMaxSizeReached.Code, "The share group has reached its maximum size (group.share.max.size)."
		}
		m = &member{id: req.MemberID}
		g.members[m.id] = m
		changed = true
	case req.MemberEpoch != 0 && req.MemberEpoch != m.epoch && req.MemberEpoch != m.previousEpoch:
		return nil, kerr.FencedMemberEpoch.Code, "The share group member has a stale member epoch."
	}
	m.clientID, m.clientHost = client.ClientID, client.Host
	if req.RackID != nil {
		m.rack = *req.RackID
	}
	if req.SubscribedTopicNames != nil {
		names := append([]string(nil), req.SubscribedTopicNames...)
		sort.Strings(names)
		if !slices.Equal(names, m.topics) {
			m.topics, changed = names, true
		}
	}
	var entries []coordlog.Entry
	if sub := c.subscriptionKey(g); changed || sub != g.subscription || m.assigned == nil {
		if changed || sub != g.subscription {
			g.epoch++
			g.subscription = sub
		}
		entries = c.assign(g)
	}
	if m.epoch != g.epoch {
		m.previousEpoch, m.epoch = m.epoch, g.epoch
		changed = true
	}
	c.armSession(g, m)
	resp.MemberID, resp.MemberEpoch = kmsg.StringPtr(m.id), m.epoch
	resp.HeartbeatIntervalMillis = int32(c.heartbeatInterval(g.id).Milliseconds())
	resp.Assignment = &kmsg.ShareGroupHeartbeatResponseAssignment{TopicPartitions: []kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition{}}
	for _, id := range sortedTopicIDs(m.assigned) {
		resp.Assignment.TopicPartitions = append(resp.Assignment.TopicPartitions,
			kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition{TopicID: id, Partitions: append([]int32(nil), m.assigned[id]...)})
	}
	if !changed && len(entries) == 0 {
		return nil, 0, ""
	}
	return chain(c.write(entries...), c.persistGroup(g)), 0, ""
}

func chain(waits ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, w := range waits {
			if w != nil {
				if err := w(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// heartbeatInterval is share.heartbeat.interval.ms for the group, else the broker's.
func (c *Coordinator) heartbeatInterval(groupID string) time.Duration {
	if ms, err := strconv.ParseInt(c.cfg.GroupConfig(groupID)["share.heartbeat.interval.ms"], 10, 64); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return c.cfg.HeartbeatInterval
}

// sessionTimeout is share.session.timeout.ms for the group, else the broker's.
func (c *Coordinator) sessionTimeout(groupID string) time.Duration {
	if ms, err := strconv.ParseInt(c.cfg.GroupConfig(groupID)["share.session.timeout.ms"], 10, 64); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return c.cfg.SessionTimeout
}

// subscriptionKey summarizes the group's subscribed topics with their partition counts.
func (c *Coordinator) subscriptionKey(g *group) string {
	seen := map[string]bool{}
	var names []string
	for _, m := range g.members {
		for _, t := range m.topics {
			if !seen[t] {
				seen[t] = true
				names = append(names, t)
			}
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		if _, parts, ok := c.logs.Partitions(n); ok {
			fmt.Fprintf(&b, "%q:%d,", n, parts)
		}
	}
	return b.String()
}

// assign is Kafka's simple assignor: for each subscribed topic, its partitions are spread over
// the members subscribed to it round-robin; when there are more members than partitions, every
// member still gets one partition, shared with others. It initializes the state of every share
// partition the group did not consume before (share.auto.offset.reset) and returns the journal
// entries for them; mu is held.
func (c *Coordinator) assign(g *group) []coordlog.Entry {
	for _, m := range g.members {
		m.assigned = make(map[[16]byte][]int32)
	}
	byTopic := map[string][]string{}
	for _, id := range g.sortedIDs() {
		for _, t := range g.members[id].topics {
			byTopic[t] = append(byTopic[t], id)
		}
	}
	var entries []coordlog.Entry
	topics := make([]string, 0, len(byTopic))
	for t := range byTopic {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		tid, n, ok := c.logs.Partitions(t)
		if !ok || n <= 0 {
			continue
		}
		members := byTopic[t]
		slots := max(int(n), len(members))
		for i := range slots {
			p := int32(i % int(n))
			m := g.members[members[i%len(members)]]
			if !containsInt32(m.assigned[tid], p) {
				m.assigned[tid] = append(m.assigned[tid], p)
			}
		}
		for p := range n {
			k := partKey{g.id, t, p}
			if c.parts[k] == nil {
				sp := &partition{group: g.id, topic: t, index: p, start: c.initialStart(g.id, t, p)}
				c.putPartLocked(k, sp)
				entries = append(entries, partitionEntry(sp))
			}
		}
	}
	for _, m := range g.members {
		for tid := range m.assigned {
			sort.Slice(m.assigned[tid], func(i, j int) bool { return m.assigned[tid][i] < m.assigned[tid][j] })
		}
	}
	return entries
}

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sortedTopicIDs(m map[[16]byte][]int32) [][16]byte {
	ids := make([][16]byte, 0, len(m))
	for id, ps := range m {
		if len(ps) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	return ids
}

// removeMember drops a member, releases what it holds and closes its share session; mu is held.
func (c *Coordinator) removeMember(g *group, m *member) func(context.Context) error {
	if m.timer != nil {
		m.timer.Stop()
	}
	delete(g.members, m.id)
	delete(c.sessions, sessionKey{g.id, m.id})
	waits := c.releaseLocked(m.id, c.partsOfGroupLocked(g.id), c.groupLimits(g.id))
	g.epoch++
	g.subscription = c.subscriptionKey(g)
	waits = append(waits, c.write(c.assign(g)...))
	return chain(waits...)
}

// releaseLocked releases what member holds in the partitions and writes each changed state
// under its partition's lock; mu is held.
func (c *Coordinator) releaseLocked(member string, parts []*partition, l limits) []func(context.Context) error {
	var waits []func(context.Context) error
	for _, p := range parts {
		p.mu.Lock()
		if p.releaseMemberLocked(member, l) {
			if w, err := c.persistLocked(p); err == nil {
				waits = append(waits, w)
			}
		}
		p.mu.Unlock()
	}
	return waits
}

func (c *Coordinator) armSession(g *group, m *member) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timer = time.AfterFunc(c.sessionTimeout(g.id), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed || g.members[m.id] != m {
			return
		}
		c.logger.Info("share group member session expired", "group", g.id, "member", m.id)
		c.removeMember(g, m)
		c.persistGroup(g)
	})
}

// Describe serves ShareGroupDescribe.
func (c *Coordinator) Describe(version int16, req *kmsg.ShareGroupDescribeRequest) *kmsg.ShareGroupDescribeResponse {
	resp := req.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
	other := make(map[string]bool, len(req.GroupIDs))
	for _, id := range req.GroupIDs {
		other[id] = c.cfg.OtherGroup(id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range req.GroupIDs {
		out := kmsg.NewShareGroupDescribeResponseGroup()
		out.GroupID, out.AuthorizedOperations = id, -2147483648
		g := c.groups[id]
		switch {
		case c.closed:
			out.ErrorCode = kerr.NotCoordinator.Code
		case g == nil && other[id]:
			out.ErrorCode, out.ErrorMessage = kerr.GroupIDNotFound.Code, kmsg.StringPtr("Group "+id+" is not a share group.")
		case g == nil:
			out.ErrorCode, out.ErrorMessage = kerr.GroupIDNotFound.Code, kmsg.StringPtr("Group "+id+" not found.")
		default:
			out.GroupState, out.GroupEpoch, out.AssignmentEpoch, out.Assignor = g.state(), g.epoch, g.epoch, assignorName
			for _, mid := range g.sortedIDs() {
				m := g.members[mid]
				dm := kmsg.NewShareGroupDescribeResponseGroupMember()
				dm.MemberID, dm.MemberEpoch, dm.ClientID, dm.ClientHost = m.id, m.epoch, m.clientID, m.clientHost
				dm.SubscribedTopicNames = append([]string{}, m.topics...)
				if m.rack != "" {
					dm.RackID = kmsg.StringPtr(m.rack)
				}
				for _, tid := range sortedTopicIDs(m.assigned) {
					name, _, _ := c.logs.TopicByID(tid)
					dm.Assignment.TopicPartitions = append(dm.Assignment.TopicPartitions,
						kmsg.ShareGroupDescribeResponseGroupMemberAssignmentTopicPartition{TopicID: tid, Topic: name, Partitions: append([]int32(nil), m.assigned[tid]...)})
				}
				out.Members = append(out.Members, dm)
			}
		}
		resp.Groups = append(resp.Groups, out)
	}
	return resp
}

// Listed is one share group as ListGroups shows it.
type Listed struct{ ID, State string }

// List returns every share group with its state.
func (c *Coordinator) List() []Listed {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Listed, 0, len(c.groups))
	for id, g := range c.groups {
		out = append(out, Listed{id, g.state()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Delete removes an empty share group and every share partition's state (DeleteGroups). It
// answers GROUP_ID_NOT_FOUND for an unknown group and NON_EMPTY_GROUP while members remain.
func (c *Coordinator) Delete(ctx context.Context, id string) int16 {
	c.mu.Lock()
	g := c.groups[id]
	switch {
	case g == nil:
		c.mu.Unlock()
		return kerr.GroupIDNotFound.Code
	case len(g.members) > 0:
		c.mu.Unlock()
		return kerr.NonEmptyGroup.Code
	}
	delete(c.groups, id)
	c.known.Delete(id)
	entries := []coordlog.Entry{{Key: groupKey(id)}}
	for k := range c.byGroup[id] {
		c.dropPartLocked(k)
		entries = append(entries, coordlog.Entry{Key: partitionKey(k)})
	}
	wait := c.write(entries...)
	c.mu.Unlock()
	if err := wait(ctx); err != nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	c.logger.Info("share group deleted", "group", id)
	return 0
}

// DeleteTopic drops every share group's state of a deleted topic.
func (c *Coordinator) DeleteTopic(ctx context.Context, topic string) {
	c.mu.Lock()
	var entries []coordlog.Entry
	for k := range c.parts {
		if k.topic == topic {
			c.dropPartLocked(k)
			entries = append(entries, coordlog.Entry{Key: partitionKey(k)})
		}
	}
	wait := c.write(entries...)
	c.mu.Unlock()
	if err := wait(ctx); err != nil {
		c.logger.Error("share coordinator: removing a deleted topic's state failed", "topic", topic, "err", err)
	}
}
