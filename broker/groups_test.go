package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// fastGroups makes group tests quick: no initial rebalance delay, short session floors.
func fastGroups() testOption {
	return withConfig(func(c *config.Config) {
		for k, v := range map[string]string{
			"group.initial.rebalance.delay.ms":     "0",
			"group.min.session.timeout.ms":         "1000",
			"group.consumer.heartbeat.interval.ms": "500",
			"group.consumer.session.timeout.ms":    "6000",
		} {
			if err := c.Set(k, v); err != nil {
				panic(err)
			}
		}
	})
}

// groupMember is a consumer-group member that records what it owns and what it consumed.
type groupMember struct {
	name string
	cl   *kgo.Client
	mu   sync.Mutex
	own  map[int32]bool
	seen map[string]bool
	// revokes counts revocations that took partitions away.
	revokes int
	stop    context.CancelFunc
	done    chan struct{}
}

func startMember(t *testing.T, b *testBroker, name, groupID, topic string, opts ...kgo.Opt) *groupMember {
	t.Helper()
	m := &groupMember{name: name, own: map[int32]bool{}, seen: map[string]bool{}, done: make(chan struct{})}
	base := []kgo.Opt{kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.SessionTimeout(6 * time.Second), kgo.RebalanceTimeout(10 * time.Second), kgo.ClientID(name),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			for _, p := range a[topic] {
				m.own[p] = true
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			_ = cl.CommitMarkedOffsets(ctx)
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.own, p)
			}
			if len(r[topic]) > 0 {
				m.revokes++
				if os.Getenv("BULWARK_TEST_LOG") != "" {
					fmt.Fprintf(os.Stderr, "%s REVOKED %v at %s\n", name, r[topic], time.Now().Format("15:04:05.000"))
				}
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			m.mu.Lock()
			for _, p := range l[topic] {
				delete(m.own, p)
			}
			m.mu.Unlock()
		}),
		kgo.AutoCommitMarks(), kgo.AutoCommitInterval(200 * time.Millisecond),
		kgo.WithLogger(testKgoLogger(name)),
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(b.Addr)}, base...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				m.mu.Lock()
				m.seen[string(r.Value)] = true
				m.mu.Unlock()
				cl.MarkCommitRecords(r)
			})
		}
	}()
	t.Cleanup(m.close)
	return m
}

// close stops polling, commits what was consumed and leaves the group.
func (m *groupMember) close() {
	if m.stop == nil {
		return
	}
	m.stop()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.cl.CommitMarkedOffsets(ctx)
	m.cl.Close()
	m.stop = nil
}

func (m *groupMember) owned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.own {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// partitionsSplit reports whether the members own disjoint sets covering 0..n-1, none empty.
func partitionsSplit(n int32, members ...*groupMember) bool {
	seen := map[int32]int{}
	for _, m := range members {
		own := m.owned()
		if len(own) == 0 {
			return false
		}
		for _, p := range own {
			seen[p]++
		}
	}
	for p := range n {
		if seen[p] != 1 {
			return false
		}
	}
	return len(seen) == int(n)
}

func TestConsumerGroupsRebalance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"range", []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}},
		{"cooperative-sticky", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())}},
		{"kip848-uniform", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer()}},
		{"kip848-range", []kgo.Opt{kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBroker(t, fastGroups())
			adm := b.Admin(t)
			mustCreateTopic(t, adm, "events", 6, nil)
			const n = 600
			produceN(t, b.Client(t), "events", n)

			a := startMember(t, b, "a", "grp", "events", tc.opts...)
			waitFor(t, "a to own every partition", 20*time.Second, func() bool { return partitionsSplit(6, a) })
			c := startMember(t, b, "c", "grp", "events", tc.opts...)
			waitFor(t, "a and c to split the partitions", 30*time.Second, func() bool { return partitionsSplit(6, a, c) })
			d := startMember(t, b, "d", "grp", "events", tc.opts...)
			waitFor(t, "three members to split the partitions", 30*time.Second, func() bool { return partitionsSplit(6, a, c, d) })
			c.close()
			waitFor(t, "a and d to take over c's partitions", 30*time.Second, func() bool { return partitionsSplit(6, a, d) })

			waitFor(t, "every record to be consumed", 30*time.Second, func() bool {
				total := map[string]bool{}
				for _, m := range []*groupMember{a, c, d} {
					m.mu.Lock()
					for v := range m.seen {
						total[v] = true
					}
					m.mu.Unlock()
				}
				return len(total) == n
			})
			a.close()
			d.close()
			ctx := testContext(t)
			offs, err := adm.FetchOffsets(ctx, "grp")
			if err != nil {
				t.Fatal(err)
			}
			ends, err := adm.ListEndOffsets(ctx, "events")
			if err != nil {
				t.Fatal(err)
			}
			ends.Each(func(e kadm.ListedOffset) {
				o, ok := offs.Lookup("events", e.Partition)
				if !ok || o.At != e.Offset {
					t.Errorf("partition %d: committed %+v, end offset %d", e.Partition, o, e.Offset)
				}
			})
			groups, err := adm.ListGroups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := groups["grp"]; !ok {
				t.Fatalf("ListGroups does not show grp: %v", groups.Groups())
			}
		})
	}
}

