package group

// The classic group protocol: JoinGroup, SyncGroup, Heartbeat and LeaveGroup, with the states
// and timers of Kafka's ClassicGroup (Empty → PreparingRebalance → CompletingRebalance → Stable).

import (
	"bytes"
	"context"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type classicState int8

const (
	stateEmpty classicState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s classicState) String() string {
	return [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}[s]
}

var notCoordinator = kerr.NotCoordinator.Code

// classicGroup is the membership of a group using the classic protocol.
type classicGroup struct {
	state        classicState
	protocolType string
	protocol     string // selected when a join phase completes
	generation   int32
	leader       string
	members      map[string]*member
	static       map[string]string      // instance id → member id
	pending      map[string]*time.Timer // member ids handed out with MEMBER_ID_REQUIRED
	joinTimer    *time.Timer            // ends the join phase
	syncTimer    *time.Timer            // removes members that did not sync
	inInitial    bool                   // an empty group's initial delay (group.initial.rebalance.delay.ms) is running
}

func newClassicGroup(protocolType string) *classicGroup {
	return &classicGroup{protocolType: protocolType, members: make(map[string]*member),
		static: make(map[string]string), pending: make(map[string]*time.Timer)}
}

func (cg *classicGroup) stopTimers() {
	for _, t := range []*time.Timer{cg.joinTimer, cg.syncTimer} {
		if t != nil {
			t.Stop()
		}
	}
	cg.joinTimer, cg.syncTimer = nil, nil
}

// member is one classic-protocol member.
type member struct {
	id, instanceID       string
	clientID, clientHost string
	sessionTimeout       time.Duration
	rebalanceTimeout     time.Duration
	protocols            []kmsg.JoinGroupRequestProtocol // metadata copied
	assignment           []byte
	joinWait             chan *kmsg.JoinGroupResponse // non-nil while its JoinGroup waits
	syncWait             chan *kmsg.SyncGroupResponse // non-nil while its SyncGroup waits
	timer                *time.Timer                  // session expiry
	isNew                bool                         // joined during the current rebalance
}

func (m *member) stopTimer() {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Metadata, b[i].Metadata) {
			return false
		}
	}
	return true
}

func copyProtocols(ps []kmsg.JoinGroupRequestProtocol) []kmsg.JoinGroupRequestProtocol {
	out := make([]kmsg.JoinGroupRequestProtocol, len(ps))
	for i, p := range ps {
		out[i] = kmsg.JoinGroupRequestProtocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)}
	}
	return out
}

// ClientInfo identifies the connection a group request came from.
type ClientInfo struct {
	ClientID, Host string
	// DescribeTopic, when set, says whether the member's principal may describe a topic: topics
	// a regex subscription matches are filtered by it (KIP-848 under authorization, as Kafka
	// 4.0 does). It is called with the coordinator's lock held, from any goroutine: it must be
	// cheap (a lookup, not an authorizer call) and safe for concurrent use.
	DescribeTopic func(topic string) bool
}

func strOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// JoinGroup serves a JoinGroup request, waiting (up to ctx) for the join phase to complete.
func (c *Coordinator) JoinGroup(ctx context.Context, version int16, req *kmsg.JoinGroupRequest, client ClientInfo) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation = -1
	wait, persisted, code := c.join(version, req, client, resp)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	if persisted != nil {
		// A classic member of a consumer group is answered once its membership is durable.
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

// await returns the answer a join or sync phase delivers on wait, at the request's version, or
// gone (already carrying its error) when ctx ends first (the connection closed).
func await[R kmsg.Response](ctx context.Context, wait <-chan R, gone R) R {
	select {
	case r := <-wait:
		r.SetVersion(gone.GetVersion())
		return r
	case <-ctx.Done():
		return gone
	}
}

func errResp(code int16) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Generation, r.ErrorCode = -1, code
	return r
}

