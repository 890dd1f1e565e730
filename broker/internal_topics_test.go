package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// TestCoordinatorPartitionMatchesKafka checks the group/transactional id hash against values of
// Java's String.hashCode (Kafka's partitionFor): ASCII, a character outside Latin-1, one
// outside the BMP (a surrogate pair in Java), and the string whose hash is Integer.MIN_VALUE.
func TestCoordinatorPartitionMatchesKafka(t *testing.T) {
	for _, c := range []struct {
		id   string
		hash int64 // Java's "id".hashCode()
	}{
		{"", 0},
		{"hello", 99162322},
		{"Aa", 2112},
		{"ж", 1078},
		{"😀", 1772899}, // U+1F600: 0xD83D*31 + 0xDE00
		{"polygenelubricants", -1 << 31},
	} {
		want := c.hash
		if want == -1<<31 {
			want = 0
		} else if want < 0 {
			want = -want
		}
		if got := coordinatorPartition(c.id, 50); int64(got) != want%50 {
			t.Errorf("partition of %q = %d, want %d", c.id, got, want%50)
		}
	}
}

// offsetsTopicState reads __consumer_offsets from the start to its end and returns the last
// value of every key, decoded: committed offsets by (group, topic, partition) and classic group
// metadata by group (nil for a tombstone). It also checks each record sits in the partition
// Kafka's partitionFor gives its group.
func offsetsTopicState(t *testing.T, b *testBroker) (map[[3]string]kmsg.OffsetCommitValue, map[string]*kmsg.GroupMetadataValue) {
	t.Helper()
	ctx := testContext(t)
	adm := b.Admin(t)
	ends, err := adm.ListEndOffsets(ctx, OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	offsets := map[[3]string]kmsg.OffsetCommitValue{}
	groups := map[string]*kmsg.GroupMetadataValue{}
	if len(want) == 0 {
		return offsets, groups
	}
	cl := b.Client(t, kgo.ConsumeTopics(OffsetsTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v (still to read: %v)", OffsetsTopic, err, want)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
			switch binary.BigEndian.Uint16(r.Key) {
			case 0, 1:
				var k kmsg.OffsetCommitKey
				if err := k.ReadFrom(r.Key); err != nil {
					t.Fatalf("offset commit key: %v", err)
				}
				checkPartition(t, k.Group, r.Partition)
				id := [3]string{k.Group, k.Topic, itoa32(k.Partition)}
				if r.Value == nil {
					delete(offsets, id)
					return
				}
				var v kmsg.OffsetCommitValue
				if err := v.ReadFrom(r.Value); err != nil {
					t.Fatalf("offset commit value: %v", err)
				}
				offsets[id] = v
			case 2:
				var k kmsg.GroupMetadataKey
				if err := k.ReadFrom(r.Key); err != nil {
					t.Fatalf("group metadata key: %v", err)
				}
				checkPartition(t, k.Group, r.Partition)
				if r.Value == nil {
					groups[k.Group] = nil
					return
				}
				v := new(kmsg.GroupMetadataValue)
				if err := v.ReadFrom(r.Value); err != nil {
					t.Fatalf("group metadata value: %v", err)
				}
				groups[k.Group] = v
			default:
				t.Fatalf("unexpected key version in %x", r.Key)
			}
		})
	}
	return offsets, groups
}

func checkPartition(t *testing.T, id string, p int32) {
	t.Helper()
	if want := coordinatorPartition(id, 50); p != want {
		t.Fatalf("record of %q in partition %d, Kafka puts it in %d", id, p, want)
	}
}

func itoa32(i int32) string { return strconv.Itoa(int(i)) }

