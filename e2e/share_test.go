package e2e

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// freeAddr reserves nothing: it finds a loopback port free right now, for a broker that must
// keep its address across a restart.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestShareGroupSurvivesSIGKILL: a franz-go share consumer works a queue, accepting every record
// and flushing its acknowledgements; the broker is killed with SIGKILL in the middle and
// restarted on the same address. Every record is delivered, and no record whose acceptance the
// broker confirmed before the kill is delivered again after it.
func TestShareGroupSurvivesSIGKILL(t *testing.T) {
	addr := freeAddr(t)
	b := startBroker(t, map[string]string{"listeners": "PLAINTEXT://" + addr, "group.share.heartbeat.interval.ms": "500"})
	const topic, group, total = "queue", "workers", 600
	createTopic(t, addr, topic, 3, nil)
	prod := newClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for i := range total {
		v := fmt.Sprintf("job-%d", i)
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(v), Value: []byte(v)})
	}
	if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Value = "share.auto.offset.reset", kmsg.StringPtr("earliest")
	res.Configs = append(res.Configs, c)
	cfg.Resources = append(cfg.Resources, res)
	if r, err := cfg.RequestWith(ctx, prod); err != nil || r.Resources[0].ErrorCode != 0 {
		t.Fatalf("group config: %v %+v", err, r)
	}

	var ackFailures atomic.Int64
	// Without the harness's Kafka 4.0 version cap: share groups arrived in Kafka 4.1/4.2.
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ShareMaxRecords(20), kgo.ShareAckCallback(func(_ *kgo.Client, rs kgo.ShareAckResults) {
			if !rs.Ok() {
				ackFailures.Add(1)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var mu sync.Mutex
	delivered := map[string]int{}
	confirmed := map[string]bool{} // accepted, and the broker answered the flush without error
	var killed atomic.Bool
	afterKill := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			var batch []string
			fs.EachRecord(func(r *kgo.Record) {
				r.Ack(kgo.AckAccept)
				batch = append(batch, string(r.Value))
			})
			if len(batch) == 0 {
				continue
			}
			before := ackFailures.Load()
			flushCtx, fc := context.WithTimeout(ctx, 10*time.Second)
			err := cons.FlushAcks(flushCtx)
			fc()
			mu.Lock()
			for _, v := range batch {
				delivered[v]++
				if killed.Load() {
					afterKill[v]++
				}
				if err == nil && ackFailures.Load() == before {
					confirmed[v] = true
				}
			}
			n := len(delivered)
			mu.Unlock()
			if n == total {
				return
			}
			time.Sleep(30 * time.Millisecond) // a worker doing its job, so the kill lands mid-queue
		}
	}()
	waitFor(t, 60*time.Second, "a third of the queue worked", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(confirmed) >= total/3
	})
	mu.Lock()
	before := make(map[string]bool, len(confirmed))
	for v := range confirmed {
		before[v] = true
	}
	mu.Unlock()
	b.kill(t)
	killed.Store(true)
	b.restart(t)
	select {
	case <-done:
	case <-ctx.Done():
	}
	cons.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != total {
		t.Fatalf("%d of %d records delivered", len(delivered), total)
	}
	if len(before) == total || len(afterKill) == 0 {
		t.Fatalf("the kill did not land mid-queue (%d confirmed before it, %d delivered after it)", len(before), len(afterKill))
	}
	again := 0
	for v := range before {
		if afterKill[v] > 0 {
			again++
			t.Errorf("record %s was confirmed accepted before the SIGKILL and delivered again after it", v)
		}
	}
	t.Logf("%d records confirmed before the kill; %d delivered after it; %d confirmed ones redelivered", len(before), len(afterKill), again)
}
