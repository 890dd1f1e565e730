package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestListOffsetsRecordByRecord: timestamp lookups answer the first record at or after the
// target, not the first record of the batch holding it, and MAX_TIMESTAMP the record carrying
// the largest timestamp, as Kafka 4 does; for batches of one record, of many, and compressed.
func TestListOffsetsRecordByRecord(t *testing.T) {
	tb := newTestBroker(t)
	ctx := testContext(t)
	adm := tb.Admin(t)
	codecs := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for name, codec := range codecs {
		for _, perBatch := range []int{10, 1} {
			topic := fmt.Sprintf("times-%s-%d", name, perBatch)
			mustCreateTopic(t, adm, topic, 1, nil)
			cl := tb.Client(t, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(50*time.Millisecond))
			// Ten records with timestamps base, base+1 s, …, base+9 s: in one batch, or one each.
			for i := 0; i < 10; i += perBatch {
				var rs []*kgo.Record
				for j := i; j < i+perBatch; j++ {
					rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("v%d", j)), Timestamp: base.Add(time.Duration(j) * time.Second)})
				}
				if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []struct {
				at   time.Duration
				want int64
			}{{0, 0}, {4500 * time.Millisecond, 5}, {5 * time.Second, 5}, {9 * time.Second, 9}, {10 * time.Second, -1}} {
				got, ts := offsetAt(t, tb, topic, base.Add(c.at).UnixMilli())
				if got != c.want {
					t.Errorf("%s: offset for base+%v = %d (ts %d), want %d", topic, c.at, got, ts, c.want)
				}
			}
		}
		// MAX_TIMESTAMP: now+100 s, now+300 s, now+200 s in one batch answer offset 1.
		topic := "max-" + name
		mustCreateTopic(t, adm, topic, 1, nil)
		cl := tb.Client(t, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(50*time.Millisecond))
		now := time.Now()
		if err := cl.ProduceSync(ctx, &kgo.Record{Timestamp: now.Add(100 * time.Second)}, &kgo.Record{Timestamp: now.Add(300 * time.Second)},
			&kgo.Record{Timestamp: now.Add(200 * time.Second)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if got, ts := offsetAt(t, tb, topic, -3); got != 1 || ts != now.Add(300*time.Second).UnixMilli() {
			t.Errorf("%s: MAX_TIMESTAMP = offset %d, timestamp %d; want 1, %d", topic, got, ts, now.Add(300*time.Second).UnixMilli())
		}
	}
}

// offsetAt asks ListOffsets v9 for one partition's offset at a timestamp (or -1/-2/-3).
func offsetAt(t *testing.T, tb *testBroker, topic string, ts int64) (int64, int64) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 9
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), tb.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("ListOffsets %s at %d: error %d", topic, ts, p.ErrorCode)
	}
	return p.Offset, p.Timestamp
}