// TestOffsetsTopicCarriesKafkaRecords commits offsets through a classic group consumer and kadm
// and reads them back from __consumer_offsets with kmsg's OffsetCommitKey/Value and
// GroupMetadataKey/Value, as Burrow does; deleting the group leaves tombstones.
func TestOffsetsTopicCarriesKafkaRecords(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	ctx := testContext(t)
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "orders", 3, nil)
	if _, err := adm.CommitOffsets(ctx, "billing", kadm.OffsetsFromRecords(
		kgo.Record{Topic: "orders", Partition: 0, Offset: 41, LeaderEpoch: 0},
		kgo.Record{Topic: "orders", Partition: 2, Offset: 7, LeaderEpoch: 0},
	)); err != nil {
		t.Fatal(err)
	}
	produceN(t, b.Client(t), "orders", 6)
	cons := b.Client(t, kgo.ConsumerGroup("shipping"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	seen := 0
	for seen < 6 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("consumer did not get the records")
		}
		seen += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	var offsets map[[3]string]kmsg.OffsetCommitValue
	var groups map[string]*kmsg.GroupMetadataValue
	waitFor(t, "the commits in __consumer_offsets", 20*time.Second, func() bool {
		offsets, groups = offsetsTopicState(t, b)
		return len(offsets) >= 2 && groups["shipping"] != nil
	})
	// kadm commits the offset after each record's: 42 and 8.
	if v := offsets[[3]string{"billing", "orders", itoa32(0)}]; v.Offset != 42 || v.Version != 3 || v.CommitTimestamp <= 0 {
		t.Errorf("billing orders-0: %+v, want offset 42 in value version 3 with a commit time", v)
	}
	if v := offsets[[3]string{"billing", "orders", itoa32(2)}]; v.Offset != 8 {
		t.Errorf("billing orders-2: %+v, want offset 8", v)
	}
	var shipped int64
	for id, v := range offsets {
		if id[0] == "shipping" {
			shipped += v.Offset
		}
	}
	if shipped != 6 {
		t.Errorf("shipping committed offsets sum to %d, want 6 (every record consumed)", shipped)
	}
	g := groups["shipping"]
	if g.ProtocolType != "consumer" || g.Generation < 1 || len(g.Members) != 1 || g.Protocol == nil || g.Leader == nil ||
		len(g.Members[0].Subscription) == 0 || len(g.Members[0].Assignment) == 0 {
		t.Errorf("shipping group metadata: %+v", g)
	}
	var sub kmsg.ConsumerMemberMetadata
	if err := sub.ReadFrom(g.Members[0].Subscription); err != nil || len(sub.Topics) != 1 || sub.Topics[0] != "orders" {
		t.Errorf("member subscription %+v: %v", sub, err)
	}

	// Deleting a group leaves tombstones for its offsets and metadata.
	cons.Close()
	waitFor(t, "the shipping group to empty", 20*time.Second, func() bool {
		d, err := adm.DescribeGroups(ctx, "shipping")
		return err == nil && d["shipping"].State == "Empty"
	})
	if r, err := adm.DeleteGroup(ctx, "billing"); err != nil || r.Err != nil {
		t.Fatalf("delete group: %v %v", err, r.Err)
	}
	waitFor(t, "billing's offsets to be tombstoned", 20*time.Second, func() bool {
		offsets, _ = offsetsTopicState(t, b)
		for id := range offsets {
			if id[0] == "billing" {
				return false
			}
		}
		return true
	})
}

