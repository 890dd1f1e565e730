package group

// The KIP-848 consumer group protocol: ConsumerGroupHeartbeat and ConsumerGroupDescribe. The
// coordinator keeps a group epoch (bumped when membership or subscriptions change), computes a
// target assignment with a server-side assignor (package assign), and reconciles each member
// towards it: partitions are revoked first, and a partition is given to its new owner only once
// its previous owner has stopped reporting it.

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/group/assign"
)

// consumerGroup is the membership of a group using the consumer protocol.
type consumerGroup struct {
	epoch           int32
	assignmentEpoch int32
	assignor        string
	members         map[string]*consumerMember
	target          map[string]assign.Partitions
	// subscription describes the topics (and partition counts) the target was computed from;
	// when topics matching a subscription appear, disappear or grow, the group epoch is bumped.
	subscription string
}

type consumerMember struct {
	id, instanceID, rack string
	clientID, clientHost string
	rebalanceTimeout     time.Duration
	topicNames           []string
	regex                string
	serverAssignor       string
	epoch, previousEpoch int32
	assigned             assign.Partitions // what the member owns (as told by us)
	revoking             assign.Partitions // what it must give up before advancing
	// describeTopic filters what the regex matches: the member's principal's DESCRIBE, from its
	// latest heartbeat (nil: none given).
	describeTopic         func(string) bool
	timer, revocationTime *time.Timer
	left                  bool // a static member that left temporarily (epoch -2)
	// classic is set for a member that speaks the classic protocol (JoinGroup, SyncGroup,
	// Heartbeat) in this consumer group, after an online upgrade (migrate.go).
	classic *classicMembership
}

type consumerDoc struct {
	Epoch           int32                         `json:"epoch"`
	AssignmentEpoch int32                         `json:"assignment_epoch"`
	Assignor        string                        `json:"assignor"`
	Members         []consumerMemberDoc           `json:"members"`
	Target          map[string]map[string][]int32 `json:"target"`
}

type consumerMemberDoc struct {
	ID                 string             `json:"id"`
	InstanceID         string             `json:"instance_id,omitempty"`
	Rack               string             `json:"rack,omitempty"`
	ClientID           string             `json:"client_id"`
	ClientHost         string             `json:"client_host"`
	RebalanceTimeoutMs int64              `json:"rebalance_timeout_ms"`
	TopicNames         []string           `json:"topics,omitempty"`
	Regex              string             `json:"regex,omitempty"`
	ServerAssignor     string             `json:"server_assignor,omitempty"`
	Epoch              int32              `json:"epoch"`
	PreviousEpoch      int32              `json:"previous_epoch"`
	Assigned           map[string][]int32 `json:"assigned"`
	Revoking           map[string][]int32 `json:"revoking,omitempty"`
	// A member speaking the classic protocol: its session timeout and offered protocols.
	ClassicSessionTimeoutMs int64                           `json:"classic_session_timeout_ms,omitempty"`
	ClassicProtocols        []kmsg.JoinGroupRequestProtocol `json:"classic_protocols,omitempty"`
}

func encodeParts(p assign.Partitions) map[string][]int32 {
	out := make(map[string][]int32, len(p))
	for id, parts := range p {
		out[topicIDString(id)] = append([]int32(nil), parts...)
	}
	return out
}

func decodeParts(m map[string][]int32) assign.Partitions {
	out := make(assign.Partitions, len(m))
	for s, parts := range m {
		if id, ok := parseTopicID(s); ok {
			out[id] = append([]int32(nil), parts...)
		}
	}
	return out
}

func (cg *consumerGroup) doc() *consumerDoc {
	d := &consumerDoc{Epoch: cg.epoch, AssignmentEpoch: cg.assignmentEpoch, Assignor: cg.assignor, Target: make(map[string]map[string][]int32)}
	for _, id := range cg.sortedIDs() {
		m := cg.members[id]
		md := consumerMemberDoc{ID: m.id, InstanceID: m.instanceID, Rack: m.rack, ClientID: m.clientID,
			ClientHost: m.clientHost, RebalanceTimeoutMs: m.rebalanceTimeout.Milliseconds(), TopicNames: m.topicNames,
			Regex: m.regex, ServerAssignor: m.serverAssignor, Epoch: m.epoch, PreviousEpoch: m.previousEpoch,
			Assigned: encodeParts(m.assigned), Revoking: encodeParts(m.revoking)}
		if m.classic != nil {
			md.ClassicSessionTimeoutMs, md.ClassicProtocols = m.classic.sessionTimeout.Milliseconds(), m.classic.protocols
		}
		d.Members = append(d.Members, md)
	}
	for id, p := range cg.target {
		d.Target[id] = encodeParts(p)
	}
	return d
}

