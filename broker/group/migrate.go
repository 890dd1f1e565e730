package group

// Online migration between the classic and the consumer protocol (KIP-848's upgrade path), as
// Kafka 4 does it under group.consumer.migration.policy:
//
//   - Upgrade: the first ConsumerGroupHeartbeat for a classic group of protocol type "consumer"
//     with members turns it into a consumer group. Its classic members stay, at their
//     generation as member epoch with the partitions they were assigned, and keep speaking the
//     classic protocol: JoinGroup updates their subscription and answers at once with their
//     member epoch as generation, SyncGroup returns the assignment the server-side assignor gave
//     them, and Heartbeat answers REBALANCE_IN_PROGRESS while they must rejoin to catch up.
//   - Downgrade: when the last member using the consumer protocol leaves a group whose other
//     members all use the classic protocol, the group turns back into a classic group at the
//     group epoch as generation, with each member's partitions as its assignment, and a rebalance
//     starts.

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/group/assign"
)

// The values of group.consumer.migration.policy.
const (
	MigrationBidirectional = "bidirectional"
	MigrationUpgrade       = "upgrade"
	MigrationDowngrade     = "downgrade"
	MigrationDisabled      = "disabled"
)

// consumerProtocolType is the protocol type of consumers, the only one that can migrate.
const consumerProtocolType = "consumer"

// classicMembership is what a consumer-group member that speaks the classic protocol joined
// with: its session timeout and the protocols (assignor names and subscriptions) it offered.
type classicMembership struct {
	sessionTimeout time.Duration
	protocols      []kmsg.JoinGroupRequestProtocol
}

func (c *Coordinator) upgradeAllowed() bool {
	p := c.cfg.MigrationPolicy
	return p == "" || p == MigrationBidirectional || p == MigrationUpgrade
}

func (c *Coordinator) downgradeAllowed() bool {
	p := c.cfg.MigrationPolicy
	return p == "" || p == MigrationBidirectional || p == MigrationDowngrade
}

// upgrade turns g's classic group (with members) into a consumer group whose members keep the
// classic protocol; mu is held. It answers why not when the group cannot be upgraded.
func (c *Coordinator) upgrade(g *group) (int16, string) {
	cg := g.classic
	switch {
	case !c.upgradeAllowed():
		return kerr.GroupIDNotFound.Code, "Group " + g.id + " is not a consumer group: the online upgrade is disabled (group.consumer.migration.policy)."
	case cg.protocolType != consumerProtocolType:
		return kerr.GroupIDNotFound.Code, "Group " + g.id + " is not a consumer group: it does not use the consumer embedded protocol."
	case c.cfg.ConsumerMaxSize > 0 && len(cg.members) >= c.cfg.ConsumerMaxSize:
		return kerr.GroupIDNotFound.Code, "Group " + g.id + " cannot be upgraded: it has more members than group.consumer.max.size."
	}
	protocol := cg.protocol
	if protocol == "" { // still in its first join phase: any protocol offered by all will do
		protocol = cg.commonProtocol()
	}
	next := &consumerGroup{epoch: cg.generation, assignmentEpoch: cg.generation, assignor: c.cfg.ConsumerAssignors[0],
		members: make(map[string]*consumerMember), target: make(map[string]assign.Partitions)}
	for _, id := range cg.sortedIDs() {
		m := cg.members[id]
		var sub kmsg.ConsumerMemberMetadata
		if err := sub.ReadFrom(m.metadataFor(protocol)); err != nil {
			return kerr.GroupIDNotFound.Code, "Cannot upgrade the classic group " + g.id + " to consumer group because the embedded consumer protocol is malformed."
		}
		assigned := assign.Partitions{}
		if len(m.assignment) > 0 {
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(m.assignment); err != nil {
				return kerr.GroupIDNotFound.Code, "Cannot upgrade the classic group " + g.id + " to consumer group because the embedded consumer protocol is malformed."
			}
			assigned = c.partitionsByID(a.Topics)
		}
		nm := &consumerMember{id: m.id, instanceID: m.instanceID, rack: strOrEmpty(sub.Rack), clientID: m.clientID,
			clientHost: m.clientHost, rebalanceTimeout: m.rebalanceTimeout, topicNames: sortedCopy(sub.Topics),
			epoch: cg.generation, previousEpoch: cg.generation, assigned: assigned,
			classic: &classicMembership{sessionTimeout: m.sessionTimeout, protocols: copyProtocols(m.protocols)}}
		next.members[id] = nm
		next.target[id] = clonePartitions(assigned)
	}
	next.subscription = c.subscriptionKey(next)
	// Members waiting in a join or sync phase must rejoin: they will find a consumer group.
	cg.stopTimers()
	for _, m := range cg.members {
		m.stopTimer()
		c.failJoin(m, kerr.RebalanceInProgress.Code)
		c.failSync(m, kerr.RebalanceInProgress.Code)
	}
	for _, p := range cg.pending {
		p.Stop()
	}
	g.classic, g.consumer = nil, next
	for _, m := range next.members {
		c.armConsumerSession(g, m)
	}
	c.logger.Info("classic group upgraded to the consumer protocol", "group", g.id, "epoch", next.epoch, "members", len(next.members))
	return 0, ""
}