// TestInternalTopicsAsKafkaShowsThem: __consumer_offsets and __transaction_state appear in
// Metadata and DescribeTopicPartitions with IsInternal once used, with the configured partition
// counts; clients can describe them but not produce to, delete, repartition or reconfigure them,
// nor create look-alikes; a transaction's state reaches __transaction_state in Kafka's schema.
func TestInternalTopicsAsKafkaShowsThem(t *testing.T) {
	b := newTestBroker(t, fastGroups(), withConfig(func(c *config.Config) { c.TransactionStateNumPartitions = 7 }))
	ctx := testContext(t)
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "events", 1, nil)
	if _, err := adm.CommitOffsets(ctx, "g", kadm.OffsetsFromRecords(kgo.Record{Topic: "events", Offset: 1})); err != nil {
		t.Fatal(err)
	}
	tx := b.Client(t, kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic("events"))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "both internal topics", 20*time.Second, func() bool {
		md, err := adm.Metadata(ctx)
		return err == nil && md.Topics.Has(OffsetsTopic) && md.Topics.Has(TransactionStateTopic)
	})
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{OffsetsTopic: 50, TransactionStateTopic: 7} {
		td := md.Topics[name]
		if !td.IsInternal || len(td.Partitions) != n {
			t.Errorf("%s: internal=%v partitions=%d, want internal with %d", name, td.IsInternal, len(td.Partitions), n)
		}
	}
	if md.Topics["events"].IsInternal {
		t.Error("a user topic is marked internal")
	}
	dtp := kmsg.NewPtrDescribeTopicPartitionsRequest()
	dtp.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{{Topic: OffsetsTopic}}
	dr, err := dtp.RequestWith(ctx, b.Client(t))
	if err != nil || len(dr.Topics) != 1 || !dr.Topics[0].IsInternal || dr.Topics[0].ErrorCode != 0 {
		t.Fatalf("DescribeTopicPartitions: %v %+v", err, dr)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := cfgs.On(OffsetsTopic, nil); err != nil || configValue(c.Configs, "cleanup.policy") != "compact" {
		t.Errorf("describe configs of %s: %v %+v", OffsetsTopic, err, c)
	}

	// Clients change nothing.
	perr := b.Client(t).ProduceSync(ctx, &kgo.Record{Topic: OffsetsTopic, Value: []byte("x")}).FirstErr()
	if !errors.Is(perr, kerr.InvalidTopicException) {
		t.Errorf("produce to %s: %v, want INVALID_TOPIC_EXCEPTION", OffsetsTopic, perr)
	}
	dres, err := adm.DeleteTopics(ctx, TransactionStateTopic)
	if err != nil || !errors.Is(dres[TransactionStateTopic].Err, kerr.PolicyViolation) {
		t.Errorf("delete %s: %v %+v", TransactionStateTopic, err, dres)
	}
	if r, err := adm.CreatePartitions(ctx, 1, OffsetsTopic); err != nil || !errors.Is(r[OffsetsTopic].Err, kerr.PolicyViolation) {
		t.Errorf("create partitions on %s: %v %+v", OffsetsTopic, err, r)
	}
	if r, err := adm.CreateTopic(ctx, 1, 1, nil, "__consumer.offsets"); err == nil && r.Err == nil {
		t.Error("a look-alike of __consumer_offsets was created")
	}

	// __transaction_state holds tx-1's state in Kafka's schema.
	cl := b.Client(t, kgo.ConsumeTopics(TransactionStateTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var st kmsg.TxnMetadataValue
	for st.State != kmsg.TransactionStateCompleteCommit {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no CompleteCommit state for tx-1 in %s (last %+v)", TransactionStateTopic, st)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var k kmsg.TxnMetadataKey
			if err := k.ReadFrom(r.Key); err != nil || k.TransactionalID != "tx-1" {
				t.Fatalf("key %x: %v", r.Key, err)
			}
			if want := coordinatorPartition("tx-1", 7); r.Partition != want {
				t.Fatalf("tx-1 in partition %d, want %d", r.Partition, want)
			}
			if err := st.ReadFrom(r.Value); err != nil {
				t.Fatalf("value: %v", err)
			}
		})
	}
	if st.ProducerID < 0 || len(st.Topics) != 0 || st.TimeoutMillis <= 0 {
		t.Errorf("tx-1 state: %+v", st)
	}
}

