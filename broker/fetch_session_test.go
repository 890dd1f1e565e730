package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

func sessionFetch(id, epoch int32, partitions ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.MaxBytes, req.SessionID, req.SessionEpoch = 1<<20, id, epoch
	if len(partitions) > 0 {
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "sess"
		for _, p := range partitions {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.PartitionMaxBytes = p, 1<<20
			ft.Partitions = append(ft.Partitions, fp)
		}
		req.Topics = append(req.Topics, ft)
	}
	return req
}

func partitionsIn(resp *kmsg.FetchResponse) map[int32]kmsg.FetchResponseTopicPartition {
	out := map[int32]kmsg.FetchResponseTopicPartition{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = p
		}
	}
	return out
}

func TestFetchSessions(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.NumPartitions = 3 }))
	cl := b.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testContext(t)
	rc := dialRaw(t, b.Addr)
	rc.roundTrip(metadataRequest(12, true, "sess")) // creates the (empty) topic

	// A full fetch with epoch 0 opens a session and lists every partition.
	full := rc.roundTrip(sessionFetch(0, 0, 0, 1, 2)).(*kmsg.FetchResponse)
	if full.ErrorCode != 0 || full.SessionID == 0 || len(partitionsIn(full)) != 3 {
		t.Fatalf("full fetch: error %d, session %d, %d partitions", full.ErrorCode, full.SessionID, len(partitionsIn(full)))
	}
	id := full.SessionID

	// Nothing changed: an incremental fetch (no partitions named) carries no partitions.
	inc := rc.roundTrip(sessionFetch(id, 1)).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || len(partitionsIn(inc)) != 0 {
		t.Fatalf("idle incremental fetch: error %d, partitions %v", inc.ErrorCode, partitionsIn(inc))
	}

	// New data on partition 1 only: the next incremental response carries just partition 1.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "sess", Partition: 1, Value: []byte("b")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	inc = rc.roundTrip(sessionFetch(id, 2)).(*kmsg.FetchResponse)
	got := partitionsIn(inc)
	if len(got) != 1 || got[1].HighWatermark != 1 || len(got[1].RecordBatches) == 0 {
		t.Fatalf("incremental fetch after produce: %+v", got)
	}

	// Wrong epoch, unknown session.
	if resp := rc.roundTrip(sessionFetch(id, 9)).(*kmsg.FetchResponse); resp.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Fatalf("wrong epoch: error %d", resp.ErrorCode)
	}
	if resp := rc.roundTrip(sessionFetch(id+1, 1)).(*kmsg.FetchResponse); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("unknown session: error %d", resp.ErrorCode)
	}
	// Epoch -1 closes the session.
	rc.roundTrip(sessionFetch(id, -1, 0))
	if resp := rc.roundTrip(sessionFetch(id, 3)).(*kmsg.FetchResponse); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("closed session: error %d", resp.ErrorCode)
	}
}

func TestFetchSessionCacheFullDeclines(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.FetchSessionCacheSlots = 0 }))
	cl := b.Client(t, kgo.AllowAutoTopicCreation())
	produceN(t, cl, "sess", 1)
	rc := dialRaw(t, b.Addr)
	resp := rc.roundTrip(sessionFetch(0, 0, 0)).(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 || resp.SessionID != 0 || len(partitionsIn(resp)) != 1 {
		t.Fatalf("declined session: error %d, session %d", resp.ErrorCode, resp.SessionID)
	}
}
