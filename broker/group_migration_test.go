package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// groupType asks ListGroups v5 for a group's type ("classic" or "consumer"; "" when unlisted).
func groupType(t *testing.T, cl *kgo.Client, group string) string {
	t.Helper()
	req := kmsg.NewPtrListGroupsRequest()
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range resp.Groups {
		if g.Group == group {
			return g.GroupType
		}
	}
	return ""
}

// collector consumes with one client in the background and records what it saw.
type collector struct {
	mu   sync.Mutex
	seen map[string]int
	cl   *kgo.Client
	done chan struct{}
}

func collect(cl *kgo.Client) *collector {
	c := &collector{seen: map[string]int{}, cl: cl, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				c.mu.Lock()
				c.seen[string(r.Value)]++
				c.mu.Unlock()
			})
		}
	}()
	return c
}

func (c *collector) has(v string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[v] > 0
}

func (c *collector) close() {
	c.cl.Close()
	<-c.done
}

// TestOnlineGroupMigration follows KIP-848's upgrade path with real clients: a classic
// cooperative-sticky consumer group is joined by a consumer-protocol member, which upgrades the
// group online (the classic member keeps its partitions and keeps consuming through JoinGroup,
// SyncGroup and Heartbeat, now answered from the consumer group), the partitions are shared,
// and when the consumer-protocol member leaves the group turns classic again with the classic
// member owning everything. Every record produced along the way is consumed.
func TestOnlineGroupMigration(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	ctx := testContext(t)
	adm := b.Admin(t)
	const topic, group = "migrating", "mig"
	mustCreateTopic(t, adm, topic, 6, nil)
	prod := b.Client(t, kgo.DefaultProduceTopic(topic))
	n := 0
	produce := func(count int) []string {
		var vs []string
		for range count {
			v := fmt.Sprintf("r%d", n)
			n++
			vs = append(vs, v)
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Partition: int32(n % 6)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		return vs
	}
	consumedAll := func(what string, vs []string, cs ...*collector) {
		t.Helper()
		waitFor(t, what, 30*time.Second, func() bool {
			for _, v := range vs {
				found := false
				for _, c := range cs {
					found = found || c.has(v)
				}
				if !found {
					return false
				}
			}
			return true
		})
	}
	groupOpts := []kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond), kgo.AutoCommitInterval(200 * time.Millisecond)}

	// A classic group.
	classic := collect(b.Client(t, append(groupOpts, kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond), kgo.WithLogger(testKgoLogger("classic")))...))
	defer classic.close()
	consumedAll("the classic member to consume", produce(12), classic)
	if gt := groupType(t, prod, group); gt != "classic" {
		t.Fatalf("group type %q before the upgrade", gt)
	}

	// A consumer-protocol member joins: the group is upgraded online and shared.
	modern := collect(b.Client(t, append(groupOpts, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer(),
		kgo.WithLogger(testKgoLogger("modern")))...))
	describe := kmsg.NewPtrConsumerGroupDescribeRequest()
	describe.Groups = []string{group}
	waitFor(t, "the upgraded group to share the partitions", 30*time.Second, func() bool {
		d, err := describe.RequestWith(ctx, prod)
		if err != nil || len(d.Groups) != 1 || d.Groups[0].ErrorCode != 0 {
			return false
		}
		g := d.Groups[0]
		types, owned := map[int8]int{}, 0
		for _, m := range g.Members {
			types[m.MemberType]++
			for _, tp := range m.Assignment.TopicPartitions {
				owned += len(tp.Partitions)
			}
			if len(m.Assignment.TopicPartitions) == 0 {
				return false
			}
		}
		return g.State == "Stable" && types[0] == 1 && types[1] == 1 && owned == 6
	})
	if gt := groupType(t, prod, group); gt != "consumer" {
		t.Fatalf("group type %q after the upgrade", gt)
	}
	// DescribeGroups v6 no longer describes it, as Kafka 4.1.
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{group}
	if r, err := dg.RequestWith(ctx, prod); err != nil || r.Groups[0].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("DescribeGroups v6 of a consumer group: %v %+v", err, r)
	}
	consumedAll("both members to consume after the upgrade", produce(30), classic, modern)

	// The consumer-protocol member leaves: the group is classic again, the classic member owns all.
	modern.close()
	waitFor(t, "the downgrade", 30*time.Second, func() bool { return groupType(t, prod, group) == "classic" })
	waitFor(t, "the classic member to own every partition", 30*time.Second, func() bool {
		r, err := dg.RequestWith(ctx, prod)
		if err != nil || len(r.Groups) != 1 || r.Groups[0].State != "Stable" || len(r.Groups[0].Members) != 1 {
			return false
		}
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(r.Groups[0].Members[0].MemberAssignment); err != nil {
			return false
		}
		owned := 0
		for _, tp := range a.Topics {
			owned += len(tp.Partitions)
		}
		return owned == 6
	})
	consumedAll("the classic member to consume after the downgrade", produce(12), classic)
}