// TestOffsetsTopicAcrossRestarts: a clean restart leaves the projected topic as it was (the
// marker spares a rewrite); a start without the marker (as after a crash) rewrites it from the
// journal, so that its records again equal the coordinator state and older ones are gone.
func TestOffsetsTopicAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir, fastGroups())
	ctx := testContext(t)
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "a", 1, nil)
	for i := range 5 {
		if _, err := adm.CommitOffsets(ctx, "g", kadm.OffsetsFromRecords(kgo.Record{Topic: "a", Offset: int64(i)})); err != nil {
			t.Fatal(err)
		}
	}
	p := coordinatorPartition("g", 50)
	waitFor(t, "the last commit projected", 20*time.Second, func() bool {
		o, _ := offsetsTopicState(t, b)
		return o[[3]string{"g", "a", itoa32(0)}].Offset == 5 // the record offset + 1
	})
	ends := func(b *testBroker) (start, end int64) {
		s, err := b.Admin(t).ListStartOffsets(testContext(t), OffsetsTopic)
		if err != nil {
			t.Fatal(err)
		}
		e, err := b.Admin(t).ListEndOffsets(testContext(t), OffsetsTopic)
		if err != nil {
			t.Fatal(err)
		}
		so, _ := s.Lookup(OffsetsTopic, p)
		eo, _ := e.Lookup(OffsetsTopic, p)
		return so.Offset, eo.Offset
	}
	_, end := ends(b)
	b.stop(t)
	if _, err := os.Stat(filepath.Join(dir, projectionMarkerName)); err != nil {
		t.Fatalf("no marker after a clean shutdown: %v", err)
	}

	b = startTestBroker(t, dir, fastGroups())
	if s2, e2 := ends(b); s2 != 0 || e2 != end {
		t.Fatalf("after a clean restart: [%d, %d), want [0, %d) untouched", s2, e2, end)
	}
	b.stop(t)

	if err := os.Remove(filepath.Join(dir, projectionMarkerName)); err != nil {
		t.Fatal(err)
	}
	b = startTestBroker(t, dir, fastGroups())
	waitFor(t, "the rewrite after an unclean stop", 20*time.Second, func() bool {
		s3, e3 := ends(b)
		return s3 == end && e3 > end
	})
	o, _ := offsetsTopicState(t, b)
	if len(o) != 1 || o[[3]string{"g", "a", itoa32(0)}].Offset != 5 {
		t.Fatalf("after the rewrite: %+v", o)
	}
}

// TestRegexSubscriptionsAndInternalTopics: franz-go's classic regex consumer skips internal
// topics (it reads IsInternal from Metadata), while a KIP-848 regex, resolved by the broker as
// Kafka 4 does over every topic, is assigned __consumer_offsets when it matches it.
func TestRegexSubscriptionsAndInternalTopics(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	ctx := testContext(t)
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "events", 1, nil)
	if _, err := adm.CommitOffsets(ctx, "seed", kadm.OffsetsFromRecords(kgo.Record{Topic: "events", Offset: 1})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, OffsetsTopic, 20*time.Second, func() bool {
		md, err := adm.Metadata(ctx)
		return err == nil && md.Topics.Has(OffsetsTopic)
	})
	produceN(t, b.Client(t), "events", 3)

	classic := b.Client(t, kgo.ConsumerGroup("classic-rx"), kgo.ConsumeRegex(), kgo.ConsumeTopics(".*"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	got := 0
	for got < 3 {
		fs := classic.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("classic regex consumer got %d of 3 records", got)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic != "events" {
				t.Fatalf("classic regex consumer read %s", r.Topic)
			}
			got++
		})
	}
	// Its own commits now land in __consumer_offsets; a second poll must still not read them.
	if err := classic.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	pollCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	classic.PollFetches(pollCtx).EachRecord(func(r *kgo.Record) { t.Errorf("classic regex consumer read %s", r.Topic) })

	// franz-go itself skips internal topics before it joins a KIP-848 group, so the member is
	// driven with raw heartbeats, as a client that leaves the regex to the broker would.
	id, _, _ := topicView{b.cluster}.Partitions(OffsetsTopic)
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.MemberEpoch, hb.RebalanceTimeoutMillis = "modern-rx", "modern-member-0000000001", 0, 30000
	hb.SubscribedTopicRegex = kmsg.StringPtr("__consumer_off.*")
	hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	cl := b.Client(t)
	waitFor(t, "the KIP-848 regex to be assigned all of __consumer_offsets", 20*time.Second, func() bool {
		resp, err := hb.RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("heartbeat: %v %+v", err, resp)
		}
		hb.MemberID, hb.MemberEpoch = *resp.MemberID, resp.MemberEpoch
		if resp.Assignment == nil {
			return false
		}
		n := 0
		for _, at := range resp.Assignment.Topics {
			if at.TopicID != id {
				t.Fatalf("assigned topic %x, want only %s", at.TopicID, OffsetsTopic)
			}
			n += len(at.Partitions)
		}
		return n == 50
	})
}