func restoreConsumer(d *consumerDoc) *consumerGroup {
	cg := &consumerGroup{epoch: d.Epoch, assignmentEpoch: d.AssignmentEpoch, assignor: d.Assignor,
		members: make(map[string]*consumerMember), target: make(map[string]assign.Partitions)}
	for _, md := range d.Members {
		cg.members[md.ID] = &consumerMember{id: md.ID, instanceID: md.InstanceID, rack: md.Rack, clientID: md.ClientID,
			clientHost: md.ClientHost, rebalanceTimeout: time.Duration(md.RebalanceTimeoutMs) * time.Millisecond,
			topicNames: md.TopicNames, regex: md.Regex, serverAssignor: md.ServerAssignor, epoch: md.Epoch,
			previousEpoch: md.PreviousEpoch, assigned: decodeParts(md.Assigned), revoking: decodeParts(md.Revoking)}
		if len(md.ClassicProtocols) > 0 {
			cg.members[md.ID].classic = &classicMembership{protocols: md.ClassicProtocols,
				sessionTimeout: time.Duration(md.ClassicSessionTimeoutMs) * time.Millisecond}
		}
	}
	for id, p := range d.Target {
		cg.target[id] = decodeParts(p)
	}
	return cg
}

func (cg *consumerGroup) sortedIDs() []string {
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// stateName is Kafka's ConsumerGroupState name.
func (cg *consumerGroup) stateName() string {
	switch {
	case len(cg.members) == 0:
		return "Empty"
	case cg.assignmentEpoch < cg.epoch:
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignmentEpoch || len(m.revoking) > 0 {
			return "Reconciling"
		}
	}
	return "Stable"
}

// ConsumerGroupHeartbeat serves the consumer protocol's only membership request.
func (c *Coordinator) ConsumerGroupHeartbeat(ctx context.Context, version int16, req *kmsg.ConsumerGroupHeartbeatRequest, client ClientInfo) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	wait, code, msg := c.consumerHeartbeat(version, req, client, resp)
	if code == 0 && wait != nil {
		if err := wait(ctx); err != nil {
			code, msg = kerr.CoordinatorNotAvailable.Code, "the group's state could not be written"
		}
	}
	if code != 0 {
		resp.ErrorCode = code
		resp.ErrorMessage = kmsg.StringPtr(msg)
		resp.Assignment = nil
	}
	return resp
}

