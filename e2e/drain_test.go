package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchResult is how a long-poll Fetch ended.
type fetchResult struct {
	resp *kmsg.FetchResponse
	err  error
	at   time.Time
}

// TestSigtermDrain sends SIGTERM while a long-poll Fetch is parked on an empty partition and
// acks=all produce requests are in flight. The broker must answer the long poll early, exit with
// status 0 within 15s, and every acknowledged record must be there after a restart.
func TestSigtermDrain(t *testing.T) {
	const topic, idle = "drain", "drain-idle"
	b := startBroker(t, nil)
	createTopic(t, b.Addr(), topic, crashPartitions, nil)
	createTopic(t, b.Addr(), idle, 1, nil)

	fetched := make(chan fetchResult, 1)
	go longPoll(t, b.Addr(), idle, fetched)

	acks := newAckLog()
	tr := startTraffic(t, b.Addr(), topic, acks)
	waitFor(t, 20*time.Second, "200 acknowledged records", func() bool { return acks.count() >= 200 })
	// Give the long poll time to be read and parked; this only chooses the moment.
	time.Sleep(300 * time.Millisecond)
	select {
	case r := <-fetched:
		t.Fatalf("long-poll fetch on an empty partition returned before SIGTERM: %+v", r)
	default:
	}

	sigterm := time.Now()
	took := b.stop(t)
	tr.finish(t)
	t.Logf("broker exited %v after SIGTERM; %d records acknowledged, %d unacknowledged",
		took.Round(time.Millisecond), acks.count(), tr.failed.Load())

	select {
	case r := <-fetched:
		switch {
		case r.err != nil:
			t.Errorf("long-poll fetch got no answer during the drain: %v", r.err)
		default:
			t.Logf("long-poll fetch answered %v after SIGTERM", r.at.Sub(sigterm).Round(time.Millisecond))
			checkEmptyFetch(t, r.resp)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("long-poll fetch still pending 5s after the broker exited")
	}

	b.restart(t)
	verifyAcked(t, b.Addr(), topic, acks)
}

// longPoll sends one Fetch for offset 0 of an empty partition, waiting up to 30s for data.
func longPoll(t *testing.T, addr, topic string, out chan<- fetchResult) {
	cl := newClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		out <- fetchResult{err: err, at: time.Now()}
		return
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 30000
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rt.TopicID = details[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	out <- fetchResult{resp: resp, err: err, at: time.Now()}
}

func checkEmptyFetch(t *testing.T, resp *kmsg.FetchResponse) {
	t.Helper()
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Errorf("drained long poll: top-level error %v", err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Errorf("drained long poll: partition %d error %v", rp.Partition, err)
			}
			if len(rp.RecordBatches) != 0 {
				t.Errorf("drained long poll: partition %d returned %d bytes from an empty log", rp.Partition, len(rp.RecordBatches))
			}
		}
	}
}
