package broker

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceTo writes n one-record batches to one partition and returns the client used.
func produceTo(t testing.TB, b *testBroker, topic string, partition int32, n int) *kgo.Client {
	t.Helper()
	cl := b.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testContext(t)
	for range n {
		r := &kgo.Record{Topic: topic, Partition: partition, Value: []byte("value")}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s-%d: %v", topic, partition, err)
		}
	}
	return cl
}

func newCreatePartitions(topic string, count int32, assignments ...[]int32) kmsg.CreatePartitionsRequestTopic {
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	for _, replicas := range assignments {
		rt.Assignment = append(rt.Assignment, kmsg.CreatePartitionsRequestTopicAssignment{Replicas: replicas})
	}
	return rt
}

func TestCreatePartitions(t *testing.T) {
	b := newTestBroker(t)
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "grow", 1, nil)
	rs, err := adm.UpdatePartitions(testContext(t), 3, "grow")
	if err != nil || rs.Error() != nil {
		t.Fatalf("update partitions: %v %v", err, rs.Error())
	}
	md, err := adm.Metadata(testContext(t), "grow")
	if err != nil || len(md.Topics["grow"].Partitions) != 3 {
		t.Fatalf("metadata after growing: %v %+v", err, md.Topics["grow"])
	}
	produceTo(t, b, "grow", 2, 3)
	if hwm := b.cluster.lookupTopic("grow").partition(2).log.HighWatermark(); hwm != 3 {
		t.Fatalf("new partition high watermark %d, want 3", hwm)
	}

	// Validate only, then explicit assignments (one [this node] list per new partition).
	rs, err = adm.ValidateCreatePartitions(testContext(t), 2, "grow")
	if err != nil || rs.Error() != nil || len(b.cluster.lookupTopic("grow").partitions) != 3 {
		t.Fatalf("validate only: %v %v", err, rs.Error())
	}
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Topics = append(req.Topics, newCreatePartitions("grow", 5, []int32{1}, []int32{1}))
	resp := rawAt[*kmsg.CreatePartitionsResponse](t, b, 3, req)
	wantCode(t, "assigned", resp.Topics[0].ErrorCode, nil)
	if n := len(b.cluster.lookupTopic("grow").partitions); n != 5 {
		t.Fatalf("%d partitions after an assigned grow, want 5", n)
	}
}

func TestCreatePartitionsErrors(t *testing.T) {
	b := newTestBroker(t)
	mustCreateTopic(t, b.Admin(t), "two", 2, nil)
	cases := []struct {
		name    string
		topics  []kmsg.CreatePartitionsRequestTopic
		want    *kerr.Error
		msgPart string
	}{
		{"same count", []kmsg.CreatePartitionsRequestTopic{newCreatePartitions("two", 2)}, kerr.InvalidPartitions, "already has"},
		{"fewer", []kmsg.CreatePartitionsRequestTopic{newCreatePartitions("two", 1)}, kerr.InvalidPartitions, "not be an increase"},
		{"unknown", []kmsg.CreatePartitionsRequestTopic{newCreatePartitions("nope", 3)}, kerr.UnknownTopicOrPartition, ""},
		{"duplicate", []kmsg.CreatePartitionsRequestTopic{newCreatePartitions("two", 3), newCreatePartitions("two", 4)}, kerr.InvalidRequest, "duplicate"},
		{"too few assignments", []kmsg.CreatePartitionsRequestTopic{newCreatePartitions("two", 4, []int32{1})}, kerr.InvalidReplicaAssignment, "only 1 assignment"},
		{"empty assignments", []kmsg.CreatePartitionsRequestTopic{newCreatePartitions("two", 3, nil)}, kerr.InvalidReplicaAssignment, "empty"},
		{"other broker", []kmsg.CreatePartitionsRequestTopic{newCreatePartitions("two", 3, []int32{7})}, kerr.InvalidReplicaAssignment, "broker 7"},
		{"two replicas", []kmsg.CreatePartitionsRequestTopic{newCreatePartitions("two", 3, []int32{1, 1})}, kerr.InvalidReplicaAssignment, "more than once"},
		{"too many", []kmsg.CreatePartitionsRequestTopic{newCreatePartitions("two", maxNewPartitionsPerRequest+3)}, kerr.PolicyViolation, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrCreatePartitionsRequest()
			req.Topics = tc.topics
			resp := rawAt[*kmsg.CreatePartitionsResponse](t, b, 3, req)
			if len(resp.Topics) != 1 {
				t.Fatalf("%d results, want 1", len(resp.Topics))
			}
			wantCode(t, tc.name, resp.Topics[0].ErrorCode, tc.want)
			if msg := resp.Topics[0].ErrorMessage; msg == nil || !strings.Contains(*msg, tc.msgPart) {
				t.Errorf("message %v, want one containing %q", msg, tc.msgPart)
			}
			if n := len(b.cluster.lookupTopic("two").partitions); n != 2 {
				t.Fatalf("a failed request changed the topic to %d partitions", n)
			}
		})
	}
}