// rawClient sends raw requests to the broker.
func rawClient(t *testing.T, b *testBroker) (*kgo.Client, context.Context) {
	return b.Client(t), testContext(t)
}

func TestClassicGroupProtocolErrors(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	cl, ctx := rawClient(t, b)
	mustCreateTopic(t, b.Admin(t), "t", 2, nil)

	join := func(member, instance string, session int32) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "g", member, session, 5000
		req.ProtocolType = "consumer"
		if instance != "" {
			req.InstanceID = kmsg.StringPtr(instance)
		}
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := join("", "", 10); r.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("session timeout 10 ms: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	r := join("", "", 6000)
	if r.ErrorCode != kerr.MemberIDRequired.Code || r.MemberID == "" {
		t.Fatalf("first dynamic join: %v %q", kerr.ErrorForCode(r.ErrorCode), r.MemberID)
	}
	dyn := join(r.MemberID, "", 6000)
	if dyn.ErrorCode != 0 || dyn.Generation != 1 || dyn.LeaderID != r.MemberID || len(dyn.Members) != 1 {
		t.Fatalf("second join: %+v", dyn)
	}
	sync := func(member string, gen int32, instance string) int16 {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Group, req.MemberID, req.Generation = "g", member, gen
		if instance != "" {
			req.InstanceID = kmsg.StringPtr(instance)
		}
		req.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: member, MemberAssignment: []byte("x")}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}
	if code := sync(dyn.MemberID, 7, ""); code != kerr.IllegalGeneration.Code {
		t.Fatalf("sync with a wrong generation: %v", kerr.ErrorForCode(code))
	}
	if code := sync(dyn.MemberID, 1, ""); code != 0 {
		t.Fatalf("sync: %v", kerr.ErrorForCode(code))
	}
	hb := func(member string, gen int32, instance string) int16 {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.MemberID, req.Generation = "g", member, gen
		if instance != "" {
			req.InstanceID = kmsg.StringPtr(instance)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}
	if code := hb("nobody", 1, ""); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat from an unknown member: %v", kerr.ErrorForCode(code))
	}
	if code := hb(dyn.MemberID, 0, ""); code != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat with an old generation: %v", kerr.ErrorForCode(code))
	}
	// An admin commit to a group with members is refused; a member commit is accepted.
	commit := func(member string, gen int32) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.MemberID, req.Generation = "g", member, gen
		// Named and identified: v10 (Kafka 4.1) sends the id, older versions the name.
		req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", TopicID: topicID(t, b, "t"),
			Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 42, LeaderEpoch: -1}}}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := commit("", -1); code != kerr.UnknownMemberID.Code {
		t.Fatalf("admin commit to an active group: %v", kerr.ErrorForCode(code))
	}
	if code := commit(dyn.MemberID, 1); code != 0 {
		t.Fatalf("member commit: %v", kerr.ErrorForCode(code))
	}

	// Static membership: a second static member joins (rebalance), then rejoins with a new id.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: dyn.MemberID}}
	if resp, err := leave.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 || resp.Members[0].ErrorCode != 0 {
		t.Fatalf("leave: %+v %v", resp, err)
	}
	st := join("", "static-1", 6000)
	if st.ErrorCode != 0 || st.Generation < 2 {
		t.Fatalf("static join: %v gen %d", kerr.ErrorForCode(st.ErrorCode), st.Generation)
	}
	if code := sync(st.MemberID, st.Generation, "static-1"); code != 0 {
		t.Fatalf("static sync: %v", kerr.ErrorForCode(code))
	}
	again := join("", "static-1", 6000)
	if again.ErrorCode != 0 || again.Generation != st.Generation || again.MemberID == st.MemberID {
		t.Fatalf("static rejoin must keep the generation without a rebalance: %+v (was gen %d, %s)", again, st.Generation, st.MemberID)
	}
	if code := hb(st.MemberID, st.Generation, "static-1"); code != kerr.FencedInstanceID.Code {
		t.Fatalf("heartbeat from the replaced static member: %v", kerr.ErrorForCode(code))
	}
	if code := hb(again.MemberID, again.Generation, "static-1"); code != 0 {
		t.Fatalf("heartbeat from the new static member: %v", kerr.ErrorForCode(code))
	}

	// OffsetFetch of an unknown group: -1 and no error.
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "nobody", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}}}
	ofr, err := of.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := ofr.Groups[0].Topics[0].Partitions[0]; p.Offset != -1 || p.ErrorCode != 0 {
		t.Fatalf("offset of an unknown group: %+v", p)
	}
	// DeleteGroups refuses a group with members.
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Groups = []string{"g", "missing"}
	dgr, err := dg.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if dgr.Groups[0].ErrorCode != kerr.NonEmptyGroup.Code || dgr.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete groups: %+v", dgr.Groups)
	}
}

