package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFranzGoDefaults connects a franz-go client with no version cap, exactly as an application
// would, and round-trips records: it covers ApiVersions negotiation with the newest request
// versions franz-go knows (which may be newer than the broker's), then Metadata, Produce with
// franz-go's default idempotence disabled only because InitProducerId may not exist yet, and
// Fetch.
func TestFranzGoDefaults(t *testing.T) {
	b := startBroker(t, nil)
	const topic = "franz-defaults"
	createTopic(t, b.Addr(), topic, 2, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic(topic),
		kgo.DisableIdempotentWrite(), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("franz-go with default versions cannot talk to the broker: %v", err)
	}
	const n = 100
	recs := make([]*kgo.Record, n)
	for i := range n {
		recs[i] = &kgo.Record{Key: []byte(fmt.Sprintf("k%03d", i)), Value: []byte(fmt.Sprintf("v%03d", i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	want := map[string]string{}
	for _, r := range recs {
		want[string(r.Key)] = string(r.Value)
	}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume: %d records never arrived", len(want))
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("consume %s[%d]: %v", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if v, ok := want[string(r.Key)]; !ok || v != string(r.Value) {
				t.Errorf("unexpected record %s=%s at %d/%d", r.Key, r.Value, r.Partition, r.Offset)
			}
			delete(want, string(r.Key))
		})
	}
}