// commonProtocol is the first protocol (in the lowest member id's order of preference) that every
// member offers, or "" if there is none.
func (cg *classicGroup) commonProtocol() string {
	ids := cg.sortedIDs()
	if len(ids) == 0 {
		return ""
	}
	for _, p := range cg.members[ids[0]].protocols {
		if cg.supportsAny([]kmsg.JoinGroupRequestProtocol{p}) {
			return p.Name
		}
	}
	return ""
}

// maybeDowngrade turns g back into a classic group when its members all use the classic
// protocol after a consumer-protocol member left; mu is held.
func (c *Coordinator) maybeDowngrade(g *group, leaver *consumerMember) {
	cons := g.consumer
	if leaver.classic != nil || len(cons.members) == 0 || !c.downgradeAllowed() {
		return
	}
	for _, m := range cons.members {
		if m.classic == nil {
			return
		}
	}
	if c.cfg.MaxGroupSize > 0 && len(cons.members) > c.cfg.MaxGroupSize {
		c.logger.Info("consumer group not downgraded: more members than group.max.size", "group", g.id)
		return
	}
	ids := cons.sortedIDs()
	protocol := ""
	for _, p := range cons.members[ids[0]].classic.protocols {
		all := true
		for _, id := range ids {
			all = all && hasProtocol(cons.members[id].classic.protocols, p.Name)
		}
		if all {
			protocol = p.Name
			break
		}
	}
	if protocol == "" {
		return // the members share no assignor: they keep the consumer group
	}
	names := c.topicNamesByID()
	next := newClassicGroup(consumerProtocolType)
	next.generation, next.protocol, next.leader, next.state = cons.epoch, protocol, ids[0], stateStable
	for _, id := range ids {
		m := cons.members[id]
		if m.timer != nil {
			m.timer.Stop()
		}
		if m.revocationTime != nil {
			m.revocationTime.Stop()
		}
		version := int16(0)
		var sub kmsg.ConsumerMemberMetadata
		for _, p := range m.classic.protocols {
			if p.Name == protocol && sub.ReadFrom(p.Metadata) == nil {
				version = min(sub.Version, 3)
			}
		}
		a := kmsg.ConsumerMemberAssignment{Version: version}
		for _, t := range sortedTopicIDs(m.assigned) {
			if name, ok := names[t]; ok {
				a.Topics = append(a.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: name, Partitions: append([]int32(nil), m.assigned[t]...)})
			}
		}
		cm := &member{id: m.id, instanceID: m.instanceID, clientID: m.clientID, clientHost: m.clientHost,
			sessionTimeout: m.classic.sessionTimeout, rebalanceTimeout: m.rebalanceTimeout,
			protocols: copyProtocols(m.classic.protocols), assignment: a.AppendTo(nil)}
		next.members[id] = cm
		if cm.instanceID != "" {
			next.static[cm.instanceID] = id
		}
	}
	g.consumer, g.classic = nil, next
	for _, m := range next.members {
		c.armSession(g, m)
	}
	c.logger.Info("consumer group downgraded to the classic protocol", "group", g.id, "generation", next.generation, "members", len(next.members))
	c.prepareRebalance(g, "downgrade of group "+g.id+" from consumer to classic")
}

