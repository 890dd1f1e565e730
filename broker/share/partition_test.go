package share

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// fakeLogs is one topic "t" of one partition holding n single-record batches at offsets 0..n-1.
type fakeLogs struct {
	batches [][]byte
	start   int64
}

func newFakeLogs(n int) *fakeLogs {
	l := &fakeLogs{}
	for i := range n {
		b := record.BuildBatch(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
			[]record.Record{{Value: []byte{byte(i)}}})
		record.SetBaseOffset(b, int64(i))
		l.batches = append(l.batches, b)
	}
	return l
}

var topicID = [16]byte{1}

func (l *fakeLogs) Partitions(name string) ([16]byte, int32, bool) { return topicID, 1, name == "t" }
func (l *fakeLogs) TopicByID(id [16]byte) (string, int32, bool)    { return "t", 1, id == topicID }
func (l *fakeLogs) Bounds(string, int32) (Bounds, bool) {
	n := int64(len(l.batches))
	return Bounds{Start: l.start, HighWatermark: n, LastStable: n}, true
}
func (l *fakeLogs) Read(_ string, _ int32, offset int64, _ int32, upTo int64) ([]byte, error) {
	if offset < l.start {
		return nil, ErrOffsetOutOfRange
	}
	var out []byte
	for i := offset; i < upTo && i < int64(len(l.batches)); i++ {
		out = append(out, l.batches[i]...)
	}
	return out, nil
}
func (l *fakeLogs) AbortedTxns(string, int32, int64, int64) []AbortedTxn { return nil }
func (l *fakeLogs) Wait(string, int32) <-chan struct{}                   { return nil }

// fakeJournal keeps the last value of each key, in append order, as replay would see it.
type fakeJournal struct {
	mu   sync.Mutex
	last map[string][]byte
	fail bool
}

func (j *fakeJournal) Append(entries ...coordlog.Entry) (func(context.Context) error, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail {
		return nil, coordlog.ErrClosed
	}
	for _, e := range entries {
		j.last[string(e.Key)] = e.Value
	}
	return func(context.Context) error { return nil }, nil
}

// replayed restores a new coordinator from what the journal holds.
func (j *fakeJournal) replayed(t *testing.T, logs Logs) *Coordinator {
	t.Helper()
	c := New(Config{}, logs)
	for k, v := range j.last {
		if v == nil {
			continue
		}
		if err := c.Restore([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T, n int) (*Coordinator, *fakeLogs, *fakeJournal, *clock) {
	t.Helper()
	logs := newFakeLogs(n)
	j := &fakeJournal{last: map[string][]byte{}}
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	c := New(Config{RecordLockDuration: time.Second, DeliveryCountLimit: 3, Now: clk.Now,
		GroupConfig: func(string) map[string]string { return map[string]string{"share.auto.offset.reset": "earliest"} }}, logs)
	c.Attach(j)
	for _, m := range []string{"a", "b"} {
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.GroupID, req.MemberID, req.SubscribedTopicNames = "g", m, []string{"t"}
		if r := c.Heartbeat(context.Background(), 1, req, ClientInfo{}); r.ErrorCode != 0 {
			t.Fatalf("join %s: %+v", m, r)
		}
	}
	return c, logs, j, clk
}

// fetch opens (or continues) member's session and returns the offsets it acquired.
func fetch(t *testing.T, c *Coordinator, member string, epoch int32, acks ...kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) (*kmsg.ShareFetchResponse, []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord) {
	t.Helper()
	req := kmsg.NewPtrShareFetchRequest()
	req.SetVersion(2)
	req.GroupID, req.MemberID, req.ShareSessionEpoch, req.MaxRecords = kmsg.StringPtr("g"), kmsg.StringPtr(member), epoch, 100
	req.Topics = []kmsg.ShareFetchRequestTopic{{TopicID: topicID, Partitions: []kmsg.ShareFetchRequestTopicPartition{{Partition: 0, AcknowledgementBatches: acks}}}}
	resp := c.Fetch(context.Background(), 2, req, FetchOptions{})
	var got []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			got = append(got, p.AcquiredRecords...)
		}
	}
	return resp, got
}

func ackBatchOf(first, last int64, typ int8) kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch {
	return kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{FirstOffset: first, LastOffset: last, AcknowledgeTypes: []int8{typ}}
}

func ackCode(resp *kmsg.ShareFetchResponse) int16 {
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			if p.AcknowledgeErrorCode != 0 {
				return p.AcknowledgeErrorCode
			}
		}
	}
	return 0
}