func (c *Coordinator) consumerHeartbeat(version int16, req *kmsg.ConsumerGroupHeartbeatRequest, client ClientInfo,
	resp *kmsg.ConsumerGroupHeartbeatResponse) (func(context.Context) error, int16, string) {
	if code, msg := validateConsumerHeartbeat(version, req); code != 0 {
		return nil, code, msg
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, notCoordinator, "the coordinator is shutting down"
	}
	if c.groups[req.Group] == nil && c.cfg.OtherGroup(req.Group) {
		return nil, kerr.GroupIDNotFound.Code, "Group " + req.Group + " is not a consumer group."
	}
	g := c.getGroup(req.Group, req.MemberEpoch == 0)
	if g == nil {
		return nil, kerr.UnknownMemberID.Code, "unknown group"
	}
	if g.classic != nil && len(g.classic.members) > 0 {
		if req.MemberEpoch != 0 {
			return nil, kerr.UnknownMemberID.Code, "unknown member " + req.MemberID
		}
		if code, msg := c.upgrade(g); code != 0 {
			return nil, code, msg
		}
	}
	if g.consumer == nil {
		g.classic = nil
		g.consumer = &consumerGroup{members: make(map[string]*consumerMember), target: make(map[string]assign.Partitions)}
	}
	cg := g.consumer
	instanceID := strOrEmpty(req.InstanceID)
	if req.MemberEpoch < 0 {
		return c.consumerLeave(g, req, instanceID, resp)
	}
	m, code, msg := c.consumerMemberFor(g, version, req, client, instanceID)
	if code != 0 {
		return nil, code, msg
	}
	m.describeTopic = client.DescribeTopic
	changed := m.update(req)
	if len(cg.members) == 0 || cg.members[m.id] != m {
		cg.members[m.id] = m
		changed = true
	}
	assignor := c.pickAssignor(cg)
	if _, ok := assign.Lookup(assignor); !ok {
		delete(cg.members, m.id)
		return nil, kerr.UnsupportedAssignor.Code, "unknown server assignor " + assignor
	}
	if sub := c.subscriptionKey(cg); changed || cg.assignor != assignor || sub != cg.subscription {
		cg.epoch++
		c.rebalances.Consumer.Add(1)
		cg.assignor, cg.subscription = assignor, sub
	}
	if cg.assignmentEpoch < cg.epoch {
		c.computeTarget(cg)
	}
	owned := m.assigned
	if req.Topics != nil {
		owned = partitionsFromRequest(req.Topics)
	}
	c.reconcile(g, m, owned)
	c.armConsumerSession(g, m)
	resp.MemberID = kmsg.StringPtr(m.id)
	resp.MemberEpoch = m.epoch
	resp.HeartbeatIntervalMillis = int32(c.cfg.ConsumerHeartbeatInterval.Milliseconds())
	resp.Assignment = toResponseAssignment(m.assigned)
	return c.persistGroup(g), 0, ""
}

func validateConsumerHeartbeat(version int16, req *kmsg.ConsumerGroupHeartbeatRequest) (int16, string) {
	switch {
	case req.Group == "":
		return kerr.InvalidGroupID.Code, "GroupId can't be empty."
	case req.InstanceID != nil && *req.InstanceID == "":
		return kerr.InvalidRequest.Code, "InstanceId can't be empty."
	case req.RackID != nil && *req.RackID == "":
		return kerr.InvalidRequest.Code, "RackId can't be empty."
	case version >= 1 && req.MemberID == "":
		return kerr.InvalidRequest.Code, "MemberId can't be empty."
	}
	if req.MemberEpoch == 0 {
		switch {
		case req.RebalanceTimeoutMillis == -1:
			return kerr.InvalidRequest.Code, "RebalanceTimeoutMs must be provided in first request."
		case req.Topics == nil || len(req.Topics) > 0:
			return kerr.InvalidRequest.Code, "TopicPartitions must be empty when (re-)joining."
		case len(req.SubscribedTopicNames) == 0 && req.SubscribedTopicRegex == nil:
			return kerr.InvalidRequest.Code, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
		}
	} else if req.MemberEpoch < -2 {
		return kerr.InvalidRequest.Code, "MemberEpoch is invalid."
	}
	if req.SubscribedTopicRegex != nil {
		if _, err := regexp.Compile(*req.SubscribedTopicRegex); err != nil {
			return kerr.InvalidRegularExpression.Code, "SubscribedTopicRegex is not a valid regular expression."
		}
	}
	return 0, ""
}

