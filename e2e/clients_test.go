package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// harnessVersions caps the request versions of the franz-go clients the harness itself uses (to
// create topics, list offsets, read logs back, drive the crash and drain tests) at Kafka 4.0's, the
// release the broker matches. The clients under test (kcat, the Python clients) keep their
// defaults, and TestFranzGoDefaults covers an unconfigured franz-go client on its own, so one
// negotiation bug cannot hide what every other test would have found.
func harnessVersions() kgo.Opt { return kgo.MaxVersions(kversion.V4_0_0()) }

// newClient returns a franz-go client for addr that is closed when the test ends.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID("bulwark-e2e"), harnessVersions()}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with the admin API (CreateTopics, replication factor 1) and waits
// until Metadata shows a leader for every partition.
func createTopic(t *testing.T, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := adm.CreateTopics(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("CreateTopics %s (%d partitions): %v", topic, partitions, err)
	}
	waitFor(t, 15*time.Second, "topic "+topic+" to have leaders", func() bool {
		details, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return false
		}
		d, ok := details[topic]
		if !ok || d.Err != nil || int32(len(d.Partitions)) != partitions {
			return false
		}
		for _, p := range d.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
		return true
	})
}

// partitionBounds returns the log start and high watermark of every partition of topic.
func partitionBounds(t *testing.T, addr, topic string) (start, end map[int32]int64) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		t.Fatalf("ListStartOffsets %s: %v", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("ListEndOffsets %s: %v", topic, err)
	}
	start, end = map[int32]int64{}, map[int32]int64{}
	starts.Each(func(o kadm.ListedOffset) { start[o.Partition] = o.Offset })
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	return start, end
}

// consumeAll reads every partition of topic from its log start to its current high watermark
// with a franz-go consumer (no group) and returns the records per partition in offset order.
func consumeAll(t *testing.T, addr, topic string) map[int32][]*kgo.Record {
	t.Helper()
	start, end := partitionBounds(t, addr, topic)
	offsets := map[int32]kgo.Offset{}
	for p, s := range start {
		if end[p] > s {
			offsets[p] = kgo.NewOffset().At(s)
		}
	}
	out := map[int32][]*kgo.Record{}
	for p := range start {
		out[p] = nil
	}
	if len(offsets) == 0 {
		return out
	}
	cl := newClient(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	remaining := len(offsets)
	next := map[int32]int64{}
	for p, s := range start {
		next[p] = s
	}
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: timed out; still reading %d partitions (next offsets %v, ends %v)", topic, remaining, next, end)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("consume %s[%d]: %v", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end[r.Partition] {
				return // written after we listed the end; not part of this snapshot
			}
			out[r.Partition] = append(out[r.Partition], r)
			next[r.Partition] = r.Offset + 1
			if r.Offset+1 == end[r.Partition] {
				remaining--
			}
		})
	}
	return out
}

// batchCodecs fetches partition p of topic from offset 0 with a raw Fetch request and returns the
// compression codec (attributes & 7) of every stored record batch, to prove the broker keeps
// batches as the client compressed them.
func batchCodecs(t *testing.T, addr, topic string, p int32) []int {
	t.Helper()
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatalf("metadata %s: %v", topic, err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 100
	req.MinBytes = 1
	req.MaxBytes = 64 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rt.TopicID = details[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = p
	rp.FetchOffset = 0
	rp.PartitionMaxBytes = 64 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("fetch %s[%d]: %v", topic, p, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("fetch %s[%d]: %v", topic, p, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch %s[%d]: unexpected response shape %+v", topic, p, resp)
	}
	rpart := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(rpart.ErrorCode); err != nil {
		t.Fatalf("fetch %s[%d]: %v", topic, p, err)
	}
	codecs, err := parseBatchCodecs(rpart.RecordBatches)
	if err != nil {
		t.Fatalf("fetch %s[%d]: %v", topic, p, err)
	}
	return codecs
}

// parseBatchCodecs walks v2 record batches: baseOffset int64, batchLength int32, then
// partitionLeaderEpoch int32, magic int8, crc int32, attributes int16 (at byte 21). A truncated
// final batch is allowed (Fetch may cut the last one).
func parseBatchCodecs(b []byte) ([]int, error) {
	var codecs []int
	for len(b) >= 23 {
		length := int64(int32(binary.BigEndian.Uint32(b[8:12])))
		if length < 11 {
			return nil, fmt.Errorf("batch length %d too small", length)
		}
		if b[16] != 2 {
			return nil, fmt.Errorf("batch magic %d, want 2", b[16])
		}
		codecs = append(codecs, int(binary.BigEndian.Uint16(b[21:23])&7))
		if int64(len(b)) < 12+length {
			break
		}
		b = b[12+length:]
	}
	return codecs, nil
}

// apiKeyFindCoordinator is FindCoordinator's API key.
const apiKeyFindCoordinator int16 = 10

// apiVersions returns the broker's advertised [min, max] version per API key.
func apiVersions(t *testing.T, addr string) map[int16][2]int16 {
	t.Helper()
	cl := newClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	out := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		out[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return out
}