// join validates and registers a join; it returns a channel to wait on, or fills resp at once.
func (c *Coordinator) join(version int16, req *kmsg.JoinGroupRequest, client ClientInfo, resp *kmsg.JoinGroupResponse) (chan *kmsg.JoinGroupResponse, func(context.Context) error, int16) {
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if version == 0 || req.RebalanceTimeoutMillis <= 0 {
		rebalance = session
	}
	instanceID := strOrEmpty(req.InstanceID)
	switch {
	case req.Group == "":
		return nil, nil, kerr.InvalidGroupID.Code
	case session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout:
		return nil, nil, kerr.InvalidSessionTimeout.Code
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return nil, nil, kerr.InconsistentGroupProtocol.Code
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, notCoordinator
	}
	if c.groups[req.Group] == nil && c.cfg.OtherGroup(req.Group) {
		return nil, nil, kerr.InconsistentGroupProtocol.Code // a share group holds the id
	}
	g := c.getGroup(req.Group, req.MemberID == "")
	if g == nil {
		return nil, nil, kerr.UnknownMemberID.Code
	}
	if g.consumer != nil && len(g.consumer.members) > 0 {
		if code := c.joinConsumerGroup(g, version, req, client, session, rebalance, resp); code != 0 {
			return nil, nil, code
		}
		return nil, c.persistGroup(g), 0
	}
	if g.classic == nil {
		g.consumer = nil
		g.classic = newClassicGroup(req.ProtocolType)
	}
	cg := g.classic
	if len(cg.members) > 0 && (cg.protocolType != req.ProtocolType || !cg.supportsAny(req.Protocols)) {
		return nil, nil, kerr.InconsistentGroupProtocol.Code
	}
	if len(cg.members) == 0 {
		cg.protocolType = req.ProtocolType
	}
	var wait chan *kmsg.JoinGroupResponse
	var code int16
	if req.MemberID == "" {
		wait, code = c.joinUnknown(g, version, req, client, instanceID, session, rebalance, resp)
	} else {
		wait, code = c.joinKnown(g, req, client, instanceID, session, rebalance, resp)
	}
	return wait, nil, code
}