func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir, fastGroups())
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "t", 3, nil)
	ctx := testContext(t)
	offsets := kadm.Offsets{}
	for p := range int32(3) {
		offsets.Add(kadm.Offset{Topic: "t", Partition: p, At: int64(100 + p), LeaderEpoch: -1, Metadata: fmt.Sprintf("m%d", p)})
	}
	if _, err := adm.CommitOffsets(ctx, "keep", offsets); err != nil {
		t.Fatal(err)
	}
	// Overwrite one to check last-write-wins survives too.
	if _, err := adm.CommitOffsets(ctx, "keep", kadm.Offsets{"t": {2: {Topic: "t", Partition: 2, At: 7, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	b.stop(t)

	b = startTestBroker(t, dir, fastGroups())
	got, err := b.Admin(t).FetchOffsets(testContext(t), "keep")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 100, 1: 101, 2: 7} {
		o, ok := got.Lookup("t", p)
		if !ok || o.At != want {
			t.Errorf("partition %d after restart: %+v, want %d", p, o, want)
		}
	}
	if o, _ := got.Lookup("t", 0); o.Metadata != "m0" {
		t.Errorf("metadata after restart: %q", o.Metadata)
	}
}

// testKgoLogger shows a client's own log when BULWARK_TEST_LOG is set.
func testKgoLogger(name string) kgo.Logger {
	if os.Getenv("BULWARK_TEST_LOG") == "" {
		return nil
	}
	return kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, func() string { return name + " " })
}

// TestShutdownReleasesWaitingJoins checks that a JoinGroup waiting for a rebalance does not
// hold a broker's drain: it is answered NOT_COORDINATOR, as when Kafka moves a coordinator.
func TestShutdownReleasesWaitingJoins(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	cl, ctx := rawClient(t, b)
	join := func(member string) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "g", member, 60000, 60000
		req.ProtocolType = "consumer"
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := join("")
	first = join(first.MemberID)
	if first.ErrorCode != 0 {
		t.Fatalf("first member: %v", kerr.ErrorForCode(first.ErrorCode))
	}
	second := join("")
	waiting := make(chan kmsg.Response, 1)
	go func() {
		// Straight to the broker, without franz-go's retry on NOT_COORDINATOR.
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "g", second.MemberID, 60000, 60000
		req.ProtocolType = "consumer"
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		resp, err := cl.SeedBrokers()[0].Request(ctx, req)
		if err != nil {
			resp = nil
		}
		waiting <- resp
	}() // waits for the first member to rejoin
	waitFor(t, "the group to start rebalancing", 5*time.Second, func() bool {
		d := b.coord.groups.DescribeGroups(5, &kmsg.DescribeGroupsRequest{Groups: []string{"g"}})
		return d.Groups[0].State == "PreparingRebalance"
	})
	b.stop(t)
	r, _ := (<-waiting).(*kmsg.JoinGroupResponse)
	if r == nil || r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join waiting at shutdown: %+v, want NOT_COORDINATOR", r)
	}
}