// TestGroupMigrationPolicy: with group.consumer.migration.policy=disabled (or downgrade) a
// consumer-protocol member cannot join a classic group with members, as in Kafka; with upgrade
// a classic member survives a broker restart inside the upgraded group.
func TestGroupMigrationPolicy(t *testing.T) {
	join := func(t *testing.T, cl *kgo.Client, group string) *kmsg.JoinGroupResponse {
		t.Helper()
		sub := kmsg.ConsumerMemberMetadata{Version: 3, Topics: []string{"pol"}}
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType = group, 30000, 5000, "consumer"
		req.InstanceID = kmsg.StringPtr("static-a")
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: sub.AppendTo(nil)}}
		resp, err := req.RequestWith(testContext(t), cl)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("join: %v %+v", err, resp)
		}
		return resp
	}
	heartbeat848 := func(t *testing.T, cl *kgo.Client, group string) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		hb.Group, hb.MemberID, hb.MemberEpoch, hb.RebalanceTimeoutMillis = group, "new-member-00000001", 0, 30000
		hb.SubscribedTopicNames, hb.Topics = []string{"pol"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		resp, err := hb.RequestWith(testContext(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, policy := range []string{"disabled", "DOWNGRADE"} {
		t.Run(policy, func(t *testing.T) {
			b := newTestBroker(t, fastGroups(), withConfig(func(c *config.Config) { c.GroupConsumerMigrationPolicy = strings.ToLower(policy) }))
			mustCreateTopic(t, b.Admin(t), "pol", 2, nil)
			cl := b.Client(t)
			join(t, cl, "g")
			if r := heartbeat848(t, cl, "g"); r.ErrorCode != kerr.GroupIDNotFound.Code {
				t.Fatalf("heartbeat into a classic group under %s: %+v", policy, r)
			}
		})
	}
	t.Run("upgrade survives a restart", func(t *testing.T) {
		dir := t.TempDir()
		b := startTestBroker(t, dir, fastGroups(), withConfig(func(c *config.Config) { c.GroupConsumerMigrationPolicy = "upgrade" }))
		mustCreateTopic(t, b.Admin(t), "pol", 2, nil)
		cl := b.Client(t)
		jr := join(t, cl, "g")
		if r := heartbeat848(t, cl, "g"); r.ErrorCode != 0 {
			t.Fatalf("heartbeat upgrading the group: %+v", r)
		}
		b.stop(t)
		b = startTestBroker(t, dir, fastGroups())
		cl = b.Client(t)
		describe := kmsg.NewPtrConsumerGroupDescribeRequest()
		describe.Groups = []string{"g"}
		d, err := describe.RequestWith(testContext(t), cl)
		if err != nil || len(d.Groups) != 1 || len(d.Groups[0].Members) != 2 {
			t.Fatalf("describe after restart: %v %+v", err, d)
		}
		classic := 0
		for _, m := range d.Groups[0].Members {
			if m.MemberType == 0 && m.MemberID == jr.MemberID {
				classic++
			}
		}
		if classic != 1 {
			t.Fatalf("the classic member was not restored as one: %+v", d.Groups[0].Members)
		}
		// It still speaks the classic protocol: a heartbeat at its generation is known (it must
		// rejoin to catch up with the new member).
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "g", jr.MemberID, jr.Generation, kmsg.StringPtr("static-a")
		r, err := hb.RequestWith(testContext(t), cl)
		if err != nil || (r.ErrorCode != 0 && r.ErrorCode != kerr.RebalanceInProgress.Code) {
			t.Fatalf("classic heartbeat after restart: %v %+v", err, r)
		}
	})
}
