package txn

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTimeoutAbortFencesProducer(t *testing.T) {
	clock := newClock()
	e := newEnv(t, Config{Now: clock.Now, AbortCheckInterval: 5 * time.Millisecond})
	pid, ep := e.init("a", 1000)
	other, oep := e.init("b", 60_000)
	e.mustAdd("a", pid, ep, Partition{"t", 0}, Partition{"t", 1})
	wantErr(t, "AddOffsets", e.addOffsets(3, "a", pid, ep, "g"), nil)
	e.mustAdd("b", other, oep, Partition{"t", 0})

	clock.Advance(999 * time.Millisecond)
	time.Sleep(20 * time.Millisecond) // a few ticks: not yet timed out
	e.wantState("a", Ongoing)
	clock.Advance(2 * time.Millisecond)
	eventually(t, "timeout abort", func() bool { return e.describe("a").State == "CompleteAbort" })
	e.wantState("b", Ongoing)

	marks := e.markers.take()
	if len(marks) != 2 {
		t.Fatalf("markers %+v", marks)
	}
	for _, m := range marks {
		if m.PID != pid || m.Epoch != ep+1 || m.Commit {
			t.Fatalf("marker %+v, want ABORT at epoch %d", m, ep+1)
		}
	}
	if g := e.groups.take(); len(g) != 1 || g[0] != (groupCall{"g", pid, false}) {
		t.Fatalf("groups %+v", g)
	}
	// The producer that timed out is fenced on every path.
	wantErr(t, "EndTxn", e.end(3, "a", pid, ep, true), kerr.ProducerFenced)
	wantErr(t, "EndTxn v1", e.end(1, "a", pid, ep, false), kerr.InvalidProducerEpoch)
	wantErr(t, "EndTxn v5 abort", e.end(5, "a", pid, ep, false), kerr.ProducerFenced)
	wantErr(t, "AddPartitions", e.addParts(3, "a", pid, ep, Partition{"t", 0})[0], kerr.ProducerFenced)
	wantErr(t, "AddPartitions v0", e.addParts(0, "a", pid, ep, Partition{"t", 0})[0], kerr.InvalidProducerEpoch)
	wantErr(t, "VerifyProduce", verifyProduce(e.c, context.Background(), pid, ep, Partition{"t", 0}, true), kerr.InvalidProducerEpoch)
	wantErr(t, "VerifyTxnOffsetCommit", e.c.VerifyTxnOffsetCommit(context.Background(), "a", pid, ep, "g", true), kerr.ProducerFenced)
	// A new producer takes over.
	if _, ep2 := e.init("a", 1000); ep2 != ep+2 {
		t.Fatalf("epoch after timeout %d, want %d", ep2, ep+2)
	}
}

func TestTransactionalIDExpiry(t *testing.T) {
	clock := newClock()
	cfg := Config{Now: clock.Now, IDExpiration: time.Hour, ExpirationCheckInterval: 5 * time.Millisecond}
	e := newEnv(t, cfg)
	pid, ep := e.init("idle", 60_000)
	pb, eb := e.init("busy", 60_000)
	e.mustAdd("busy", pb, eb, Partition{"t", 0})
	pc, ec := e.init("done", 60_000)
	e.mustAdd("done", pc, ec, Partition{"t", 0})
	wantErr(t, "commit", e.end(3, "done", pc, ec, true), nil)

	clock.Advance(59 * time.Minute)
	e.init("fresh", 60_000)
	clock.Advance(2 * time.Minute)
	eventually(t, "expiry", func() bool {
		return e.describe("idle").ErrorCode == kerr.TransactionalIDNotFound.Code &&
			e.describe("done").ErrorCode == kerr.TransactionalIDNotFound.Code
	})
	e.wantState("busy", Ongoing) // open transactions never expire (they time out instead)
	e.wantState("fresh", Empty)
	wantErr(t, "expired id", e.addParts(3, "idle", pid, ep, Partition{"t", 0})[0], kerr.InvalidProducerIDMapping)
	wantErr(t, "expired pid", verifyProduce(e.c, context.Background(), pid, ep, Partition{"t", 0}, true), kerr.InvalidProducerIDMapping)

	e.restart(true)
	if d := e.describe("idle"); d.ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("expired id back after restart: %+v", d)
	}
	e.wantState("busy", Ongoing)
	// Re-initializing an expired id gives a new producer id.
	if p, ep := e.init("idle", 60_000); p == pid || ep != 0 {
		t.Fatalf("re-init of expired id: %d/%d", p, ep)
	}
}