// TestKIP848RegexSubscription subscribes with a regular expression evaluated by the broker
// (ConsumerGroupHeartbeat v1 SubscribedTopicRegex): only matching topics are assigned, and a
// matching topic created later joins the assignment.
func TestKIP848RegexSubscription(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "rx-a", 2, nil)
	mustCreateTopic(t, adm, "other", 2, nil)
	owned := func(cl *kgo.Client) map[string]int {
		out := map[string]int{}
		d, err := adm.DescribeConsumerGroups(testContext(t), "rx")
		if err != nil {
			return out
		}
		for _, g := range d {
			for topic, parts := range g.AssignedPartitions() {
				out[topic] += len(parts)
			}
		}
		return out
	}
	cl := b.Client(t, kgo.ConsumerGroup("rx"), kgo.ConsumeRegex(), kgo.ConsumeTopics("rx-.*"),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer(), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.WithLogger(testKgoLogger("rx")))
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
		}
	}()
	waitFor(t, "rx-a to be assigned", 20*time.Second, func() bool {
		o := owned(cl)
		return o["rx-a"] == 2 && o["other"] == 0
	})
	mustCreateTopic(t, adm, "rx-b", 3, nil)
	waitFor(t, "the new matching topic to be assigned", 30*time.Second, func() bool {
		o := owned(cl)
		return o["rx-a"] == 2 && o["rx-b"] == 3 && o["other"] == 0
	})
}

// TestGroupStateSurvivesRestart checks that a classic group's membership, generation and
// assignment are rebuilt from the journal: after a restart the member's heartbeat at its
// generation is accepted and SyncGroup returns its assignment without a rebalance.
func TestGroupStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir, fastGroups())
	cl, ctx := rawClient(t, b)
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "g", 30000, 5000, "consumer"
	join.InstanceID = kmsg.StringPtr("static-1")
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{9}}}
	jr, err := join.RequestWith(ctx, cl)
	if err != nil || jr.ErrorCode != 0 {
		t.Fatalf("join: %v %v", err, kerr.ErrorForCode(jr.ErrorCode))
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation, sync.InstanceID = "g", jr.MemberID, jr.Generation, join.InstanceID
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte("my-partitions")}}
	if sr, err := sync.RequestWith(ctx, cl); err != nil || sr.ErrorCode != 0 {
		t.Fatalf("sync: %v %+v", err, sr)
	}
	b.stop(t)

	b = startTestBroker(t, dir, fastGroups())
	cl, ctx = rawClient(t, b)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "g", jr.MemberID, jr.Generation, join.InstanceID
	if r, err := hb.RequestWith(ctx, cl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("heartbeat after restart: %v %v", err, kerr.ErrorForCode(r.ErrorCode))
	}
	sr, err := sync.RequestWith(ctx, cl)
	if err != nil || sr.ErrorCode != 0 || string(sr.MemberAssignment) != "my-partitions" {
		t.Fatalf("sync after restart: %v %+v", err, sr)
	}
	d, err := b.Admin(t).DescribeGroups(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if g := d["g"]; g.State != "Stable" || len(g.Members) != 1 || g.Members[0].InstanceID == nil || *g.Members[0].InstanceID != "static-1" {
		t.Fatalf("group after restart: %+v", g)
	}
}

