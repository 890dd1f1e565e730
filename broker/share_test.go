package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// setGroupConfigs sets share-group configs with IncrementalAlterConfigs on the GROUP resource.
func setGroupConfigs(t *testing.T, cl *kgo.Client, group string, kv ...string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for i := 0; i < len(kv); i += 2 {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = kv[i], kmsg.StringPtr(kv[i+1])
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("IncrementalAlterConfigs on group %s: %v %+v", group, err, resp)
	}
}

// shareConsumer polls a share group in the background and records every delivery.
type shareConsumer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	seen map[string][]int32 // value -> delivery counts seen
	done chan struct{}
	// decide picks the acknowledgement of a record (nil: accept, implicitly on the next poll).
	decide func(r *kgo.Record) kgo.AckStatus
}

func startShareConsumer(t *testing.T, b *testBroker, group, topic string, decide func(*kgo.Record) kgo.AckStatus, opts ...kgo.Opt) *shareConsumer {
	t.Helper()
	base := []kgo.Opt{kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.WithLogger(testKgoLogger("share-" + group))}
	sc := &shareConsumer{cl: b.Client(t, append(base, opts...)...), seen: map[string][]int32{}, done: make(chan struct{}), decide: decide}
	go func() {
		defer close(sc.done)
		for {
			fs := sc.cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				sc.mu.Lock()
				sc.seen[string(r.Value)] = append(sc.seen[string(r.Value)], r.DeliveryCount())
				sc.mu.Unlock()
				if sc.decide != nil {
					r.Ack(sc.decide(r))
				}
			})
		}
	}()
	return sc
}

func (sc *shareConsumer) close() {
	sc.cl.Close()
	<-sc.done
}

func (sc *shareConsumer) snapshot() map[string][]int32 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make(map[string][]int32, len(sc.seen))
	for k, v := range sc.seen {
		out[k] = append([]int32(nil), v...)
	}
	return out
}