func TestDeleteRecords(t *testing.T) {
	b := newTestBroker(t)
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "dr", 1, nil)
	mustCreateTopic(t, adm, "compacted", 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	produceTo(t, b, "dr", 0, 10)

	var os kadm.Offsets
	os.AddOffset("dr", 0, 4, -1)
	rs, err := adm.DeleteRecords(testContext(t), os)
	if err != nil || rs.Error() != nil {
		t.Fatalf("delete records: %v %v", err, rs.Error())
	}
	if low := rs["dr"][0].LowWatermark; low != 4 {
		t.Fatalf("low watermark %d, want 4", low)
	}
	starts, err := adm.ListStartOffsets(testContext(t), "dr")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("dr", 0); o.Offset != 4 {
		t.Fatalf("start offset %d after delete records, want 4", o.Offset)
	}

	deleteAt := func(topic string, partition int32, offset int64) kmsg.DeleteRecordsResponseTopicPartition {
		req := kmsg.NewPtrDeleteRecordsRequest()
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{{Partition: partition, Offset: offset}}
		req.Topics = append(req.Topics, rt)
		return rawAt[*kmsg.DeleteRecordsResponse](t, b, 2, req).Topics[0].Partitions[0]
	}
	cases := []struct {
		name      string
		topic     string
		partition int32
		offset    int64
		want      *kerr.Error
		wantLow   int64
	}{
		{"lower is a no-op", "dr", 0, 2, nil, 4},
		{"mid log", "dr", 0, 7, nil, 7},
		{"beyond the high watermark", "dr", 0, 11, kerr.OffsetOutOfRange, -1},
		{"negative", "dr", 0, -2, kerr.OffsetOutOfRange, -1},
		{"unknown partition", "dr", 5, 0, kerr.UnknownTopicOrPartition, -1},
		{"unknown topic", "nope", 0, 0, kerr.UnknownTopicOrPartition, -1},
		{"compacted topic", "compacted", 0, 0, kerr.PolicyViolation, -1},
		{"high watermark", "dr", 0, -1, nil, 10},
	}
	for _, tc := range cases {
		got := deleteAt(tc.topic, tc.partition, tc.offset)
		wantCode(t, tc.name, got.ErrorCode, tc.want)
		if got.LowWatermark != tc.wantLow {
			t.Errorf("%s: low watermark %d, want %d", tc.name, got.LowWatermark, tc.wantLow)
		}
	}

	// The new log start survives a restart: it is in the metadata log, not only in memory.
	dir := b.Dir
	b.stop(t)
	b2 := startTestBroker(t, dir)
	if start := b2.cluster.lookupTopic("dr").partition(0).log.LogStartOffset(); start != 10 {
		t.Fatalf("log start offset %d after restart, want 10", start)
	}
}