// TestOffsetDelete deletes a topic's offsets from an empty group and is refused for a topic a
// consuming group subscribes to.
func TestOffsetDelete(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "a", 1, nil)
	mustCreateTopic(t, adm, "b", 1, nil)
	ctx := testContext(t)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "a", Partition: 0, At: 5, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "b", Partition: 0, At: 6, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "od", offs); err != nil {
		t.Fatal(err)
	}
	if r, err := adm.DeleteOffsets(ctx, "od", kadm.TopicsSet{"a": {0: {}}}); err != nil || r.Error() != nil {
		t.Fatalf("delete offsets: %v %v", err, r.Error())
	}
	got, err := adm.FetchOffsets(ctx, "od")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Lookup("a", 0); ok {
		t.Fatal("offset of a survived OffsetDelete")
	}
	if o, ok := got.Lookup("b", 0); !ok || o.At != 6 {
		t.Fatalf("offset of b: %+v", o)
	}
	// A member subscribed to b makes b's offsets undeletable.
	m := startMember(t, b, "m", "od", "b")
	waitFor(t, "the member to be assigned", 20*time.Second, func() bool { return len(m.owned()) == 1 })
	r, err := adm.DeleteOffsets(ctx, "od", kadm.TopicsSet{"b": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if e := r.Error(); !errors.Is(e, kerr.GroupSubscribedToTopic) {
		t.Fatalf("delete offsets of a subscribed topic: %v", e)
	}
}

// TestStaticMemberRestartKeepsAssignment restarts a franz-go static member (group.instance.id):
// it comes back within its session timeout and takes over its partitions without a rebalance,
// so the other member never has partitions revoked.
func TestStaticMemberRestartKeepsAssignment(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	mustCreateTopic(t, b.Admin(t), "s", 4, nil)
	other := startMember(t, b, "other", "static", "s", kgo.InstanceID("other"), kgo.Balancers(kgo.RangeBalancer()))
	first := startMember(t, b, "first", "static", "s", kgo.InstanceID("first"), kgo.Balancers(kgo.RangeBalancer()))
	waitFor(t, "the static members to split the partitions", 30*time.Second, func() bool { return partitionsSplit(4, other, first) })
	before := first.owned()
	other.mu.Lock()
	other.revokes = 0
	other.mu.Unlock()
	// A static member leaves without LeaveGroup (franz-go does not send it for static members).
	first.close()
	again := startMember(t, b, "first-again", "static", "s", kgo.InstanceID("first"), kgo.Balancers(kgo.RangeBalancer()))
	waitFor(t, "the restarted member to own its partitions", 20*time.Second, func() bool { return len(again.owned()) == len(before) })
	if got := again.owned(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("restarted static member owns %v, before %v", got, before)
	}
	time.Sleep(time.Second) // a rebalance, if one were triggered, would revoke within this
	other.mu.Lock()
	defer other.mu.Unlock()
	if other.revokes != 0 {
		t.Fatalf("the other member had partitions revoked %d times: the static rejoin rebalanced", other.revokes)
	}
}

// TestDeletedTopicTakesItsOffsets deletes a topic with committed offsets and re-creates it: the
// new topic must not inherit the old offsets.
func TestDeletedTopicTakesItsOffsets(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	adm := b.Admin(t)
	ctx := testContext(t)
	mustCreateTopic(t, adm, "gone", 1, nil)
	mustCreateTopic(t, adm, "kept", 1, nil)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "gone", Partition: 0, At: 11, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "kept", Partition: 0, At: 12, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopics(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	mustCreateTopic(t, adm, "gone", 1, nil)
	got, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := got.Lookup("gone", 0); ok && o.At >= 0 {
		t.Fatalf("re-created topic inherited offset %+v", o)
	}
	if o, ok := got.Lookup("kept", 0); !ok || o.At != 12 {
		t.Fatalf("offset of the other topic: %+v", o)
	}
}

// topicID is a topic's id, from Metadata.
func topicID(t *testing.T, b *testBroker, topic string) [16]byte {
	t.Helper()
	td, err := b.Admin(t).ListTopics(testContext(t), topic)
	if err != nil || td[topic].Err != nil {
		t.Fatalf("topic %s: %v %v", topic, err, td[topic].Err)
	}
	return [16]byte(td[topic].ID)
}