// consumerMemberFor finds or creates the member a heartbeat is from; mu is held.
func (c *Coordinator) consumerMemberFor(g *group, version int16, req *kmsg.ConsumerGroupHeartbeatRequest, client ClientInfo,
	instanceID string) (*consumerMember, int16, string) {
	cg := g.consumer
	m := cg.members[req.MemberID]
	if req.MemberEpoch == 0 {
		if instanceID != "" {
			for _, old := range cg.members {
				if old.instanceID != instanceID || old.id == req.MemberID {
					continue
				}
				if !old.left {
					return nil, kerr.UnreleasedInstanceID.Code, "instance " + instanceID + " is still in use"
				}
				// A static member comes back: it takes over its previous assignment.
				delete(cg.members, old.id)
				if old.timer != nil {
					old.timer.Stop()
				}
				id := req.MemberID
				if id == "" {
					id = newMemberID(instanceID)
				}
				nm := *old
				nm.id, nm.left, nm.timer, nm.revocationTime = id, false, nil, nil
				nm.clientID, nm.clientHost = client.ClientID, client.Host
				cg.target[id] = cg.target[old.id]
				delete(cg.target, old.id)
				// The replacement takes over membership and assignment: no new group epoch.
				cg.members[id] = &nm
				return &nm, 0, ""
			}
		}
		if m != nil {
			// A member rejoining at epoch 0 starts over (it lost its assignment).
			m.assigned, m.revoking, m.epoch = assign.Partitions{}, nil, 0
			return m, 0, ""
		}
		if c.cfg.ConsumerMaxSize > 0 && len(cg.members) >= c.cfg.ConsumerMaxSize {
			return nil, kerr.GroupMaxSizeReached.Code, "the group is full"
		}
		id := req.MemberID
		if id == "" {
			id = newMemberID(client.ClientID)
		}
		return &consumerMember{id: id, instanceID: instanceID, clientID: client.ClientID, clientHost: client.Host,
			assigned: assign.Partitions{}}, 0, ""
	}
	if m == nil {
		return nil, kerr.UnknownMemberID.Code, "unknown member " + req.MemberID
	}
	if req.MemberEpoch != m.epoch {
		// A member whose last response was lost may repeat its previous epoch, as long as it
		// does not claim partitions it no longer has (Kafka's throwIfMemberEpochIsInvalid).
		if !(req.MemberEpoch == m.previousEpoch && req.Topics != nil && subset(partitionsFromRequest(req.Topics), m.assigned)) {
			return nil, kerr.FencedMemberEpoch.Code, "the member epoch is stale"
		}
	}
	return m, 0, ""
}

