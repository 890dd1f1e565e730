package txn

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestInitProducerIDNullAndValidation(t *testing.T) {
	e := newEnv(t, Config{ProducerIDBlockSize: 2})
	seen := map[int64]bool{}
	for range 5 {
		r := e.initReq(4, "\x00", 0, 7, 3) // KIP-360 fields ignored without a transactional id
		if r.ErrorCode != 0 || r.ProducerEpoch != 0 || seen[r.ProducerID] {
			t.Fatalf("null id: %+v", r)
		}
		seen[r.ProducerID] = true
		pid, err := e.c.NextProducerID(context.Background())
		if err != nil || seen[pid] {
			t.Fatalf("NextProducerID: %d, %v", pid, err)
		}
		seen[pid] = true
	}
	cases := []struct {
		name    string
		version int16
		id      string
		timeout int32
		pid     int64
		epoch   int16
		want    *kerr.Error
	}{
		{"empty id", 4, "", 1000, -1, -1, kerr.InvalidRequest},
		{"zero timeout", 4, "a", 0, -1, -1, kerr.InvalidTransactionTimeout},
		{"negative timeout", 4, "a", -5, -1, -1, kerr.InvalidTransactionTimeout},
		{"timeout above max", 4, "a", 900_001, -1, -1, kerr.InvalidTransactionTimeout},
		{"pid without epoch", 3, "a", 1000, 5, -1, kerr.InvalidRequest},
		{"epoch without pid", 3, "a", 1000, -1, 2, kerr.InvalidRequest},
	}
	for _, tc := range cases {
		r := e.initReq(tc.version, tc.id, tc.timeout, tc.pid, tc.epoch)
		wantErr(t, tc.name, kerr.ErrorForCode(r.ErrorCode), tc.want)
		if r.ProducerID != -1 || r.ProducerEpoch != -1 {
			t.Errorf("%s: pid/epoch %d/%d on error", tc.name, r.ProducerID, r.ProducerEpoch)
		}
	}
	if d := e.describe("a"); d.ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("rejected init left state behind: %+v", d)
	}
	// Timeout exactly at the maximum is fine.
	if r := e.initReq(4, "a", 900_000, -1, -1); r.ErrorCode != 0 {
		t.Fatalf("max timeout: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

func TestInitFenceAndRetry(t *testing.T) {
	e := newEnv(t, Config{})
	pid, epoch := e.init("a", 60_000)
	if epoch != 0 {
		t.Fatalf("first epoch %d", epoch)
	}
	e.wantState("a", Empty)
	pid2, epoch2 := e.init("a", 60_000)
	if pid2 != pid || epoch2 != 1 {
		t.Fatalf("re-init: %d/%d, want %d/1", pid2, epoch2, pid)
	}
	// The old producer is fenced everywhere.
	wantErr(t, "AddPartitions old epoch", e.addParts(3, "a", pid, 0, Partition{"t", 0})[0], kerr.ProducerFenced)
	wantErr(t, "AddPartitions v1 old epoch", e.addParts(1, "a", pid, 0, Partition{"t", 0})[0], kerr.InvalidProducerEpoch)
	wantErr(t, "AddOffsets old epoch", e.addOffsets(3, "a", pid, 0, "g"), kerr.ProducerFenced)
	wantErr(t, "AddOffsets v0 old epoch", e.addOffsets(0, "a", pid, 0, "g"), kerr.InvalidProducerEpoch)
	wantErr(t, "AddPartitions other pid", e.addParts(3, "a", pid+100, 1, Partition{"t", 0})[0], kerr.InvalidProducerIDMapping)
	wantErr(t, "AddPartitions unknown id", e.addParts(3, "zz", pid, 1, Partition{"t", 0})[0], kerr.InvalidProducerIDMapping)

	// KIP-360: a stale epoch is fenced (INVALID_PRODUCER_EPOCH below v4).
	r := e.initReq(4, "a", 60_000, pid, 0)
	wantErr(t, "v4 stale", kerr.ErrorForCode(r.ErrorCode), kerr.ProducerFenced)
	r = e.initReq(3, "a", 60_000, pid, 0)
	wantErr(t, "v3 stale", kerr.ErrorForCode(r.ErrorCode), kerr.InvalidProducerEpoch)
	r = e.initReq(4, "a", 60_000, pid+100, 1)
	wantErr(t, "other pid", kerr.ErrorForCode(r.ErrorCode), kerr.ProducerFenced)
	// The current producer bumps; a retry with the same epoch gets the same answer.
	r = e.initReq(4, "a", 60_000, pid, 1)
	if r.ErrorCode != 0 || r.ProducerID != pid || r.ProducerEpoch != 2 {
		t.Fatalf("KIP-360 bump: %+v", r)
	}
	r = e.initReq(4, "a", 60_000, pid, 1)
	if r.ErrorCode != 0 || r.ProducerID != pid || r.ProducerEpoch != 2 {
		t.Fatalf("KIP-360 retry: %+v", r)
	}
	// A plain re-init forgets the previous epoch, so that retry is now fenced.
	if _, ep := e.init("a", 60_000); ep != 3 {
		t.Fatalf("epoch %d, want 3", ep)
	}
	r = e.initReq(4, "a", 60_000, pid, 1)
	wantErr(t, "retry after another init", kerr.ErrorForCode(r.ErrorCode), kerr.ProducerFenced)
}

func TestInitEpochExhausted(t *testing.T) {
	e := newEnv(t, Config{})
	pid, _ := e.init("a", 60_000)
	e.setState("a", func(st *txnState) { st.Epoch = math.MaxInt16 - 1 })
	newPID, ep := e.init("a", 60_000)
	if newPID == pid || ep != 0 {
		t.Fatalf("exhausted plain init: %d/%d", newPID, ep)
	}
	// KIP-360 rotation, then a retry of it by the old producer.
	e.setState("a", func(st *txnState) { st.Epoch = math.MaxInt16 - 1 })
	r := e.initReq(4, "a", 60_000, newPID, math.MaxInt16-1)
	if r.ErrorCode != 0 || r.ProducerID == newPID || r.ProducerEpoch != 0 {
		t.Fatalf("KIP-360 rotation: %+v", r)
	}
	third := r.ProducerID
	r = e.initReq(4, "a", 60_000, newPID, math.MaxInt16-1)
	if r.ErrorCode != 0 || r.ProducerID != third || r.ProducerEpoch != 0 {
		t.Fatalf("KIP-360 rotation retry: %+v, want %d/0", r, third)
	}
	// The old producer id is fenced on the produce path.
	err := verifyProduce(e.c, context.Background(), newPID, math.MaxInt16-1, Partition{"t", 0}, true)
	wantErr(t, "VerifyProduce old pid", err, kerr.InvalidProducerEpoch)
}

func TestOngoingAbortOnReinit(t *testing.T) {
	e := newEnv(t, Config{})
	pid, ep := e.init("a", 60_000)
	parts := []Partition{{"t", 0}, {"t", 1}, {"u", 0}}
	e.mustAdd("a", pid, ep, parts...)
	wantErr(t, "AddOffsets", e.addOffsets(3, "a", pid, ep, "g"), nil)
	e.wantState("a", Ongoing)

	pid2, ep2 := e.init("a", 60_000)
	if pid2 != pid || ep2 != ep+2 {
		t.Fatalf("re-init over Ongoing: %d/%d, want %d/%d", pid2, ep2, pid, ep+2)
	}
	marks := e.markers.take()
	if len(marks) != len(parts) {
		t.Fatalf("markers %+v", marks)
	}
	for i, m := range marks {
		if m.P != parts[i] || m.PID != pid || m.Epoch != ep+1 || m.Commit {
			t.Fatalf("marker %d: %+v, want ABORT %v pid %d epoch %d", i, m, parts[i], pid, ep+1)
		}
	}
	if g := e.groups.take(); len(g) != 1 || g[0] != (groupCall{"g", pid, false}) {
		t.Fatalf("groups %+v", g)
	}
	e.wantState("a", Empty)
	wantErr(t, "old producer EndTxn", e.end(3, "a", pid, ep, true), kerr.ProducerFenced)

	// KIP-360 re-init of the current producer over its own open transaction.
	e.mustAdd("a", pid, ep2, parts[0])
	r := e.initReq(4, "a", 60_000, pid, ep2)
	if r.ErrorCode != 0 || r.ProducerEpoch != ep2+2 {
		t.Fatalf("KIP-360 over Ongoing: %+v", r)
	}
	if m := e.markers.take(); len(m) != 1 || m[0].Epoch != ep2+1 || m[0].Commit {
		t.Fatalf("markers %+v", m)
	}
	// An older producer's KIP-360 request must not abort the new producer's transaction.
	e.mustAdd("a", pid, ep2+2, parts[0])
	r = e.initReq(4, "a", 60_000, pid, ep2)
	wantErr(t, "stale KIP-360 over Ongoing", kerr.ErrorForCode(r.ErrorCode), kerr.ProducerFenced)
	e.wantState("a", Ongoing)
}

func TestConcurrentInitSameID(t *testing.T) {
	e := newEnv(t, Config{ProducerIDBlockSize: 3})
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	epochs := map[int16]bool{}
	pids := map[int64]bool{}
	for range n {
		wg.Go(func() {
			r := e.initReq(4, "same", 60_000, -1, -1)
			if r.ErrorCode != 0 {
				t.Errorf("init: %v", kerr.ErrorForCode(r.ErrorCode))
				return
			}
			mu.Lock()
			epochs[r.ProducerEpoch] = true
			pids[r.ProducerID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(epochs) != n || len(pids) != 1 {
		t.Fatalf("epochs %v pids %v: want %d distinct epochs of one pid", epochs, pids, n)
	}
}

func TestLockWaitHonoursContext(t *testing.T) {
	e := newEnv(t, Config{})
	pid, ep := e.init("a", 60_000)
	e.mustAdd("a", pid, ep, Partition{"t", 0})
	block := make(chan struct{})
	e.markers.mu.Lock()
	e.markers.block = block
	e.markers.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- e.end(3, "a", pid, ep, true) }()
	eventually(t, "PrepareCommit", func() bool { return e.describe("a").State == "PrepareCommit" })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req := e.c.AddOffsetsToTxn(ctx, 3, addOffsetsReq("a", pid, ep, "g"))
	wantErr(t, "AddOffsets while ending", kerr.ErrorForCode(req.ErrorCode), kerr.ConcurrentTransactions)
	// VerifyProduce answers at once while a commit is being written instead of waiting.
	wantErr(t, "VerifyProduce while ending", verifyProduce(e.c, context.Background(), pid, ep, Partition{"t", 0}, false), kerr.ConcurrentTransactions)
	close(block)
	wantErr(t, "EndTxn", <-done, nil)
	e.wantState("a", CompleteCommit)
}
