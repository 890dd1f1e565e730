package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

func listOffset(t *testing.T, rc *rawConn, version int16, topic string, ts int64) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(version)
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return rc.roundTrip(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
}

func TestListOffsets(t *testing.T) {
	b := newTestBroker(t)
	cl := b.Client(t, kgo.AllowAutoTopicCreation())
	ctx := testContext(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 10 {
		r := &kgo.Record{Topic: "lo", Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name       string
		version    int16
		ts         int64
		wantOffset int64
		wantErr    *kerr.Error
	}{
		{"earliest", 7, -2, 0, nil},
		{"latest", 7, -1, 10, nil},
		{"by time exact", 7, base.Add(3 * time.Minute).UnixMilli(), 3, nil},
		{"by time between", 7, base.Add(3*time.Minute + time.Second).UnixMilli(), 4, nil},
		{"by time after all", 7, base.Add(time.Hour).UnixMilli(), -1, nil},
		{"max timestamp", 7, -3, 9, nil},
		{"max timestamp too old a version", 6, -3, -1, kerr.UnsupportedVersion},
		{"earliest local", 8, -4, 0, nil},
		{"latest tiered", 9, -5, -1, nil},
	}
	rc := dialRaw(t, b.Addr)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := listOffset(t, rc, tc.version, "lo", tc.ts)
			if tc.wantErr != nil {
				if got.ErrorCode != tc.wantErr.Code {
					t.Fatalf("error %d, want %v", got.ErrorCode, tc.wantErr)
				}
				return
			}
			if got.ErrorCode != 0 || got.Offset != tc.wantOffset {
				t.Fatalf("offset %d error %d, want offset %d", got.Offset, got.ErrorCode, tc.wantOffset)
			}
		})
	}
	if got := listOffset(t, rc, 7, "nope", -1); got.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: error %d", got.ErrorCode)
	}
}

func metadataRequest(version int16, allowAuto bool, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(version)
	req.AllowAutoTopicCreation = allowAuto
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func TestMetadata(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.NumPartitions = 2 }))
	rc := dialRaw(t, b.Addr)

	// Auto-creation: named topics are created with num.partitions.
	resp := rc.roundTrip(metadataRequest(12, true, "auto")).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("auto-create: %+v", resp.Topics)
	}
	if resp.Topics[0].TopicID == [16]byte{} || resp.ClusterID == nil || *resp.ClusterID == "" {
		t.Fatal("topic id or cluster id missing")
	}
	if host, port := resp.Brokers[0].Host, resp.Brokers[0].Port; host != "127.0.0.1" || port == 0 {
		t.Fatalf("advertised %s:%d", host, port)
	}
	id := resp.Topics[0].TopicID

	// Not created when the request disallows it; invalid names are refused.
	resp = rc.roundTrip(metadataRequest(12, false, "manual", "bad/name")).(*kmsg.MetadataResponse)
	if resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code || resp.Topics[1].ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("no auto-create: %d %d", resp.Topics[0].ErrorCode, resp.Topics[1].ErrorCode)
	}
	// v1+: empty list means no topics, null means all; v0: empty means all.
	if resp := rc.roundTrip(metadataRequest(12, true)).(*kmsg.MetadataResponse); len(resp.Topics) != 1 {
		t.Fatalf("null topics: %d topics, want all (1)", len(resp.Topics))
	}
	empty := metadataRequest(9, true)
	empty.Topics = []kmsg.MetadataRequestTopic{}
	if resp := rc.roundTrip(empty).(*kmsg.MetadataResponse); len(resp.Topics) != 0 {
		t.Fatalf("empty list: %d topics, want none", len(resp.Topics))
	}
	v0 := metadataRequest(0, true)
	v0.Topics = []kmsg.MetadataRequestTopic{}
	if resp := rc.roundTrip(v0).(*kmsg.MetadataResponse); len(resp.Topics) != 1 {
		t.Fatalf("v0 empty list: %d topics, want all", len(resp.Topics))
	}

	// v12 by topic id, known and unknown; ids before v12 are invalid.
	byID := kmsg.NewPtrMetadataRequest()
	byID.SetVersion(12)
	byID.Topics = []kmsg.MetadataRequestTopic{{TopicID: id}, {TopicID: [16]byte{1}}}
	resp = rc.roundTrip(byID).(*kmsg.MetadataResponse)
	if resp.Topics[0].ErrorCode != 0 || *resp.Topics[0].Topic != "auto" || resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("by id: %+v", resp.Topics)
	}
	byID.SetVersion(11)
	byID.Topics = byID.Topics[:1]
	if resp := rc.roundTrip(byID).(*kmsg.MetadataResponse); resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("id in v11: error %d", resp.Topics[0].ErrorCode)
	}
}

func TestMetadataAutoCreateDisabled(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.AutoCreateTopics = false }))
	rc := dialRaw(t, b.Addr)
	resp := rc.roundTrip(metadataRequest(12, true, "x")).(*kmsg.MetadataResponse)
	if resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("error %d", resp.Topics[0].ErrorCode)
	}
}