// partitionsByID maps a classic assignment (topic names) to topic ids, dropping unknown topics.
func (c *Coordinator) partitionsByID(ts []kmsg.ConsumerMemberAssignmentTopic) assign.Partitions {
	out := assign.Partitions{}
	for _, t := range ts {
		if id, _, ok := c.topics.Partitions(t.Topic); ok {
			out[id] = append(out[id], t.Partitions...)
		}
	}
	return out
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func clonePartitions(p assign.Partitions) assign.Partitions {
	out := make(assign.Partitions, len(p))
	for t, ps := range p {
		out[t] = append([]int32(nil), ps...)
	}
	return out
}

// joinConsumerGroup serves a classic JoinGroup for a consumer group (Kafka's
// classicGroupJoinToConsumerGroup): the member joins or updates its subscription, the target
// assignment follows, and the answer comes at once, with the member epoch as generation, no
// leader and no member list, so the client syncs as a follower; mu is held.
func (c *Coordinator) joinConsumerGroup(g *group, version int16, req *kmsg.JoinGroupRequest, client ClientInfo,
	session, rebalance time.Duration, resp *kmsg.JoinGroupResponse) int16 {
	cg := g.consumer
	if req.ProtocolType != consumerProtocolType || !cg.supportsClassic(req.Protocols) {
		return kerr.InconsistentGroupProtocol.Code
	}
	instanceID := strOrEmpty(req.InstanceID)
	id := req.MemberID
	if id == "" {
		prefix := client.ClientID
		if instanceID != "" {
			prefix = instanceID
		}
		id = newMemberID(prefix)
		if instanceID == "" && version >= 4 {
			resp.MemberID = id
			return kerr.MemberIDRequired.Code
		}
	}
	var sub kmsg.ConsumerMemberMetadata
	if err := sub.ReadFrom(req.Protocols[0].Metadata); err != nil {
		return kerr.InconsistentGroupProtocol.Code
	}
	m := cg.members[id]
	if instanceID != "" {
		if old := cg.staticMember(instanceID); old != nil && old.id != id {
			if req.MemberID != "" {
				return kerr.FencedInstanceID.Code
			}
			// A static member restarting under a new member id takes over the old one.
			delete(cg.members, old.id)
			if old.timer != nil {
				old.timer.Stop()
			}
			nm := *old
			nm.id, nm.timer, nm.revocationTime = id, nil, nil
			cg.target[id] = cg.target[old.id]
			delete(cg.target, old.id)
			m = &nm
			cg.members[id] = m
		}
	}
	changed := false
	if m == nil {
		if c.cfg.ConsumerMaxSize > 0 && len(cg.members) >= c.cfg.ConsumerMaxSize {
			return kerr.GroupMaxSizeReached.Code
		}
		m = &consumerMember{id: id, instanceID: instanceID, assigned: assign.Partitions{}}
		cg.members[id] = m
		changed = true
	} else if m.classic == nil {
		return kerr.UnknownMemberID.Code // it speaks the consumer protocol
	}
	m.clientID, m.clientHost, m.rebalanceTimeout = client.ClientID, client.Host, rebalance
	m.classic = &classicMembership{sessionTimeout: session, protocols: copyProtocols(req.Protocols)}
	if sub.Rack != nil {
		m.rack = *sub.Rack
	}
	if names := sortedCopy(sub.Topics); !equalStrings(names, m.topicNames) {
		m.topicNames, changed = names, true
	}
	assignor := c.pickAssignor(cg)
	if sk := c.subscriptionKey(cg); changed || sk != cg.subscription || cg.assignor != assignor {
		cg.epoch++
		c.rebalances.Consumer.Add(1)
		cg.subscription, cg.assignor = sk, assignor
	}
	if cg.assignmentEpoch < cg.epoch {
		c.computeTarget(cg)
	}
	owned := assign.Partitions{}
	for _, op := range sub.OwnedPartitions {
		if tid, _, ok := c.topics.Partitions(op.Topic); ok {
			owned[tid] = append(owned[tid], op.Partitions...)
		}
	}
	c.reconcile(g, m, owned)
	c.armConsumerSession(g, m)
	resp.MemberID, resp.Generation = m.id, m.epoch
	resp.ProtocolType, resp.Protocol = kmsg.StringPtr(consumerProtocolType), kmsg.StringPtr(req.Protocols[0].Name)
	return 0
}

// supportsClassic reports whether a joining classic member's protocols fit the group: some
// protocol every classic member already offers (any, when none uses the classic protocol).
func (cg *consumerGroup) supportsClassic(offered []kmsg.JoinGroupRequestProtocol) bool {
	if len(offered) == 0 {
		return false
	}
	for _, p := range offered {
		all := true
		for _, m := range cg.members {
			if m.classic != nil && !hasProtocol(m.classic.protocols, p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (cg *consumerGroup) staticMember(instanceID string) *consumerMember {
	for _, m := range cg.members {
		if m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// classicMember finds the consumer-group member a classic SyncGroup, Heartbeat or LeaveGroup
// names, with Kafka's checks (validateConsumerGroupMember, throwIfMemberDoesNotUseClassicProtocol).
func (cg *consumerGroup) classicMember(memberID, instanceID string) (*consumerMember, int16) {
	var m *consumerMember
	if instanceID != "" {
		m = cg.staticMember(instanceID)
		if m == nil {
			return nil, kerr.UnknownMemberID.Code
		}
		if memberID != "" && m.id != memberID {
			return nil, kerr.FencedInstanceID.Code
		}
	} else {
		m = cg.members[memberID]
	}
	if m == nil || m.classic == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	return m, 0
}

// syncConsumerGroup serves a classic SyncGroup for a consumer group: the member's current
// assignment, encoded as its protocol's ConsumerMemberAssignment; mu is held.
func (c *Coordinator) syncConsumerGroup(g *group, req *kmsg.SyncGroupRequest, resp *kmsg.SyncGroupResponse) int16 {
	cg := g.consumer
	m, code := cg.classicMember(req.MemberID, strOrEmpty(req.InstanceID))
	if code != 0 {
		return code
	}
	if req.Generation != m.epoch {
		return kerr.IllegalGeneration.Code
	}
	protocol := m.classic.protocols[0]
	if (req.ProtocolType != nil && *req.ProtocolType != consumerProtocolType) || (req.Protocol != nil && *req.Protocol != protocol.Name) {
		return kerr.InconsistentGroupProtocol.Code
	}
	if cg.epoch > m.epoch && len(m.revoking) == 0 {
		return kerr.RebalanceInProgress.Code
	}
	var sub kmsg.ConsumerMemberMetadata
	_ = sub.ReadFrom(protocol.Metadata) // validated at JoinGroup
	names := c.topicNamesByID()
	a := kmsg.ConsumerMemberAssignment{Version: min(sub.Version, 3)}
	for _, t := range sortedTopicIDs(m.assigned) {
		if name, ok := names[t]; ok {
			a.Topics = append(a.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: name, Partitions: append([]int32(nil), m.assigned[t]...)})
		}
	}
	c.armConsumerSession(g, m)
	resp.ProtocolType, resp.Protocol = kmsg.StringPtr(consumerProtocolType), kmsg.StringPtr(protocol.Name)
	resp.MemberAssignment = a.AppendTo(nil)
	return 0
}

// heartbeatConsumerGroup serves a classic Heartbeat for a consumer group: REBALANCE_IN_PROGRESS
// tells the member to rejoin when the group moved on, it still has partitions to give up, or
// partitions it waits for have been freed; mu is held.
func (c *Coordinator) heartbeatConsumerGroup(g *group, req *kmsg.HeartbeatRequest) int16 {
	cg := g.consumer
	m, code := cg.classicMember(req.MemberID, strOrEmpty(req.InstanceID))
	if code != 0 {
		return code
	}
	if req.Generation != m.epoch {
		return kerr.IllegalGeneration.Code
	}
	c.armConsumerSession(g, m)
	if m.epoch < cg.epoch || len(m.revoking) > 0 || c.grantable(cg, m) {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// grantable reports whether target partitions the member lacks are free now, so that a rejoin
// would hand them over.
func (c *Coordinator) grantable(cg *consumerGroup, m *consumerMember) bool {
	missing := minus(cg.target[m.id], m.assigned)
	if len(missing) == 0 {
		return false
	}
	for id, o := range cg.members {
		if id != m.id && (overlaps(missing, o.assigned) || overlaps(missing, o.revoking)) {
			return false
		}
	}
	return true
}

// leaveConsumerGroup serves a classic LeaveGroup for a consumer group's classic members; mu is
// held.
func (c *Coordinator) leaveConsumerGroup(g *group, leaving []kmsg.LeaveGroupRequestMember, resp *kmsg.LeaveGroupResponse) {
	for _, l := range leaving {
		out := kmsg.LeaveGroupResponseMember{MemberID: l.MemberID, InstanceID: l.InstanceID}
		if g.consumer == nil {
			out.ErrorCode = kerr.UnknownMemberID.Code
			resp.Members = append(resp.Members, out)
			continue
		}
		m, code := g.consumer.classicMember(l.MemberID, strOrEmpty(l.InstanceID))
		if code != 0 {
			out.ErrorCode = code
		} else {
			out.MemberID = m.id
			c.logger.Info("consumer group member left through LeaveGroup", "group", g.id, "member", m.id)
			c.removeConsumerMember(g, m)
		}
		resp.Members = append(resp.Members, out)
	}
	c.persistGroup(g)
}