// TestOverlappingAcknowledgementsAreRefused: an accept and a release of the same offsets in one
// request must not turn accepted records back into available ones.
func TestOverlappingAcknowledgementsAreRefused(t *testing.T) {
	c, _, _, _ := setup(t, 3)
	if _, got := fetch(t, c, "a", 0); len(got) != 1 || got[0].LastOffset != 2 {
		t.Fatalf("acquired %+v", got)
	}
	resp, got := fetch(t, c, "a", 1, ackBatchOf(0, 2, ackAccept), ackBatchOf(0, 2, ackRelease))
	if code := ackCode(resp); code != kerr.InvalidRequest.Code {
		t.Fatalf("overlapping batches answered %d", code)
	}
	if len(got) != 0 {
		t.Fatalf("records handed out again after a refused acknowledgement: %+v", got)
	}
}

// TestAcknowledgedStaysAcknowledgedAfterReplay: member a's locks expire, b takes and accepts
// the records, then a fetches again; the journal replays to b's acknowledgement, never to an
// older state written late.
func TestAcknowledgedStaysAcknowledgedAfterReplay(t *testing.T) {
	c, logs, j, clk := setup(t, 10)
	fetch(t, c, "a", 0)
	clk.add(2 * time.Second)
	if _, got := fetch(t, c, "b", 0); len(got) != 1 || got[0].FirstOffset != 0 || got[0].LastOffset != 9 || got[0].DeliveryCount != 2 {
		t.Fatalf("b acquired %+v", got)
	}
	if resp, _ := fetch(t, c, "b", 1, ackBatchOf(0, 9, ackAccept)); ackCode(resp) != 0 {
		t.Fatalf("b's accept: %+v", resp)
	}
	fetch(t, c, "a", 1)
	again := j.replayed(t, logs)
	p := again.parts[partKey{"g", "t", 0}]
	if p == nil || p.start != 10 || len(p.recs) != 0 {
		t.Fatalf("replayed state start=%d recs=%d, want everything acknowledged", p.start, len(p.recs))
	}
}

// TestDeliveryLimitHoldsAcrossRestart: a record delivered as often as allowed whose last lock
// was lost in a restart is archived, not delivered once more.
func TestDeliveryLimitHoldsAcrossRestart(t *testing.T) {
	c, logs, j, clk := setup(t, 1)
	for i := range 3 {
		_, got := fetch(t, c, "a", 0)
		if len(got) != 1 || got[0].DeliveryCount != int16(i+1) {
			t.Fatalf("delivery %d: %+v", i+1, got)
		}
		if i < 2 {
			clk.add(2 * time.Second) // the lock expires: delivered again
		}
	}
	// The third delivery is in flight when the broker stops: its state says Available, 3 deliveries.
	c.mu.Lock()
	p := c.parts[partKey{"g", "t", 0}]
	c.mu.Unlock()
	p.mu.Lock()
	j.Append(partitionEntry(p))
	p.mu.Unlock()
	again := j.replayed(t, logs)
	again.Attach(j)
	again.cfg.DeliveryCountLimit, again.cfg.Now = 3, clk.Now
	for _, m := range []string{"a"} {
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.GroupID, req.MemberID, req.SubscribedTopicNames = "g", m, []string{"t"}
		again.Heartbeat(context.Background(), 1, req, ClientInfo{})
	}
	if _, got := fetch(t, again, "a", 0); len(got) != 0 {
		t.Fatalf("a record at the delivery limit was delivered again: %+v", got)
	}
}

// TestRefusedJournalWriteUndoesTheAcknowledgement: when the journal refuses the write, the
// acknowledgement is answered with an error and not kept in memory either.
func TestRefusedJournalWriteUndoesTheAcknowledgement(t *testing.T) {
	c, _, j, _ := setup(t, 2)
	fetch(t, c, "a", 0)
	j.mu.Lock()
	j.fail = true
	j.mu.Unlock()
	resp, _ := fetch(t, c, "a", 1, ackBatchOf(0, 1, ackAccept))
	if code := ackCode(resp); code != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("ack with a failing journal answered %d", code)
	}
	c.mu.Lock()
	p := c.parts[partKey{"g", "t", 0}]
	c.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start != 0 || len(p.recs) != 2 || p.recs[0].state != acquired {
		b, _ := json.Marshal(p.docLocked())
		t.Fatalf("state after a refused write: %s", b)
	}
}

// TestRetentionMovesTheStart: records retention removed are neither delivered nor counted.
func TestRetentionMovesTheStart(t *testing.T) {
	c, logs, _, _ := setup(t, 5)
	logs.start = 3
	_, got := fetch(t, c, "a", 0)
	if len(got) != 1 || got[0].FirstOffset != 3 || got[0].LastOffset != 4 {
		t.Fatalf("acquired %+v after the log start moved to 3", got)
	}
}