func TestRestartKeepsStateAndIDs(t *testing.T) {
	e := newEnv(t, Config{ProducerIDBlockSize: 3})
	used := map[int64]bool{}
	pa, ea := e.init("a", 30_000)
	used[pa] = true
	pb, eb := e.init("b", 40_000)
	used[pb] = true
	e.init("b", 40_000)
	eb++
	e.mustAdd("b", pb, eb, Partition{"t", 1}, Partition{"u", 0})
	wantErr(t, "AddOffsets", e.addOffsets(3, "b", pb, eb, "g"), nil)
	pc, ec := e.init("c", 50_000)
	used[pc] = true
	e.mustAdd("c", pc, ec, Partition{"t", 0})
	wantErr(t, "commit", e.end(3, "c", pc, ec, true), nil)
	p, _ := e.c.NextProducerID(context.Background())
	used[p] = true
	before := map[string]kmsg.DescribeTransactionsResponseTransactionState{}
	for _, id := range []string{"a", "b", "c"} {
		before[id] = e.describe(id)
	}

	e.restart(true)
	for _, id := range []string{"a", "b", "c"} {
		got := e.describe(id)
		if want := before[id]; !reflect.DeepEqual(got, want) {
			t.Fatalf("%q after restart:\n got %+v\nwant %+v", id, got, want)
		}
	}
	// Ids are never reused, however many blocks are handed out.
	for range 10 {
		p, err := e.c.NextProducerID(context.Background())
		if err != nil || used[p] {
			t.Fatalf("NextProducerID after restart: %d (used %v), %v", p, used[p], err)
		}
		used[p] = true
		e.restart(true)
	}
	// The restored transaction carries on: the producer and its groups are remembered.
	wantErr(t, "VerifyTxnOffsetCommit", e.c.VerifyTxnOffsetCommit(context.Background(), "b", pb, eb, "g", false), nil)
	wantErr(t, "commit restored txn", e.end(3, "b", pb, eb, true), nil)
	if m := e.markers.take(); len(m) != 2 {
		t.Fatalf("markers %+v", m)
	}
	if g := e.groups.take(); len(g) != 1 || g[0].Group != "g" {
		t.Fatalf("groups %+v", g)
	}
	if _, ep := e.init("a", 30_000); ep != ea+1 {
		t.Fatalf("epoch after restart %d", ep)
	}
}

func TestCrashInPrepareCompletedByStart(t *testing.T) {
	e := newEnv(t, Config{})
	pid, ep := e.init("a", 60_000)
	e.mustAdd("a", pid, ep, Partition{"t", 0}, Partition{"t", 1})
	wantErr(t, "AddOffsets", e.addOffsets(3, "a", pid, ep, "g"), nil)
	e.c.hookAfterPrepare = func(string) error { return errors.New("crash") }
	wantErr(t, "EndTxn interrupted", e.end(3, "a", pid, ep, true), kerr.ConcurrentTransactions)
	e.wantState("a", PrepareCommit)
	if m := e.markers.take(); len(m) != 0 {
		t.Fatalf("markers before the crash: %+v", m)
	}

	e.restart(false)
	r := e.initReq(4, "b", 60_000, -1, -1)
	wantErr(t, "before Start", kerr.ErrorForCode(r.ErrorCode), kerr.CoordinatorLoadInProgress)
	wantErr(t, "VerifyProduce before Start", verifyProduce(e.c, context.Background(), pid, ep, Partition{"t", 0}, false), kerr.CoordinatorLoadInProgress)
	if err := e.c.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	e.wantState("a", CompleteCommit)
	marks := e.markers.take()
	if len(marks) != 2 {
		t.Fatalf("markers %+v", marks)
	}
	for _, m := range marks {
		if !m.Commit || m.PID != pid || m.Epoch != ep {
			t.Fatalf("marker %+v", m)
		}
	}
	if g := e.groups.take(); len(g) != 1 || g[0] != (groupCall{"g", pid, true}) {
		t.Fatalf("groups %+v", g)
	}
	wantErr(t, "EndTxn retry after restart", e.end(3, "a", pid, ep, true), nil)

	e.restart(true)
	e.wantState("a", CompleteCommit)
	if m := e.markers.take(); len(m) != 0 {
		t.Fatalf("completed transaction wrote markers again: %+v", m)
	}
}

func TestCrashInPrepareV5Overflow(t *testing.T) {
	e := newEnv(t, Config{})
	pid, _ := e.init("a", 60_000)
	e.setState("a", func(st *txnState) { st.Epoch = 32766 })
	e.mustAdd("a", pid, 32766, Partition{"t", 0})
	e.c.hookAfterPrepare = func(string) error { return errors.New("crash") }
	wantErr(t, "EndTxn interrupted", e.end(5, "a", pid, 32766, false), kerr.ConcurrentTransactions)
	e.restart(true)
	d := e.describe("a")
	if d.State != "CompleteAbort" || d.ProducerID == pid || d.ProducerEpoch != 0 {
		t.Fatalf("after Start: %+v", d)
	}
	r := e.endTxn(5, "a", pid, 32766, false)
	if r.ErrorCode != 0 || r.ProducerID != d.ProducerID || r.ProducerEpoch != 0 {
		t.Fatalf("retry: %+v", r)
	}
	// The new producer id must not be handed out again.
	for range 5 {
		if p, _ := e.c.NextProducerID(context.Background()); p == d.ProducerID || p == pid {
			t.Fatalf("reused producer id %d", p)
		}
	}
}

func TestCloseStopsRequests(t *testing.T) {
	e := newEnv(t, Config{})
	e.c.Close()
	e.c.Close()
	r := e.initReq(4, "a", 1000, -1, -1)
	wantErr(t, "after Close", kerr.ErrorForCode(r.ErrorCode), kerr.CoordinatorNotAvailable)
	if _, err := e.c.NextProducerID(context.Background()); !errors.Is(err, ErrNotReady) {
		t.Fatalf("NextProducerID after Close: %v", err)
	}
	lr := e.c.ListTransactions(1, kmsg.NewPtrListTransactionsRequest())
	wantErr(t, "List after Close", kerr.ErrorForCode(lr.ErrorCode), kerr.CoordinatorNotAvailable)
}
