package group

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
	"github.com/bulwark-kafka/bulwark/broker/group/assign"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
)

func joinReq(group, member string, sessionMs int32) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Group, r.MemberID, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis, r.ProtocolType = group, member, sessionMs, 1000, "consumer"
	r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{1}}}
	return r
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClassicSessionExpiry(t *testing.T) {
	c := testCoordinator()
	defer c.Close()
	ctx := context.Background()
	r := c.JoinGroup(ctx, 4, joinReq("g", "", 100), ClientInfo{ClientID: "x"})
	if r.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	r = c.JoinGroup(ctx, 4, joinReq("g", r.MemberID, 100), ClientInfo{ClientID: "x"})
	if r.ErrorCode != 0 || r.Generation != 1 {
		t.Fatalf("join: %+v", r)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g", r.MemberID, 1
	if s := c.SyncGroup(ctx, 3, sync); s.ErrorCode != 0 {
		t.Fatalf("sync: %v", kerr.ErrorForCode(s.ErrorCode))
	}
	// No heartbeat: the member is removed after its 100 ms session and the group is empty.
	waitUntil(t, "the member's session to expire", func() bool {
		d := c.DescribeGroups(5, &kmsg.DescribeGroupsRequest{Groups: []string{"g"}})
		return d.Groups[0].State == "Empty" && len(d.Groups[0].Members) == 0
	})
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", r.MemberID, 1
	if code := c.Heartbeat(3, hb).ErrorCode; code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat after expiry: %v", kerr.ErrorForCode(code))
	}
}

func heartbeat(c *Coordinator, member string, epoch int32, owned []int32) *kmsg.ConsumerGroupHeartbeatResponse {
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Group, r.MemberID, r.MemberEpoch = "cg", member, epoch
	if epoch == 0 {
		r.RebalanceTimeoutMillis = 5000
		r.SubscribedTopicNames = []string{"t"}
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	} else {
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: [16]byte{1}, Partitions: owned}}
	}
	return c.ConsumerGroupHeartbeat(context.Background(), 1, r, ClientInfo{ClientID: member})
}

func assigned(r *kmsg.ConsumerGroupHeartbeatResponse) []int32 {
	if r.Assignment == nil {
		return nil
	}
	var out []int32
	for _, t := range r.Assignment.Topics {
		out = append(out, t.Partitions...)
	}
	return out
}