// update applies the non-null fields of a heartbeat; it reports a subscription change.
func (m *consumerMember) update(req *kmsg.ConsumerGroupHeartbeatRequest) bool {
	changed := false
	if req.RebalanceTimeoutMillis > 0 {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if req.RackID != nil {
		m.rack = *req.RackID
	}
	if req.InstanceID != nil {
		m.instanceID = *req.InstanceID
	}
	if req.SubscribedTopicNames != nil {
		names := append([]string(nil), req.SubscribedTopicNames...)
		sort.Strings(names)
		if !equalStrings(names, m.topicNames) {
			m.topicNames, changed = names, true
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regex {
		m.regex, changed = *req.SubscribedTopicRegex, true
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.serverAssignor {
		m.serverAssignor, changed = *req.ServerAssignor, true
	}
	return changed
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// pickAssignor is the assignor the members ask for (the lowest member id's choice), else the
// broker's default.
func (c *Coordinator) pickAssignor(cg *consumerGroup) string {
	for _, id := range cg.sortedIDs() {
		if a := cg.members[id].serverAssignor; a != "" {
			return a
		}
	}
	return c.cfg.ConsumerAssignors[0]
}

// consumerTopics resolves a member's subscription (names and regex) to existing topic names.
func (c *Coordinator) consumerTopics(m *consumerMember) []string {
	seen := make(map[string]bool)
	var out []string
	for _, n := range m.topicNames {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if m.regex != "" {
		allowed := m.describeTopic
		if allowed == nil && c.cfg.RegexNeedsAuthorization {
			// A member restored from the journal has not heartbeated with its principal's
			// filter yet: it keeps what it was already assigned (all of which it was allowed),
			// so a restart neither leaks topics nor reshuffles partitions.
			allowed = func(n string) bool {
				id, _, ok := c.topics.Partitions(n)
				return ok && len(m.assigned[id]) > 0
			}
		}
		if re, err := regexp.Compile("^(?:" + m.regex + ")$"); err == nil {
			for _, n := range c.topics.Names() {
				if re.MatchString(n) && !seen[n] && (allowed == nil || allowed(n)) {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// subscriptionKey summarizes the topics the members' subscriptions resolve to, with their
// partition counts, so a topic created, deleted or grown under a subscription (a regex above all)
// triggers a new target assignment, as Kafka's subscription metadata does.
func (c *Coordinator) subscriptionKey(cg *consumerGroup) string {
	seen := make(map[string]bool)
	var names []string
	for _, m := range cg.members {
		for _, n := range c.consumerTopics(m) {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		_, parts, ok := c.topics.Partitions(n)
		if ok {
			fmt.Fprintf(&b, "%q:%d,", n, parts)
		}
	}
	return b.String()
}

// computeTarget runs the assignor over the current members and subscriptions; mu is held.
func (c *Coordinator) computeTarget(cg *consumerGroup) {
	spec := assign.Spec{Topics: make(map[assign.TopicID]assign.Topic)}
	for _, id := range cg.sortedIDs() {
		m := cg.members[id]
		am := assign.Member{ID: m.id, InstanceID: m.instanceID, Rack: m.rack, Current: cg.target[m.id]}
		for _, name := range c.consumerTopics(m) {
			tid, parts, ok := c.topics.Partitions(name)
			if !ok {
				continue
			}
			spec.Topics[tid] = assign.Topic{ID: tid, Name: name, Partitions: parts}
			am.Topics = append(am.Topics, tid)
		}
		spec.Members = append(spec.Members, am)
	}
	a, ok := assign.Lookup(cg.assignor)
	if !ok { // a journal from a build with other assignors
		cg.assignor = c.cfg.ConsumerAssignors[0]
		if a, ok = assign.Lookup(cg.assignor); !ok {
			a = assign.Uniform()
		}
	}
	cg.target = a.Assign(spec)
	cg.assignmentEpoch = cg.epoch
}

// reconcile moves a member towards its target assignment (Kafka's CurrentAssignmentBuilder):
// it first revokes what the target takes away, and only then advances to the assignment epoch
// and receives new partitions that no other member still owns.
func (c *Coordinator) reconcile(g *group, m *consumerMember, owned assign.Partitions) {
	cg := g.consumer
	target := cg.target[m.id]
	if len(m.revoking) > 0 {
		if overlaps(owned, m.revoking) {
			return // still revoking; keep the epoch until the client drops them
		}
		m.revoking = nil
		if m.revocationTime != nil {
			m.revocationTime.Stop()
			m.revocationTime = nil
		}
	}
	if m.epoch < cg.assignmentEpoch {
		revoke := minus(m.assigned, target)
		if len(revoke) > 0 && overlaps(owned, revoke) {
			m.revoking = revoke
			m.assigned = minus(m.assigned, revoke)
			d := m.rebalanceTimeout
			if d <= 0 {
				d = c.cfg.ConsumerSessionTimeout
			}
			id := m.id
			m.revocationTime = time.AfterFunc(d, func() { c.revocationExpired(g, id) })
			return
		}
		m.previousEpoch, m.epoch = m.epoch, cg.assignmentEpoch
	}
	// Grant the target partitions nobody else still holds.
	held := make(map[assign.TopicID]map[int32]bool)
	for id, o := range cg.members {
		if id == m.id {
			continue
		}
		for _, set := range []assign.Partitions{o.assigned, o.revoking} {
			for t, ps := range set {
				if held[t] == nil {
					held[t] = make(map[int32]bool)
				}
				for _, p := range ps {
					held[t][p] = true
				}
			}
		}
	}
	next := assign.Partitions{}
	for t, ps := range target {
		for _, p := range ps {
			if !held[t][p] {
				next[t] = append(next[t], p)
			}
		}
	}
	for t := range next {
		sort.Slice(next[t], func(i, j int) bool { return next[t][i] < next[t][j] })
	}
	m.assigned = next
}

func (c *Coordinator) revocationExpired(g *group, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cg := g.consumer
	if c.closed || cg == nil || cg.members[id] == nil || len(cg.members[id].revoking) == 0 {
		return
	}
	c.logger.Info("consumer group member did not revoke partitions in time", "group", g.id, "member", id)
	c.removeConsumerMember(g, cg.members[id])
}

// consumerLeave handles epoch -1 (leave) and -2 (a static member leaving for now).
func (c *Coordinator) consumerLeave(g *group, req *kmsg.ConsumerGroupHeartbeatRequest, instanceID string,
	resp *kmsg.ConsumerGroupHeartbeatResponse) (func(context.Context) error, int16, string) {
	cg := g.consumer
	m := cg.members[req.MemberID]
	if m == nil && instanceID != "" {
		for _, o := range cg.members {
			if o.instanceID == instanceID {
				m = o
			}
		}
	}
	if m == nil {
		return nil, kerr.UnknownMemberID.Code, "unknown member " + req.MemberID
	}
	resp.MemberID = kmsg.StringPtr(m.id)
	resp.MemberEpoch = req.MemberEpoch
	if req.MemberEpoch == -2 && m.instanceID != "" {
		m.left = true
		c.armConsumerSession(g, m) // its assignment is kept for the session timeout
		return c.persistGroup(g), 0, ""
	}
	c.logger.Info("consumer group member left", "group", g.id, "member", m.id)
	c.removeConsumerMember(g, m)
	return c.persistGroup(g), 0, ""
}

// removeConsumerMember drops a member and bumps the group epoch; mu is held.
func (c *Coordinator) removeConsumerMember(g *group, m *consumerMember) {
	cg := g.consumer
	if m.timer != nil {
		m.timer.Stop()
	}
	if m.revocationTime != nil {
		m.revocationTime.Stop()
	}
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	cg.epoch++
	c.rebalances.Consumer.Add(1)
	if len(cg.members) == 0 {
		g.emptySince = c.cfg.Now()
		cg.assignmentEpoch = cg.epoch
		return
	}
	c.computeTarget(cg)
	c.maybeDowngrade(g, m)
}

func (c *Coordinator) armConsumerSession(g *group, m *consumerMember) {
	if m.timer != nil {
		m.timer.Stop()
	}
	id := m.id
	d := c.cfg.ConsumerSessionTimeout
	if m.classic != nil && m.classic.sessionTimeout > 0 {
		d = m.classic.sessionTimeout // a classic member's own session.timeout.ms
	}
	m.timer = time.AfterFunc(d, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		cg := g.consumer
		if c.closed || cg == nil || cg.members[id] != m {
			return
		}
		c.logger.Info("consumer group member session expired", "group", g.id, "member", id)
		c.removeConsumerMember(g, m)
		c.persistGroup(g)
	})
}

// validateConsumerCommit checks an offset commit against a consumer-protocol group.
func (c *Coordinator) validateConsumerCommit(g *group, version int16, memberID string, epoch int32) int16 {
	m := g.consumer.members[memberID]
	switch {
	case memberID == "" && epoch < 0 && len(g.consumer.members) == 0:
		return 0
	case m == nil:
		return kerr.UnknownMemberID.Code
	case m.classic != nil:
		// A classic member commits with its generation, which is its member epoch.
		if epoch != m.epoch {
			return kerr.IllegalGeneration.Code
		}
		return 0
	case version < 9:
		return kerr.UnsupportedVersion.Code
	case epoch != m.epoch:
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// validateConsumerFetch checks OffsetFetch v9+ member fields against a consumer-protocol group.
func (c *Coordinator) validateConsumerFetch(g *group, memberID string, epoch int32) int16 {
	m := g.consumer.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case epoch != m.epoch:
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// ConsumerGroupDescribe serves ConsumerGroupDescribe.
func (c *Coordinator) ConsumerGroupDescribe(version int16, req *kmsg.ConsumerGroupDescribeRequest) *kmsg.ConsumerGroupDescribeResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	names := c.topicNamesByID()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range req.Groups {
		out := kmsg.NewConsumerGroupDescribeResponseGroup()
		out.Group = id
		out.AuthorizedOperations = -2147483648
		g := c.groups[id]
		switch {
		case g == nil:
			out.ErrorCode = kerr.GroupIDNotFound.Code
			out.ErrorMessage = kmsg.StringPtr("Group " + id + " not found.")
		case g.consumer == nil:
			out.ErrorCode = kerr.GroupIDNotFound.Code
			out.ErrorMessage = kmsg.StringPtr("Group " + id + " is not a consumer group.")
		default:
			cg := g.consumer
			out.State, out.Epoch, out.AssignmentEpoch, out.AssignorName = cg.stateName(), cg.epoch, cg.assignmentEpoch, cg.assignor
			for _, mid := range cg.sortedIDs() {
				m := cg.members[mid]
				dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
				dm.MemberID, dm.MemberEpoch, dm.ClientID, dm.ClientHost = m.id, m.epoch, m.clientID, m.clientHost
				dm.SubscribedTopics = m.topicNames
				if m.instanceID != "" {
					dm.InstanceID = kmsg.StringPtr(m.instanceID)
				}
				if m.rack != "" {
					dm.RackID = kmsg.StringPtr(m.rack)
				}
				if m.regex != "" {
					dm.SubscribedTopicRegex = kmsg.StringPtr(m.regex)
				}
				dm.Assignment = toDescribeAssignment(m.assigned, names)
				dm.TargetAssignment = toDescribeAssignment(cg.target[m.id], names)
				dm.MemberType = 1 // consumer
				if m.classic != nil {
					dm.MemberType = 0 // classic
				}
				out.Members = append(out.Members, dm)
			}
		}
		resp.Groups = append(resp.Groups, out)
	}
	return resp
}

// toDescribeAssignment lists an assignment with topic ids and names, as Kafka does.
func toDescribeAssignment(p assign.Partitions, names map[assign.TopicID]string) kmsg.Assignment {
	var a kmsg.Assignment
	for _, t := range sortedTopicIDs(p) {
		a.TopicPartitions = append(a.TopicPartitions, kmsg.AssignmentTopicPartition{TopicID: t, Topic: names[t], Partitions: p[t]})
	}
	return a
}

// topicNamesByID maps the cluster's topic ids to names (called without mu).
func (c *Coordinator) topicNamesByID() map[assign.TopicID]string {
	out := make(map[assign.TopicID]string)
	for _, name := range c.topics.Names() {
		if id, _, ok := c.topics.Partitions(name); ok {
			out[id] = name
		}
	}
	return out
}

func toResponseAssignment(p assign.Partitions) *kmsg.ConsumerGroupHeartbeatResponseAssignment {
	a := &kmsg.ConsumerGroupHeartbeatResponseAssignment{Topics: []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}}
	for _, t := range sortedTopicIDs(p) {
		a.Topics = append(a.Topics, kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{TopicID: t, Partitions: append([]int32(nil), p[t]...)})
	}
	return a
}

func sortedTopicIDs(p assign.Partitions) []assign.TopicID {
	ids := make([]assign.TopicID, 0, len(p))
	for t, ps := range p {
		if len(ps) > 0 {
			ids = append(ids, t)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return topicIDString(ids[i]) < topicIDString(ids[j]) })
	return ids
}

func partitionsFromRequest(ts []kmsg.ConsumerGroupHeartbeatRequestTopic) assign.Partitions {
	out := assign.Partitions{}
	for _, t := range ts {
		out[t.TopicID] = append(out[t.TopicID], t.Partitions...)
	}
	return out
}

func overlaps(a, b assign.Partitions) bool {
	for t, ps := range a {
		for _, p := range ps {
			for _, q := range b[t] {
				if p == q {
					return true
				}
			}
		}
	}
	return false
}

func subset(a, b assign.Partitions) bool {
	for t, ps := range a {
		for _, p := range ps {
			found := false
			for _, q := range b[t] {
				if p == q {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

// minus returns a without the partitions in b.
func minus(a, b assign.Partitions) assign.Partitions {
	out := assign.Partitions{}
	for t, ps := range a {
		for _, p := range ps {
			drop := false
			for _, q := range b[t] {
				if p == q {
					drop = true
					break
				}
			}
			if !drop {
				out[t] = append(out[t], p)
			}
		}
	}
	return out
}

func topicIDString(id assign.TopicID) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 32)
	for i, v := range id {
		b[2*i], b[2*i+1] = hexdigits[v>>4], hexdigits[v&15]
	}
	return string(b)
}

func parseTopicID(s string) (assign.TopicID, bool) {
	var id assign.TopicID
	if len(s) != 32 {
		return id, false
	}
	for i := range id {
		hi, lo := unhex(s[2*i]), unhex(s[2*i+1])
		if hi < 0 || lo < 0 {
			return id, false
		}
		id[i] = byte(hi<<4 | lo)
	}
	return id, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}
