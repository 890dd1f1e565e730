package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// crashPartitions is the partition count of the crash test's topic; one producer client (one
// connection, one produce request in flight) per partition makes acknowledged order checkable and
// puts several connections into the broker's group commit at once.
const crashPartitions = 4

// ackLog records what the broker acknowledged, per partition, across every round of a test.
type ackLog struct {
	mu    sync.Mutex
	acked map[int32]map[int64]int64 // partition -> offset -> sequence number
	next  [crashPartitions]int64    // next sequence number per partition (owned by its producer)
}

func newAckLog() *ackLog { return &ackLog{acked: map[int32]map[int64]int64{}} }

func (a *ackLog) ack(p int32, offset, seq int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.acked[p]
	if m == nil {
		m = map[int64]int64{}
		a.acked[p] = m
	}
	if prev, dup := m[offset]; dup {
		return fmt.Errorf("partition %d offset %d acknowledged twice: seq %d and seq %d", p, offset, prev, seq)
	}
	m[offset] = seq
	return nil
}

func (a *ackLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, m := range a.acked {
		n += len(m)
	}
	return n
}

// crashValue is the record value for a partition's sequence number: parseable, unique, and padded
// so small segments roll quickly.
func crashValue(p int32, seq int64) []byte {
	return []byte(fmt.Sprintf("p%d-%012d|%s", p, seq, strings.Repeat("bulwark-", 12)))
}

func parseCrashValue(v []byte) (int32, int64, bool) {
	s := string(v)
	head, _, ok := strings.Cut(s, "|")
	if !ok || !strings.HasPrefix(head, "p") {
		return 0, 0, false
	}
	ps, ss, ok := strings.Cut(head[1:], "-")
	if !ok {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(ps)
	seq, err2 := strconv.ParseInt(ss, 10, 64)
	if err1 != nil || err2 != nil || string(crashValue(int32(p), seq)) != s {
		return 0, 0, false
	}
	return int32(p), seq, true
}

// traffic is a running set of acks=all producers, one client per partition.
type traffic struct {
	cancel      context.CancelFunc
	clients     []*kgo.Client
	producers   sync.WaitGroup // producing goroutines
	outstanding sync.WaitGroup // records whose promise has not run yet
	failed      atomic.Int64   // records that ended in an error (unacknowledged)
	ackErrs     chan error
}

// startTraffic produces records with unique sequential values to every partition of topic with
// acks=all and no idempotence, recording each acknowledged (partition, offset, value) in acks.
func startTraffic(t *testing.T, addr, topic string, acks *ackLog) *traffic {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{cancel: cancel, ackErrs: make(chan error, 16)}
	for p := int32(0); p < crashPartitions; p++ {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(addr),
			kgo.ClientID(fmt.Sprintf("bulwark-e2e-producer-%d", p)),
			harnessVersions(),
			kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(1),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.ProducerBatchMaxBytes(16<<10),
			kgo.MaxBufferedRecords(1000),
			kgo.ProducerLinger(0),
		)
		if err != nil {
			cancel()
			t.Fatalf("producer client: %v", err)
		}
		tr.clients = append(tr.clients, cl)
		tr.producers.Add(1)
		go tr.produce(ctx, cl, p, acks)
	}
	return tr
}

func (tr *traffic) produce(ctx context.Context, cl *kgo.Client, p int32, acks *ackLog) {
	defer tr.producers.Done()
	for ctx.Err() == nil {
		seq := acks.next[p]
		acks.next[p]++
		tr.outstanding.Add(1)
		r := &kgo.Record{Partition: p, Value: crashValue(p, seq)}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer tr.outstanding.Done()
			if err != nil {
				tr.failed.Add(1)
				return
			}
			if err := acks.ack(r.Partition, r.Offset, seq); err != nil {
				select {
				case tr.ackErrs <- err:
				default:
				}
			}
		})
	}
}

// finish stops producing, closes the clients (failing whatever was not acknowledged) and waits
// for every promise, so no acknowledgement can arrive after the broker restarts.
func (tr *traffic) finish(t *testing.T) {
	t.Helper()
	tr.cancel()
	tr.producers.Wait()
	var wg sync.WaitGroup
	for _, cl := range tr.clients {
		wg.Add(1)
		go func() { defer wg.Done(); cl.Close() }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); tr.outstanding.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("producer clients did not finish within 30s of being closed")
	}
	close(tr.ackErrs)
	for err := range tr.ackErrs {
		t.Error(err)
	}
}

// segmentCounts returns how many .log segment files each partition directory of topic holds.
func segmentCounts(dataDir, topic string) map[int32]int {
	out := map[int32]int{}
	for p := int32(0); p < crashPartitions; p++ {
		files, _ := filepath.Glob(filepath.Join(dataDir, fmt.Sprintf("%s-%d", topic, p), "*.log"))
		out[p] = len(files)
	}
	return out
}

// killPoint says when to SIGKILL the broker: after a fixed time of traffic, or as soon as some
// partition has rolled a new segment.
type killPoint struct {
	name  string
	after time.Duration
	roll  bool
}