// TestConsumerProtocolRevokesBeforeAssigning checks KIP-848 reconciliation: a partition moves to
// a new member only after its previous owner stopped reporting it.
func TestConsumerProtocolRevokesBeforeAssigning(t *testing.T) {
	c := testCoordinator()
	defer c.Close()
	a := heartbeat(c, "a", 0, nil)
	if a.ErrorCode != 0 || a.MemberEpoch != 1 || len(assigned(a)) != 2 {
		t.Fatalf("a joins: %+v %v", a, assigned(a))
	}
	b := heartbeat(c, "b", 0, nil)
	if b.ErrorCode != 0 || len(assigned(b)) != 0 {
		t.Fatalf("b must wait for a to revoke: %v (err %v)", assigned(b), kerr.ErrorForCode(b.ErrorCode))
	}
	// a still owns both: it is told to keep one and stays at its epoch.
	a = heartbeat(c, "a", 1, []int32{0, 1})
	if len(assigned(a)) != 1 || a.MemberEpoch != 1 {
		t.Fatalf("a during revocation: epoch %d, %v", a.MemberEpoch, assigned(a))
	}
	kept := assigned(a)[0]
	// a acknowledges the revocation and advances; b then receives the released partition.
	a = heartbeat(c, "a", 1, []int32{kept})
	if a.MemberEpoch != 2 {
		t.Fatalf("a after revoking: epoch %d", a.MemberEpoch)
	}
	b = heartbeat(c, "b", b.MemberEpoch, nil)
	if got := assigned(b); len(got) != 1 || got[0] == kept {
		t.Fatalf("b after a revoked: %v (a kept %d)", got, kept)
	}
	// A stale epoch is fenced.
	if r := heartbeat(c, "a", 7, []int32{kept}); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Fatalf("stale epoch: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	d := c.ConsumerGroupDescribe(0, &kmsg.ConsumerGroupDescribeRequest{Groups: []string{"cg"}})
	if g := d.Groups[0]; g.ErrorCode != 0 || len(g.Members) != 2 || g.AssignorName != assign.UniformName {
		t.Fatalf("describe: %+v", g)
	}
}

// TestLargeOffsetCommitIsSplit commits more offsets in one request than one journal write may
// carry, and reads them all back after a restart of the journal.
func TestLargeOffsetCommitIsSplit(t *testing.T) {
	dir := t.TempDir()
	lc := plog.DefaultConfig()
	open := func() (*Coordinator, *coordlog.Store) {
		c := New(DefaultConfig(), fakeTopics{"t": 1 << 20})
		j, err := coordlog.Open(dir, coordlog.Options{Config: lc}, c.Restore)
		if err != nil {
			t.Fatal(err)
		}
		c.Attach(j)
		return c, j
	}
	c, j := open()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = "big", -1
	meta := strings.Repeat("m", 4000)
	rt := kmsg.OffsetCommitRequestTopic{Topic: "t"}
	const n = 3000 // ~12 MB of metadata: more than one 8 MiB journal write
	for p := range int32(n) {
		rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitRequestTopicPartition{Partition: p, Offset: int64(p), LeaderEpoch: -1, Metadata: &meta})
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
	resp := c.OffsetCommit(context.Background(), 8, req)
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("partition %d: %v", p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
	}
	c.Close()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	c, j = open()
	defer j.Close()
	defer c.Close()
	if got := len(c.groups["big"].offsets); got != n {
		t.Fatalf("%d offsets after reopening, want %d", got, n)
	}
}

// TestOffsetExpiry expires the offsets of an empty group after offsets.retention.minutes,
// counted from when the group became empty, and deletes the group with them.
func TestOffsetExpiry(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	cfg := DefaultConfig()
	cfg.OffsetsRetention = time.Hour
	cfg.Now = func() time.Time { return now }
	c := New(cfg, fakeTopics{"t": 1})
	defer c.Close()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = "old", -1
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 3, LeaderEpoch: -1}}}}
	if r := c.OffsetCommit(context.Background(), 8, req); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(r.Topics[0].Partitions[0].ErrorCode))
	}
	now = now.Add(59 * time.Minute)
	c.ExpireOffsets()
	if _, ok := c.groups["old"]; !ok {
		t.Fatal("offsets expired before the retention time")
	}
	now = now.Add(2 * time.Minute)
	c.ExpireOffsets()
	if _, ok := c.groups["old"]; ok {
		t.Fatal("the empty group and its offsets outlived the retention time")
	}
}

// TestConsumerStaticMemberRejoins checks KIP-848 static membership: a member leaving with epoch
// -2 keeps its assignment for its instance id, and a new member id with that instance id takes
// it over without a new group epoch; a second live member with the same instance id is refused.
func TestConsumerStaticMemberRejoins(t *testing.T) {
	c := testCoordinator()
	defer c.Close()
	join := func(member string) *kmsg.ConsumerGroupHeartbeatResponse {
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Group, r.MemberID, r.MemberEpoch, r.InstanceID = "cg", member, 0, kmsg.StringPtr("i1")
		r.RebalanceTimeoutMillis, r.SubscribedTopicNames, r.Topics = 5000, []string{"t"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		return c.ConsumerGroupHeartbeat(context.Background(), 1, r, ClientInfo{ClientID: member})
	}
	first := join("m1")
	if first.ErrorCode != 0 || len(assigned(first)) != 2 {
		t.Fatalf("first: %v %v", kerr.ErrorForCode(first.ErrorCode), assigned(first))
	}
	if r := join("m2"); r.ErrorCode != kerr.UnreleasedInstanceID.Code {
		t.Fatalf("a second live member with the instance id: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	leave := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	leave.Group, leave.MemberID, leave.MemberEpoch, leave.InstanceID = "cg", "m1", -2, kmsg.StringPtr("i1")
	if r := c.ConsumerGroupHeartbeat(context.Background(), 1, leave, ClientInfo{}); r.ErrorCode != 0 || r.MemberEpoch != -2 {
		t.Fatalf("temporary leave: %+v", r)
	}
	epoch := c.groups["cg"].consumer.epoch
	back := join("m3")
	if back.ErrorCode != 0 || len(assigned(back)) != 2 || c.groups["cg"].consumer.epoch != epoch {
		t.Fatalf("static rejoin: %v %v, group epoch %d (was %d)", kerr.ErrorForCode(back.ErrorCode), assigned(back), c.groups["cg"].consumer.epoch, epoch)
	}
}