// union merges what several consumers saw.
func union(cs ...*shareConsumer) map[string][]int32 {
	out := map[string][]int32{}
	for _, c := range cs {
		for k, v := range c.snapshot() {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

func produceValues(t *testing.T, cl *kgo.Client, topic, prefix string, n int) []string {
	t.Helper()
	var vs []string
	var rs []*kgo.Record
	for i := range n {
		v := fmt.Sprintf("%s-%d", prefix, i)
		vs = append(vs, v)
		// Keyed, so the records spread over the partitions.
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(v), Value: []byte(v)})
	}
	if err := cl.ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestShareGroupDeliversEveryRecordOnce: franz-go share consumers (1, then 3, then 1 again)
// read a topic as a queue: every record is delivered, and accepted records are never delivered
// again, while members join and leave.
func TestShareGroupDeliversEveryRecordOnce(t *testing.T) {
	b := newTestBroker(t, fastGroups(), withConfig(func(c *config.Config) { c.ShareHeartbeatInterval = 500 * time.Millisecond }))
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "jobs", 4, nil)
	prod := b.Client(t)
	setGroupConfigs(t, prod, "workers", "share.auto.offset.reset", "earliest")
	want := produceValues(t, prod, "jobs", "a", 200)

	first := startShareConsumer(t, b, "workers", "jobs", nil)
	waitFor(t, "the first member to read some", 30*time.Second, func() bool { return len(first.snapshot()) > 0 })
	more := []*shareConsumer{startShareConsumer(t, b, "workers", "jobs", nil), startShareConsumer(t, b, "workers", "jobs", nil)}
	describe := kmsg.NewPtrShareGroupDescribeRequest()
	describe.GroupIDs = []string{"workers"}
	waitFor(t, "three members sharing the partitions", 30*time.Second, func() bool {
		d, err := describe.RequestWith(testContext(t), prod)
		if err != nil || len(d.Groups) != 1 || len(d.Groups[0].Members) != 3 {
			return false
		}
		for _, m := range d.Groups[0].Members {
			if len(m.Assignment.TopicPartitions) == 0 || m.MemberEpoch != d.Groups[0].GroupEpoch {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // a heartbeat interval, so every member holds its new assignment
	bs := produceValues(t, prod, "jobs", "b", 200)
	want = append(want, bs...)
	all := append([]*shareConsumer{first}, more...)
	waitFor(t, "every member to take part", 30*time.Second, func() bool {
		for _, c := range all {
			got := false
			for _, v := range bs {
				got = got || len(c.snapshot()[v]) > 0
			}
			if !got {
				return false
			}
		}
		return true
	})
	for _, c := range more {
		c.close()
	}
	want = append(want, produceValues(t, prod, "jobs", "c", 200)...)
	waitFor(t, "every record delivered", 60*time.Second, func() bool {
		seen := union(append(more, first)...)
		for _, v := range want {
			if len(seen[v]) == 0 {
				return false
			}
		}
		return true
	})
	first.close()
	// Accepted records are never redelivered: a record seen twice must have been released by
	// a member leaving before it acknowledged (a closing member releases what it has not
	// acknowledged), never after an accept. With implicit accepts, each record is seen once
	// unless its member closed holding it.
	dups := 0
	for v, dcs := range union(append(more, first)...) {
		if len(dcs) > 1 {
			dups++
			for i, dc := range dcs {
				if i > 0 && dc <= dcs[i-1] {
					t.Errorf("record %s redelivered without a higher delivery count: %v", v, dcs)
				}
			}
		}
	}
	t.Logf("%d of %d records were redelivered after their member left", dups, len(want))

	// Nothing is left: a new member gets nothing within a few polls.
	late := startShareConsumer(t, b, "workers", "jobs", nil)
	time.Sleep(2 * time.Second)
	if n := len(late.snapshot()); n != 0 {
		t.Errorf("a new member received %d records of a drained queue", n)
	}
	late.close()
}

// TestShareGroupReleaseRejectAndLockTimeout: a released record comes back with a higher
// delivery count; a rejected one never comes back; a record whose acquisition lock expires goes
// to another member; after group.share.delivery.count.limit deliveries a record is archived.
func TestShareGroupReleaseRejectAndLockTimeout(t *testing.T) {
	b := newTestBroker(t, fastGroups(), withConfig(func(c *config.Config) {
		c.ShareHeartbeatInterval = 500 * time.Millisecond
		c.ShareMinRecordLockDuration = time.Second
		c.ShareDeliveryCountLimit = 3
	}))
	mustCreateTopic(t, b.Admin(t), "tasks", 1, nil)
	prod := b.Client(t)
	setGroupConfigs(t, prod, "g", "share.auto.offset.reset", "earliest", "share.record.lock.duration.ms", "1000")
	produceValues(t, prod, "tasks", "release", 1)
	produceValues(t, prod, "tasks", "reject", 1)
	produceValues(t, prod, "tasks", "ok", 1)

	// release-* is always released: it is delivered 3 times (the limit), then archived.
	c := startShareConsumer(t, b, "g", "tasks", func(r *kgo.Record) kgo.AckStatus {
		switch string(r.Value) {
		case "release-0":
			return kgo.AckRelease
		case "reject-0":
			return kgo.AckReject
		}
		return kgo.AckAccept
	})
	waitFor(t, "three deliveries of the released record", 30*time.Second, func() bool {
		return len(c.snapshot()["release-0"]) >= 3
	})
	time.Sleep(1500 * time.Millisecond)
	seen := c.snapshot()
	if got := seen["release-0"]; len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("released record deliveries %v, want [1 2 3] then archived", got)
	}
	if got := seen["reject-0"]; len(got) != 1 {
		t.Errorf("rejected record delivered %d times, want once", len(got))
	}
	if got := seen["ok-0"]; len(got) != 1 {
		t.Errorf("accepted record delivered %d times, want once", len(got))
	}
	c.close()

	// Lock timeout: a member that takes a record and neither acknowledges nor fetches again
	// holds it for share.record.lock.duration.ms; then another member gets it, delivery count
	// 2. The holder speaks raw requests, so that no client prefetches on its behalf.
	produceValues(t, prod, "tasks", "stuck", 1)
	ctx := testContext(t)
	raw := b.Client(t)
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = "g", "raw-holder-0000000001", []string{"tasks"}
	if r, err := hb.RequestWith(ctx, raw); err != nil || r.ErrorCode != 0 {
		t.Fatalf("holder heartbeat: %v %+v", err, r)
	}
	tid, _, _ := topicView{b.cluster}.Partitions("tasks")
	sf := kmsg.NewPtrShareFetchRequest()
	sf.GroupID, sf.MemberID = kmsg.StringPtr("g"), kmsg.StringPtr("raw-holder-0000000001")
	sf.MaxWaitMillis, sf.MinBytes, sf.MaxBytes, sf.MaxRecords, sf.BatchSize = 1000, 1, 1<<20, 10, 10
	sf.Topics = []kmsg.ShareFetchRequestTopic{{TopicID: tid, Partitions: []kmsg.ShareFetchRequestTopicPartition{{Partition: 0}}}}
	var held []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord
	for len(held) == 0 && ctx.Err() == nil {
		r, err := sf.RequestWith(ctx, raw)
		if err != nil || r.ErrorCode != 0 {
			t.Fatalf("holder fetch: %v %+v", err, r)
		}
		sf.ShareSessionEpoch++
		sf.Topics = nil
		for _, tp := range r.Topics {
			for _, p := range tp.Partitions {
				held = append(held, p.AcquiredRecords...)
			}
		}
	}
	if len(held) != 1 || held[0].FirstOffset != held[0].LastOffset || held[0].DeliveryCount != 1 {
		t.Fatalf("holder acquired %+v, want the one new record", held)
	}
	other := startShareConsumer(t, b, "g", "tasks", nil)
	waitFor(t, "the timed-out record to reach the other member", 30*time.Second, func() bool {
		return len(other.snapshot()["stuck-0"]) > 0
	})
	if dc := other.snapshot()["stuck-0"][0]; dc != 2 {
		t.Errorf("timed-out record redelivered with delivery count %d, want 2", dc)
	}
	other.close()
}

// TestShareGroupStateSurvivesRestart: acknowledged records stay acknowledged across a
// restart; what was acquired but not acknowledged is delivered again, with its count.
func TestShareGroupStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	opts := []testOption{fastGroups(), withConfig(func(c *config.Config) { c.ShareHeartbeatInterval = 500 * time.Millisecond })}
	b := startTestBroker(t, dir, opts...)
	mustCreateTopic(t, b.Admin(t), "q", 2, nil)
	prod := b.Client(t)
	setGroupConfigs(t, prod, "g", "share.auto.offset.reset", "earliest")
	all := produceValues(t, prod, "q", "v", 50)
	c := startShareConsumer(t, b, "g", "q", func(*kgo.Record) kgo.AckStatus { return kgo.AckAccept })
	waitFor(t, "all 50 consumed", 30*time.Second, func() bool { return len(c.snapshot()) == 50 })
	if err := c.cl.FlushAcks(testContext(t)); err != nil {
		t.Fatal(err)
	}
	c.close()
	b.stop(t)

	b = startTestBroker(t, dir, opts...)
	prod = b.Client(t)
	more := produceValues(t, prod, "q", "w", 10)
	c = startShareConsumer(t, b, "g", "q", nil)
	waitFor(t, "the 10 new records", 30*time.Second, func() bool { return len(c.snapshot()) >= 10 })
	time.Sleep(time.Second)
	seen := c.snapshot()
	for _, v := range all {
		if len(seen[v]) > 0 {
			t.Errorf("acknowledged record %s delivered again after the restart", v)
		}
	}
	for _, v := range more {
		if len(seen[v]) != 1 {
			t.Errorf("new record %s delivered %d times", v, len(seen[v]))
		}
	}
	c.close()
	d := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	d.Groups = []kmsg.DescribeShareGroupOffsetsRequestGroup{{GroupID: "g"}}
	resp, err := d.RequestWith(testContext(t), prod)
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
		t.Fatalf("DescribeShareGroupOffsets: %v %+v", err, resp)
	}
	var sum int64
	for _, tp := range resp.Groups[0].Topics {
		for _, p := range tp.Partitions {
			sum += p.StartOffset
			if p.Lag != 0 {
				t.Errorf("partition %d lag %d after everything was acknowledged", p.Partition, p.Lag)
			}
		}
	}
	if sum != 60 {
		t.Errorf("share-partition start offsets sum to %d, want 60", sum)
	}
}

// TestShareGroupAdminAndErrors covers the offset admin APIs on an empty group, group configs,
// ListGroups and DescribeGroups for share groups, and the group-type conflicts.
func TestShareGroupAdminAndErrors(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	mustCreateTopic(t, b.Admin(t), "t", 1, nil)
	cl := b.Client(t)
	ctx := testContext(t)
	produceValues(t, cl, "t", "x", 10)

	alter := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	alter.GroupID = "sg"
	alter.Topics = []kmsg.AlterShareGroupOffsetsRequestTopic{{Topic: "t", Partitions: []kmsg.AlterShareGroupOffsetsRequestTopicPartition{{Partition: 0, StartOffset: 8}}}}
	if r, err := alter.RequestWith(ctx, cl); err != nil || r.ErrorCode != 0 || len(r.Topics) != 1 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AlterShareGroupOffsets: %v %+v", err, r)
	}
	desc := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	desc.Groups = []kmsg.DescribeShareGroupOffsetsRequestGroup{{GroupID: "sg"}}
	r, err := desc.RequestWith(ctx, cl)
	if err != nil || len(r.Groups) != 1 || len(r.Groups[0].Topics) != 1 || r.Groups[0].Topics[0].Topic != "t" ||
		r.Groups[0].Topics[0].Partitions[0].StartOffset != 8 || r.Groups[0].Topics[0].Partitions[0].Lag != 2 {
		t.Fatalf("DescribeShareGroupOffsets: %v %+v", err, r)
	}
	list := kmsg.NewPtrListGroupsRequest()
	list.TypesFilter = []string{"share"}
	if lr, err := list.RequestWith(ctx, cl); err != nil || len(lr.Groups) != 1 || lr.Groups[0].Group != "sg" || lr.Groups[0].GroupType != "share" {
		t.Fatalf("ListGroups type share: %v %+v", err, lr)
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"sg"}
	if dr, err := dg.RequestWith(ctx, cl); err != nil || dr.Groups[0].ErrorCode != kerr.GroupIDNotFound.Code ||
		dr.Groups[0].ErrorMessage == nil || *dr.Groups[0].ErrorMessage != "Group sg is not a classic group." {
		t.Fatalf("DescribeGroups of a share group: %v %+v", err, dr)
	}
	// A consumer group cannot take a share group's id, nor the other way round.
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis = "sg", "m-000000000001", 30000
	hb.SubscribedTopicNames, hb.Topics = []string{"t"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if hr, err := hb.RequestWith(ctx, cl); err != nil || hr.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("consumer heartbeat into a share group: %v %+v", err, hr)
	}
	shb := kmsg.NewPtrShareGroupHeartbeatRequest()
	shb.GroupID, shb.MemberID, shb.SubscribedTopicNames = "classic", "share-member-1", []string{"t"}
	if _, err := b.Admin(t).CommitOffsets(ctx, "classic", kadm.OffsetsFromRecords(kgo.Record{Topic: "t", Offset: 0})); err != nil {
		t.Fatal(err)
	}
	if sr, err := shb.RequestWith(ctx, cl); err != nil || sr.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("share heartbeat into a classic group: %v %+v", err, sr)
	}
	// Group configs Bulwark does not act on are refused, never stored.
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "sg"
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Value = "share.auto.offset.reset", kmsg.StringPtr("by_duration:PT1H")
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	if ir, err := req.RequestWith(ctx, cl); err != nil || ir.Resources[0].ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("unsupported group config value: %v %+v", err, ir)
	}
	// Deleting the (empty) share group removes its state.
	if dr, err := b.Admin(t).DeleteGroup(ctx, "sg"); err != nil || dr.Err != nil {
		t.Fatalf("DeleteGroups: %v %+v", err, dr)
	}
	if r, err := desc.RequestWith(ctx, cl); err != nil || r.Groups[0].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("describe offsets after delete: %v %+v", err, r)
	}
}