// supportsAny reports whether every current member supports one of the offered protocols.
func (cg *classicGroup) supportsAny(offered []kmsg.JoinGroupRequestProtocol) bool {
	for _, p := range offered {
		all := true
		for _, m := range cg.members {
			if m.metadataFor(p.Name) == nil && !hasProtocol(m.protocols, p.Name) {
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

func hasProtocol(ps []kmsg.JoinGroupRequestProtocol, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (c *Coordinator) joinUnknown(g *group, version int16, req *kmsg.JoinGroupRequest, client ClientInfo, instanceID string,
	session, rebalance time.Duration, resp *kmsg.JoinGroupResponse) (chan *kmsg.JoinGroupResponse, int16) {
	cg := g.classic
	prefix := client.ClientID
	if instanceID != "" {
		prefix = instanceID
	}
	id := newMemberID(prefix)
	if instanceID != "" {
		if old, ok := cg.static[instanceID]; ok {
			return c.replaceStatic(g, cg.members[old], id, req, client, session, rebalance, resp)
		}
	} else if version >= 4 {
		// KIP-394: hand out the id and wait for the member to come back with it.
		if c.cfg.MaxGroupSize > 0 && len(cg.members)+len(cg.pending) >= c.cfg.MaxGroupSize {
			return nil, kerr.GroupMaxSizeReached.Code
		}
		cg.pending[id] = time.AfterFunc(session, func() { c.expirePending(g, id) })
		resp.MemberID = id
		return nil, kerr.MemberIDRequired.Code
	}
	if c.cfg.MaxGroupSize > 0 && len(cg.members) >= c.cfg.MaxGroupSize {
		return nil, kerr.GroupMaxSizeReached.Code
	}
	return c.addMember(g, id, instanceID, req, client, session, rebalance), 0
}

func (c *Coordinator) joinKnown(g *group, req *kmsg.JoinGroupRequest, client ClientInfo, instanceID string,
	session, rebalance time.Duration, resp *kmsg.JoinGroupResponse) (chan *kmsg.JoinGroupResponse, int16) {
	cg := g.classic
	if t, ok := cg.pending[req.MemberID]; ok {
		t.Stop()
		delete(cg.pending, req.MemberID)
		if c.cfg.MaxGroupSize > 0 && len(cg.members) >= c.cfg.MaxGroupSize {
			return nil, kerr.GroupMaxSizeReached.Code
		}
		return c.addMember(g, req.MemberID, instanceID, req, client, session, rebalance), 0
	}
	if code := cg.checkMember(req.MemberID, instanceID); code != 0 {
		return nil, code
	}
	m := cg.members[req.MemberID]
	switch cg.state {
	case statePreparingRebalance:
		wait := make(chan *kmsg.JoinGroupResponse, 1)
		m.joinWait = wait
		c.updateMember(g, m, req.Protocols, session, rebalance)
		c.maybeCompleteJoin(g)
		return wait, 0
	case stateCompletingRebalance, stateStable:
		if sameProtocols(m.protocols, req.Protocols) && (cg.state == stateCompletingRebalance || m.id != cg.leader) {
			// Nothing changed: answer with the current generation (Kafka does the same).
			c.armSession(g, m)
			c.fillJoin(cg, m, resp)
			return nil, 0
		}
		wait := make(chan *kmsg.JoinGroupResponse, 1)
		m.joinWait = wait
		c.updateMember(g, m, req.Protocols, session, rebalance)
		c.prepareRebalance(g, "member "+m.id+" rejoined with new metadata")
		c.maybeCompleteJoin(g)
		return wait, 0
	}
	return nil, kerr.UnknownMemberID.Code
}

// checkMember applies the member-id and instance-id checks shared by every classic request.
func (cg *classicGroup) checkMember(memberID, instanceID string) int16 {
	if instanceID != "" {
		if cur, ok := cg.static[instanceID]; ok && cur != memberID {
			return kerr.FencedInstanceID.Code
		}
	}
	if _, ok := cg.members[memberID]; !ok {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

func (c *Coordinator) addMember(g *group, id, instanceID string, req *kmsg.JoinGroupRequest, client ClientInfo,
	session, rebalance time.Duration) chan *kmsg.JoinGroupResponse {
	cg := g.classic
	m := &member{id: id, instanceID: instanceID, clientID: client.ClientID, clientHost: client.Host,
		sessionTimeout: session, rebalanceTimeout: rebalance, protocols: copyProtocols(req.Protocols), isNew: true}
	wait := make(chan *kmsg.JoinGroupResponse, 1)
	m.joinWait = wait
	cg.members[id] = m
	if instanceID != "" {
		cg.static[instanceID] = id
	}
	if cg.leader == "" {
		cg.leader = id
	}
	c.armSession(g, m)
	c.prepareRebalance(g, "member "+id+" joined")
	c.maybeCompleteJoin(g)
	return wait
}

// replaceStatic gives a known static instance a new member id (KIP-345). A Stable group whose
// selected protocol stays the same keeps its assignment without a rebalance.
func (c *Coordinator) replaceStatic(g *group, old *member, newID string, req *kmsg.JoinGroupRequest, client ClientInfo,
	session, rebalance time.Duration, resp *kmsg.JoinGroupResponse) (chan *kmsg.JoinGroupResponse, int16) {
	cg := g.classic
	c.failJoin(old, kerr.FencedInstanceID.Code)
	c.failSync(old, kerr.FencedInstanceID.Code)
	old.stopTimer()
	delete(cg.members, old.id)
	m := &member{id: newID, instanceID: old.instanceID, clientID: client.ClientID, clientHost: client.Host,
		sessionTimeout: session, rebalanceTimeout: rebalance, protocols: copyProtocols(req.Protocols), assignment: old.assignment}
	cg.members[newID] = m
	cg.static[m.instanceID] = newID
	wasLeader := cg.leader == old.id
	if wasLeader {
		cg.leader = newID
	}
	c.armSession(g, m)
	// Kafka rebalances a Stable group only when the protocol the group would select changes
	// (updateStaticMemberThenRebalanceOrCompleteJoin); the member's metadata may differ (a
	// restarted consumer owns nothing yet) and it still takes over the old assignment.
	if cg.state == stateStable && cg.selectProtocol() == cg.protocol {
		c.persistGroup(g) // the member id changed; fire and forget like Kafka's static replace
		c.fillJoin(cg, m, resp)
		resp.SkipAssignment = wasLeader && resp.Version >= 9
		return nil, 0
	}
	wait := make(chan *kmsg.JoinGroupResponse, 1)
	m.joinWait = wait
	c.prepareRebalance(g, "static member "+m.instanceID+" rejoined")
	c.maybeCompleteJoin(g)
	return wait, 0
}

func (c *Coordinator) updateMember(g *group, m *member, protocols []kmsg.JoinGroupRequestProtocol, session, rebalance time.Duration) {
	m.protocols = copyProtocols(protocols)
	m.sessionTimeout, m.rebalanceTimeout = session, rebalance
	c.armSession(g, m)
}

// fillJoin answers a join from the current generation (no member list).
func (c *Coordinator) fillJoin(cg *classicGroup, m *member, resp *kmsg.JoinGroupResponse) {
	resp.Generation = cg.generation
	resp.ProtocolType = kmsg.StringPtr(cg.protocolType)
	resp.Protocol = kmsg.StringPtr(cg.protocol)
	resp.LeaderID = cg.leader
	resp.MemberID = m.id
}

// prepareRebalance starts a join phase; mu is held.
func (c *Coordinator) prepareRebalance(g *group, reason string) {
	cg := g.classic
	if cg.state == statePreparingRebalance {
		return
	}
	if cg.syncTimer != nil {
		cg.syncTimer.Stop()
		cg.syncTimer = nil
	}
	// Members still waiting in SyncGroup must rejoin.
	for _, m := range cg.members {
		c.failSync(m, kerr.RebalanceInProgress.Code)
	}
	wasEmpty := cg.state == stateEmpty
	cg.state = statePreparingRebalance
	c.logger.Info("preparing group rebalance", "group", g.id, "generation", cg.generation, "reason", reason)
	delay := cg.rebalanceTimeout()
	if wasEmpty && c.cfg.InitialRebalanceDelay > 0 {
		// An empty group waits group.initial.rebalance.delay.ms so that members starting
		// together land in one generation.
		delay = min(c.cfg.InitialRebalanceDelay, delay)
		cg.inInitial = true
		cg.joinTimer = time.AfterFunc(delay, func() { c.initialDelayDone(g) })
		return
	}
	cg.joinTimer = time.AfterFunc(delay, func() { c.joinDeadline(g) })
}

// rebalanceTimeout is the longest rebalance timeout of the members.
func (cg *classicGroup) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range cg.members {
		d = max(d, m.rebalanceTimeout)
	}
	if d <= 0 {
		d = time.Second
	}
	return d
}

func (c *Coordinator) initialDelayDone(g *group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || g.classic == nil || g.classic.state != statePreparingRebalance {
		return
	}
	g.classic.joinTimer, g.classic.inInitial = nil, false
	if g.classic.allJoined() {
		c.completeJoin(g)
		return
	}
	g.classic.joinTimer = time.AfterFunc(g.classic.rebalanceTimeout(), func() { c.joinDeadline(g) })
}

func (c *Coordinator) joinDeadline(g *group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || g.classic == nil || g.classic.state != statePreparingRebalance {
		return
	}
	g.classic.joinTimer = nil
	c.completeJoin(g)
}

// allJoined reports whether every member has rejoined and no handed-out id is outstanding.
func (cg *classicGroup) allJoined() bool {
	for _, m := range cg.members {
		if m.joinWait == nil {
			return false
		}
	}
	return len(cg.pending) == 0
}

// maybeCompleteJoin ends the join phase early when everyone is in (after the initial delay).
func (c *Coordinator) maybeCompleteJoin(g *group) {
	cg := g.classic
	// During a new group's initial delay the delay timer decides, so late starters still land
	// in the first generation.
	if cg.state == statePreparingRebalance && !cg.inInitial && cg.joinTimer != nil && cg.allJoined() {
		cg.joinTimer.Stop()
		cg.joinTimer = nil
		c.completeJoin(g)
	}
}

// completeJoin ends the join phase: members that did not rejoin are removed, a new generation
// starts, and every waiting join is answered (the leader with the member list).
func (c *Coordinator) completeJoin(g *group) {
	cg := g.classic
	for id, m := range cg.members {
		if m.joinWait == nil {
			c.logger.Info("removing group member that did not rejoin", "group", g.id, "member", id)
			c.removeMember(g, m)
		}
	}
	cg.generation++
	c.rebalances.Classic.Add(1)
	if len(cg.members) == 0 {
		cg.state, cg.protocol, cg.leader = stateEmpty, "", ""
		g.emptySince = c.cfg.Now()
		c.persistGroup(g)
		return
	}
	if _, ok := cg.members[cg.leader]; !ok {
		cg.leader = cg.firstMember()
	}
	cg.protocol = cg.selectProtocol()
	cg.state = stateCompletingRebalance
	var all []kmsg.JoinGroupResponseMember
	for _, id := range cg.sortedIDs() {
		m := cg.members[id]
		jm := kmsg.JoinGroupResponseMember{MemberID: m.id, ProtocolMetadata: m.metadataFor(cg.protocol)}
		if m.instanceID != "" {
			jm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		all = append(all, jm)
	}
	for _, m := range cg.members {
		r := kmsg.NewPtrJoinGroupResponse()
		c.fillJoin(cg, m, r)
		if m.id == cg.leader {
			r.Members = all
		}
		m.isNew = false
		m.joinWait <- r
		m.joinWait = nil
		c.armSession(g, m)
	}
	c.logger.Info("group join phase complete", "group", g.id, "generation", cg.generation, "members", len(cg.members), "protocol", cg.protocol)
	// Members that never send SyncGroup are removed after the rebalance timeout.
	gen := cg.generation
	cg.syncTimer = time.AfterFunc(cg.rebalanceTimeout(), func() { c.syncDeadline(g, gen) })
}

func (c *Coordinator) syncDeadline(g *group, gen int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cg := g.classic
	if c.closed || cg == nil || cg.state != stateCompletingRebalance || cg.generation != gen {
		return
	}
	cg.syncTimer = nil
	for _, m := range cg.members {
		if m.syncWait == nil {
			c.removeMember(g, m)
		}
	}
	c.prepareRebalance(g, "members did not sync in time")
	if len(cg.members) == 0 {
		c.completeJoin(g)
	}
}

func (cg *classicGroup) firstMember() string {
	ids := cg.sortedIDs()
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

func (cg *classicGroup) sortedIDs() []string {
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// selectProtocol picks the protocol every member supports with the most first-preference
// votes, as Kafka does (ties go to the earliest in the leader's list).
func (cg *classicGroup) selectProtocol() string {
	var candidates []string
	leader := cg.members[cg.leader]
	if leader == nil || len(leader.protocols) == 0 {
		return ""
	}
	for _, p := range leader.protocols {
		all := true
		for _, m := range cg.members {
			if !hasProtocol(m.protocols, p.Name) {
				all = false
				break
			}
		}
		if all {
			candidates = append(candidates, p.Name)
		}
	}
	if len(candidates) == 0 {
		return leader.protocols[0].Name
	}
	votes := make(map[string]int)
	for _, m := range cg.members {
		for _, p := range m.protocols {
			if containsString(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := candidates[0]
	for _, name := range candidates {
		if votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// removeMember drops a member (expiry, leave, missed rebalance); mu is held.
func (c *Coordinator) removeMember(g *group, m *member) {
	cg := g.classic
	m.stopTimer()
	c.failJoin(m, kerr.UnknownMemberID.Code)
	c.failSync(m, kerr.UnknownMemberID.Code)
	delete(cg.members, m.id)
	if m.instanceID != "" && cg.static[m.instanceID] == m.id {
		delete(cg.static, m.instanceID)
	}
	if cg.leader == m.id {
		cg.leader = cg.firstMember()
	}
}

func (c *Coordinator) failJoin(m *member, code int16) {
	if m.joinWait != nil {
		m.joinWait <- errResp(code)
		m.joinWait = nil
	}
}

func (c *Coordinator) failSync(m *member, code int16) {
	if m.syncWait != nil {
		r := kmsg.NewPtrSyncGroupResponse()
		r.ErrorCode = code
		m.syncWait <- r
		m.syncWait = nil
	}
}

// armSession (re)starts a member's session timer; mu is held.
func (c *Coordinator) armSession(g *group, m *member) {
	m.stopTimer()
	d := m.sessionTimeout
	if g.classic != nil && g.classic.state == statePreparingRebalance && m.joinWait != nil {
		// A member waiting in JoinGroup is alive until the join phase ends.
		d = max(d, m.rebalanceTimeout)
	}
	m.timer = time.AfterFunc(d, func() { c.expireMember(g, m) })
}

func (c *Coordinator) expireMember(g *group, m *member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cg := g.classic
	if c.closed || cg == nil || cg.members[m.id] != m {
		return
	}
	if m.joinWait != nil || m.syncWait != nil {
		c.armSession(g, m) // still waiting on us; not dead
		return
	}
	c.logger.Info("group member session expired", "group", g.id, "member", m.id)
	c.memberGone(g, m, "session timeout of "+m.id)
}

// memberGone removes a member and moves the group on; mu is held.
func (c *Coordinator) memberGone(g *group, m *member, reason string) {
	cg := g.classic
	c.removeMember(g, m)
	switch cg.state {
	case statePreparingRebalance:
		if len(cg.members) == 0 || cg.allJoined() {
			if cg.joinTimer != nil {
				cg.joinTimer.Stop()
				cg.joinTimer = nil
			}
			c.completeJoin(g)
		}
	case stateCompletingRebalance, stateStable:
		if len(cg.members) == 0 {
			cg.stopTimers()
			cg.generation++
			cg.state, cg.protocol, cg.leader = stateEmpty, "", ""
			g.emptySince = c.cfg.Now()
			c.persistGroup(g)
			return
		}
		c.prepareRebalance(g, reason)
	}
}

func (c *Coordinator) expirePending(g *group, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cg := g.classic
	if cg == nil {
		return
	}
	if _, ok := cg.pending[id]; ok {
		delete(cg.pending, id)
		c.maybeCompleteJoin(g)
	}
}
