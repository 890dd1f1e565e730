package group

// SyncGroup, Heartbeat and LeaveGroup of the classic protocol.

import (
	"bytes"
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup serves a SyncGroup request, waiting (up to ctx) for the leader's assignment.
func (c *Coordinator) SyncGroup(ctx context.Context, version int16, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	wait, persisted, code := c.sync(req, resp)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	if persisted != nil {
		// The leader's assignment is answered once it is durable.
		if err := persisted(ctx); err != nil {
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp
		}
	}
	if wait == nil {
		return resp
	}
	resp.ErrorCode = kerr.RebalanceInProgress.Code // if the connection ends first
	return await(ctx, wait, resp)
}

func (c *Coordinator) sync(req *kmsg.SyncGroupRequest, resp *kmsg.SyncGroupResponse) (chan *kmsg.SyncGroupResponse, func(context.Context) error, int16) {
	if req.Group == "" {
		return nil, nil, kerr.InvalidGroupID.Code
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, notCoordinator
	}
	g := c.groups[req.Group]
	if g != nil && g.consumer != nil {
		return nil, nil, c.syncConsumerGroup(g, req, resp)
	}
	if g == nil || g.classic == nil {
		return nil, nil, kerr.UnknownMemberID.Code
	}
	cg := g.classic
	if code := cg.checkMember(req.MemberID, strOrEmpty(req.InstanceID)); code != 0 {
		return nil, nil, code
	}
	if req.Generation != cg.generation {
		return nil, nil, kerr.IllegalGeneration.Code
	}
	if (req.ProtocolType != nil && *req.ProtocolType != cg.protocolType) || (req.Protocol != nil && *req.Protocol != cg.protocol) {
		return nil, nil, kerr.InconsistentGroupProtocol.Code
	}
	m := cg.members[req.MemberID]
	switch cg.state {
	case stateEmpty, stateDead:
		return nil, nil, kerr.UnknownMemberID.Code
	case statePreparingRebalance:
		return nil, nil, kerr.RebalanceInProgress.Code
	case stateStable:
		c.armSession(g, m)
		resp.ProtocolType, resp.Protocol = kmsg.StringPtr(cg.protocolType), kmsg.StringPtr(cg.protocol)
		resp.MemberAssignment = m.assignment
		return nil, nil, 0
	}
	// CompletingRebalance.
	c.failSync(m, kerr.RebalanceInProgress.Code) // a duplicate sync replaces the older one
	m.syncWait = make(chan *kmsg.SyncGroupResponse, 1)
	c.armSession(g, m)
	if m.id != cg.leader {
		return m.syncWait, nil, 0
	}
	assignments := make(map[string][]byte, len(req.GroupAssignment))
	for _, a := range req.GroupAssignment {
		assignments[a.MemberID] = bytes.Clone(a.MemberAssignment)
	}
	for id, mm := range cg.members {
		mm.assignment = assignments[id] // members the leader left out get an empty assignment
	}
	if cg.syncTimer != nil {
		cg.syncTimer.Stop()
		cg.syncTimer = nil
	}
	cg.state = stateStable
	persisted := c.persistGroup(g)
	for _, mm := range cg.members {
		if mm.syncWait != nil && mm != m {
			c.answerSync(cg, mm, persisted)
		}
	}
	// The leader's own answer goes back through its channel too, after persistence.
	r := c.syncResponse(cg, m)
	m.syncWait <- r
	wait := m.syncWait
	m.syncWait = nil
	return wait, persisted, 0
}

func (c *Coordinator) syncResponse(cg *classicGroup, m *member) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.ProtocolType, r.Protocol = kmsg.StringPtr(cg.protocolType), kmsg.StringPtr(cg.protocol)
	r.MemberAssignment = m.assignment
	return r
}

// answerSync answers a follower once the assignment is durable.
func (c *Coordinator) answerSync(cg *classicGroup, m *member, persisted func(context.Context) error) {
	r := c.syncResponse(cg, m)
	ch := m.syncWait
	m.syncWait = nil
	go func() {
		if err := persisted(context.Background()); err != nil {
			r = kmsg.NewPtrSyncGroupResponse()
			r.ErrorCode = kerr.CoordinatorNotAvailable.Code
		}
		ch <- r
	}()
}

// Heartbeat serves a classic Heartbeat.
func (c *Coordinator) Heartbeat(version int16, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = c.heartbeat(req)
	return resp
}

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return notCoordinator
	}
	g := c.groups[req.Group]
	if g != nil && g.consumer != nil {
		return c.heartbeatConsumerGroup(g, req)
	}
	if g == nil || g.classic == nil {
		return kerr.UnknownMemberID.Code
	}
	cg := g.classic
	if code := cg.checkMember(req.MemberID, strOrEmpty(req.InstanceID)); code != 0 {
		return code
	}
	m := cg.members[req.MemberID]
	switch cg.state {
	case stateEmpty, stateDead:
		return kerr.UnknownMemberID.Code
	case statePreparingRebalance:
		c.armSession(g, m)
		return kerr.RebalanceInProgress.Code
	}
	if req.Generation != cg.generation {
		return kerr.IllegalGeneration.Code
	}
	c.armSession(g, m)
	return 0
}

// LeaveGroup serves LeaveGroup: v0–2 name one member, v3+ a batch (with instance ids).
func (c *Coordinator) LeaveGroup(version int16, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	leaving := req.Members
	if version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = notCoordinator
		return resp
	}
	g := c.groups[req.Group]
	if g != nil && g.consumer != nil {
		c.leaveConsumerGroup(g, leaving, resp)
		if version < 3 && len(resp.Members) == 1 {
			resp.ErrorCode = resp.Members[0].ErrorCode
			resp.Members = nil
		}
		return resp
	}
	if g == nil || g.classic == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp
	}
	cg := g.classic
	for _, l := range leaving {
		out := kmsg.LeaveGroupResponseMember{MemberID: l.MemberID, InstanceID: l.InstanceID}
		instanceID := strOrEmpty(l.InstanceID)
		id := l.MemberID
		if instanceID != "" {
			cur, ok := cg.static[instanceID]
			switch {
			case !ok:
				out.ErrorCode = kerr.UnknownMemberID.Code
			case id != "" && id != cur:
				out.ErrorCode = kerr.FencedInstanceID.Code
			}
			id = cur
		}
		if out.ErrorCode == 0 {
			if t, ok := cg.pending[id]; ok {
				t.Stop()
				delete(cg.pending, id)
				c.maybeCompleteJoin(g)
			} else if m := cg.members[id]; m != nil {
				c.logger.Info("group member left", "group", g.id, "member", id)
				c.memberGone(g, m, "member "+id+" left")
			} else {
				out.ErrorCode = kerr.UnknownMemberID.Code
			}
		}
		resp.Members = append(resp.Members, out)
	}
	if version < 3 && len(resp.Members) == 1 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	return resp
}