// TestCrashRecovery kills the broker with SIGKILL at several points of acks=all traffic (after
// fixed times and right after a segment roll, with 64 KiB segments), restarts it on the same data
// directory each time, and checks that every acknowledged record of every round is present at
// exactly its acknowledged offset, in order, with contiguous offsets, and that appends continue
// at the recovered log end.
func TestCrashRecovery(t *testing.T) {
	const topic = "crash"
	b := startBroker(t, map[string]string{"log.segment.bytes": "65536"})
	createTopic(t, b.Addr(), topic, crashPartitions, nil)
	acks := newAckLog()
	points := []killPoint{
		{name: "200ms", after: 200 * time.Millisecond},
		{name: "segment roll", roll: true},
		{name: "700ms", after: 700 * time.Millisecond},
		{name: "50ms", after: 50 * time.Millisecond},
		{name: "1.5s", after: 1500 * time.Millisecond},
		{name: "segment roll again", roll: true},
	}
	for i, kp := range points {
		before := acks.count()
		tr := startTraffic(t, b.Addr(), topic, acks)
		waitKillPoint(t, b, topic, kp, func() bool { return acks.count() > before })
		b.kill(t)
		tr.finish(t)
		t.Logf("round %d (kill after %s): %d records acknowledged, %d unacknowledged", i+1, kp.name,
			acks.count()-before, tr.failed.Load())
		b.restart(t)
		verifyAcked(t, b.Addr(), topic, acks)
		if t.Failed() {
			t.Fatalf("round %d (kill after %s) lost or misplaced acknowledged data", i+1, kp.name)
		}
	}
}

// waitKillPoint returns when it is time to kill. For a roll it first waits for traffic to be
// acknowledged (acked reports that), so the roll is one caused by this round's appends and not
// one the broker made while reopening its logs.
func waitKillPoint(t *testing.T, b *brokerProc, topic string, kp killPoint, acked func() bool) {
	t.Helper()
	if !kp.roll {
		time.Sleep(kp.after) // chooses the kill point; correctness is checked afterwards
		return
	}
	waitFor(t, 20*time.Second, "the first acknowledgement of the round", acked)
	base := segmentCounts(b.dataDir, topic)
	waitFor(t, 20*time.Second, "a segment roll", func() bool {
		for p, n := range segmentCounts(b.dataDir, topic) {
			if n > base[p] {
				return true
			}
		}
		return false
	})
}

// verifyAcked reads every partition from its start and checks it against the acknowledgements,
// then appends one more record per partition and checks it lands at the recovered log end.
func verifyAcked(t *testing.T, addr, topic string, acks *ackLog) {
	t.Helper()
	logs := consumeAll(t, addr, topic)
	acks.mu.Lock()
	for p := int32(0); p < crashPartitions; p++ {
		checkPartition(t, p, logs[p], acks.acked[p])
	}
	acks.mu.Unlock()
	_, end := partitionBounds(t, addr, topic)
	cl := newClient(t, addr, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for p := int32(0); p < crashPartitions; p++ {
		seq := acks.next[p]
		acks.next[p]++
		r := &kgo.Record{Partition: p, Value: crashValue(p, seq)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d after restart: %v", p, err)
		}
		if r.Offset != end[p] {
			t.Errorf("partition %d: first append after restart got offset %d, want the log end %d", p, r.Offset, end[p])
		}
		if err := acks.ack(p, r.Offset, seq); err != nil {
			t.Error(err)
		}
	}
}

// checkPartition checks one partition's records: offsets contiguous from 0, every value one this
// test sent to this partition, sequence numbers strictly increasing (no reordering or
// duplication), and every acknowledged record at exactly its acknowledged offset.
func checkPartition(t *testing.T, p int32, recs []*kgo.Record, acked map[int64]int64) {
	t.Helper()
	bySeq := map[int64]int64{}
	lastSeq := int64(-1)
	for i, r := range recs {
		if r.Offset != int64(i) {
			t.Errorf("partition %d: record #%d has offset %d: offsets not contiguous from 0", p, i, r.Offset)
			return
		}
		rp, seq, ok := parseCrashValue(r.Value)
		if !ok || rp != p {
			t.Errorf("partition %d offset %d: unexpected value %.60q", p, r.Offset, r.Value)
			return
		}
		if seq <= lastSeq {
			t.Errorf("partition %d offset %d: seq %d after seq %d (reordered or duplicated)", p, r.Offset, seq, lastSeq)
		}
		lastSeq = seq
		bySeq[r.Offset] = seq
	}
	offsets := make([]int64, 0, len(acked))
	for o := range acked {
		offsets = append(offsets, o)
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
	lost := 0
	for _, o := range offsets {
		got, ok := bySeq[o]
		switch {
		case !ok:
			lost++
			if lost <= 5 {
				t.Errorf("partition %d: acknowledged offset %d (seq %d) missing after restart (log has %d records)", p, o, acked[o], len(recs))
			}
		case got != acked[o]:
			t.Errorf("partition %d offset %d: holds seq %d, but seq %d was acknowledged there", p, o, got, acked[o])
		}
	}
	if lost > 5 {
		t.Errorf("partition %d: %d acknowledged records missing in all", p, lost)
	}
}
