package txn

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestCommitAndAbortMarkers(t *testing.T) {
	for _, commit := range []bool{true, false} {
		e := newEnv(t, Config{})
		pid, ep := e.init("a", 60_000)
		parts := []Partition{{"t", 2}, {"t", 0}, {"u", 1}}
		e.mustAdd("a", pid, ep, parts[0])
		e.mustAdd("a", pid, ep, parts[1:]...)
		e.mustAdd("a", pid, ep, parts[0]) // already in: nothing changes
		wantErr(t, "AddOffsets", e.addOffsets(3, "a", pid, ep, "g1"), nil)
		wantErr(t, "AddOffsets", e.addOffsets(3, "a", pid, ep, "g2"), nil)
		d := e.describe("a")
		if d.State != "Ongoing" || len(d.Topics) != 2 || len(d.Topics[0].Partitions) != 2 || d.StartTimestamp <= 0 {
			t.Fatalf("describe: %+v", d)
		}
		wantErr(t, "EndTxn", e.end(3, "a", pid, ep, commit), nil)
		marks := e.markers.take()
		want := []Partition{{"t", 0}, {"t", 2}, {"u", 1}}
		if len(marks) != len(want) {
			t.Fatalf("markers %+v", marks)
		}
		for i, m := range marks {
			if m.P != want[i] || m.PID != pid || m.Epoch != ep || m.Commit != commit {
				t.Fatalf("marker %d: %+v", i, m)
			}
		}
		g := e.groups.take()
		if len(g) != 2 || g[0] != (groupCall{"g1", pid, commit}) || g[1] != (groupCall{"g2", pid, commit}) {
			t.Fatalf("groups %+v", g)
		}
		done := CompleteAbort
		if commit {
			done = CompleteCommit
		}
		e.wantState("a", done)
		if d := e.describe("a"); len(d.Topics) != 0 || d.ProducerEpoch != ep {
			t.Fatalf("after end: %+v", d)
		}
		// Retries of the same outcome succeed without new markers; the other is refused.
		wantErr(t, "retry", e.end(3, "a", pid, ep, commit), nil)
		wantErr(t, "other outcome", e.end(3, "a", pid, ep, !commit), kerr.InvalidTxnState)
		if m := e.markers.take(); len(m) != 0 {
			t.Fatalf("retry wrote markers %+v", m)
		}
		// The next transaction starts from Complete*.
		e.mustAdd("a", pid, ep, Partition{"t", 5})
		e.wantState("a", Ongoing)
	}
}

func TestEndTxnErrors(t *testing.T) {
	e := newEnv(t, Config{})
	pid, ep := e.init("a", 60_000)
	wantErr(t, "Empty commit", e.end(3, "a", pid, ep, true), kerr.InvalidTxnState)
	wantErr(t, "Empty abort", e.end(3, "a", pid, ep, false), kerr.InvalidTxnState)
	wantErr(t, "unknown id", e.end(3, "nope", pid, ep, true), kerr.InvalidProducerIDMapping)
	wantErr(t, "empty id", e.end(3, "", pid, ep, true), kerr.InvalidRequest)
	e.mustAdd("a", pid, ep, Partition{"t", 0})
	wantErr(t, "other pid", e.end(3, "a", pid+1, ep, true), kerr.InvalidProducerIDMapping)
	wantErr(t, "stale epoch", e.end(3, "a", pid, ep-1, true), kerr.ProducerFenced)
	wantErr(t, "stale epoch v1", e.end(1, "a", pid, ep-1, true), kerr.InvalidProducerEpoch)
	wantErr(t, "future epoch", e.end(3, "a", pid, ep+1, true), kerr.ProducerFenced)
	e.wantState("a", Ongoing)
	// A deleted partition is skipped.
	e.markers.mu.Lock()
	e.markers.deleted[Partition{"t", 0}] = true
	e.markers.mu.Unlock()
	wantErr(t, "commit with deleted topic", e.end(3, "a", pid, ep, true), nil)
	e.wantState("a", CompleteCommit)
}

func TestAddPartitionsUnknownPartition(t *testing.T) {
	e := newEnv(t, Config{})
	pid, ep := e.init("a", 60_000)
	e.markers.missing[Partition{"gone", 0}] = true
	errs := e.addParts(3, "a", pid, ep, Partition{"t", 0}, Partition{"gone", 0}, Partition{"t", 1})
	wantErr(t, "existing", errs[0], kerr.OperationNotAttempted)
	wantErr(t, "missing", errs[1], kerr.UnknownTopicOrPartition)
	wantErr(t, "existing", errs[2], kerr.OperationNotAttempted)
	e.wantState("a", Empty)
	if d := e.describe("a"); len(d.Topics) != 0 {
		t.Fatalf("partitions added: %+v", d.Topics)
	}
	for _, err := range e.addParts(3, "", pid, ep, Partition{"t", 0}) {
		wantErr(t, "empty id", err, kerr.InvalidRequest)
	}
}

func TestAddPartitionsBatched(t *testing.T) {
	e := newEnv(t, Config{})
	pa, ea := e.init("a", 60_000)
	pb, eb := e.init("b", 60_000)
	e.mustAdd("a", pa, ea, Partition{"t", 0})
	tx := func(id string, pid int64, epoch int16, verify bool, parts ...int32) kmsg.AddPartitionsToTxnRequestTransaction {
		r := kmsg.NewAddPartitionsToTxnRequestTransaction()
		r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.VerifyOnly = id, pid, epoch, verify
		tp := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tp.Topic, tp.Partitions = "t", parts
		r.Topics = append(r.Topics, tp)
		return r
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	req.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{
		tx("a", pa, ea, true, 0, 1), // verify: 0 is in, 1 is not
		tx("b", pb, eb, false, 3),   // add
		tx("b", pb, eb-1, true, 3),  // stale epoch
		tx("c", 99, 0, true, 0),     // unknown id
	}
	resp := e.c.AddPartitionsToTxn(context.Background(), 4, req)
	if len(resp.Transactions) != 4 {
		t.Fatalf("transactions %+v", resp.Transactions)
	}
	codes := func(i int) []int16 {
		var out []int16
		for _, tp := range resp.Transactions[i].Topics {
			for _, p := range tp.Partitions {
				out = append(out, p.ErrorCode)
			}
		}
		return out
	}
	check := func(i int, want ...*kerr.Error) {
		t.Helper()
		got := codes(i)
		if len(got) != len(want) {
			t.Fatalf("transaction %d: codes %v", i, got)
		}
		for j := range want {
			wantErr(t, resp.Transactions[i].TransactionalID, kerr.ErrorForCode(got[j]), want[j])
		}
	}
	check(0, nil, kerr.InvalidTxnState)
	check(1, nil)
	check(2, kerr.ProducerFenced)
	check(3, kerr.InvalidProducerIDMapping)
	e.wantState("b", Ongoing)
	e.wantState("a", Ongoing)
	if d := e.describe("a"); len(d.Topics[0].Partitions) != 1 {
		t.Fatalf("verify-only changed a: %+v", d.Topics)
	}
}

func TestConcurrentTransactionsWhileMarkersFail(t *testing.T) {
	e := newEnv(t, Config{AbortCheckInterval: 10 * time.Millisecond})
	pid, ep := e.init("a", 60_000)
	e.mustAdd("a", pid, ep, Partition{"t", 0})
	e.markers.setFail(errors.New("disk on fire"))
	wantErr(t, "EndTxn with failing markers", e.end(3, "a", pid, ep, true), kerr.ConcurrentTransactions)
	e.wantState("a", PrepareCommit)
	wantErr(t, "EndTxn again", e.end(3, "a", pid, ep, true), kerr.ConcurrentTransactions)
	wantErr(t, "EndTxn other outcome", e.end(3, "a", pid, ep, false), kerr.InvalidTxnState)
	wantErr(t, "AddPartitions", e.addParts(3, "a", pid, ep, Partition{"t", 1})[0], kerr.ConcurrentTransactions)
	wantErr(t, "AddOffsets", e.addOffsets(3, "a", pid, ep, "g"), kerr.ConcurrentTransactions)
	r := e.initReq(4, "a", 60_000, -1, -1)
	wantErr(t, "InitProducerId", kerr.ErrorForCode(r.ErrorCode), kerr.ConcurrentTransactions)
	wantErr(t, "VerifyProduce", verifyProduce(e.c, context.Background(), pid, ep, Partition{"t", 0}, false), kerr.ConcurrentTransactions)
	wantErr(t, "VerifyTxnOffsetCommit", e.c.VerifyTxnOffsetCommit(context.Background(), "a", pid, ep, "g", true), kerr.ConcurrentTransactions)
	// The background loop retries until the markers go through.
	eventually(t, "a retry", func() bool {
		e.markers.mu.Lock()
		defer e.markers.mu.Unlock()
		return e.markers.failed >= 3
	})
	e.markers.setFail(nil)
	eventually(t, "CompleteCommit", func() bool { return e.describe("a").State == "CompleteCommit" })
	wantErr(t, "EndTxn retry", e.end(3, "a", pid, ep, true), nil)
	if m := e.markers.take(); len(m) != 1 || !m[0].Commit {
		t.Fatalf("markers %+v", m)
	}
}

func TestEndTxnV5(t *testing.T) {
	e := newEnv(t, Config{})
	pid, ep := e.init("a", 60_000)
	e.mustAdd("a", pid, ep, Partition{"t", 0})
	wantErr(t, "AddOffsets", e.addOffsets(4, "a", pid, ep, "g"), nil)
	r := e.endTxn(5, "a", pid, ep, true)
	if r.ErrorCode != 0 || r.ProducerID != pid || r.ProducerEpoch != ep+1 {
		t.Fatalf("EndTxn v5: %+v", r)
	}
	if m := e.markers.take(); len(m) != 1 || m[0].Epoch != ep+1 || !m[0].Commit {
		t.Fatalf("markers carry the bumped epoch: %+v", m)
	}
	if g := e.groups.take(); len(g) != 1 || g[0] != (groupCall{"g", pid, true}) {
		t.Fatalf("groups %+v", g)
	}
	// A retry with the old epoch succeeds and answers the new one; the other outcome fails.
	r = e.endTxn(5, "a", pid, ep, true)
	if r.ErrorCode != 0 || r.ProducerID != pid || r.ProducerEpoch != ep+1 {
		t.Fatalf("EndTxn v5 retry: %+v", r)
	}
	wantErr(t, "retry other outcome", e.end(5, "a", pid, ep, false), kerr.InvalidTxnState)
	wantErr(t, "older epoch", e.end(5, "a", pid, ep-1, true), kerr.ProducerFenced)
	// The new epoch works for the next transaction; the old one is fenced.
	wantErr(t, "AddPartitions old epoch", e.addParts(3, "a", pid, ep, Partition{"t", 0})[0], kerr.ProducerFenced)
	wantErr(t, "implicit add", verifyProduce(e.c, context.Background(), pid, ep+1, Partition{"t", 1}, true), nil)
	r = e.endTxn(5, "a", pid, ep+1, false)
	if r.ErrorCode != 0 || r.ProducerEpoch != ep+2 {
		t.Fatalf("abort v5: %+v", r)
	}
	if m := e.markers.take(); len(m) != 1 || m[0].Epoch != ep+2 || m[0].Commit || m[0].P != (Partition{"t", 1}) {
		t.Fatalf("abort markers: %+v", m)
	}
	// A commit with nothing in the transaction is refused; an empty abort bumps the epoch.
	wantErr(t, "empty commit", e.end(5, "a", pid, ep+2, true), kerr.InvalidTxnState)
	r = e.endTxn(5, "a", pid, ep+2, false)
	if r.ErrorCode != 0 || r.ProducerEpoch != ep+3 {
		t.Fatalf("empty abort v5: %+v", r)
	}
	if m := e.markers.take(); len(m) != 0 {
		t.Fatalf("empty abort wrote markers %+v", m)
	}
	e.wantState("a", CompleteAbort)
}

func TestEndTxnV5EpochExhausted(t *testing.T) {
	e := newEnv(t, Config{})
	pid, _ := e.init("a", 60_000)
	e.setState("a", func(st *txnState) { st.Epoch = math.MaxInt16 - 1 })
	ep := int16(math.MaxInt16 - 1)
	e.mustAdd("a", pid, ep, Partition{"t", 0})
	r := e.endTxn(5, "a", pid, ep, true)
	if r.ErrorCode != 0 || r.ProducerID == pid || r.ProducerEpoch != 0 {
		t.Fatalf("EndTxn v5 exhausting: %+v", r)
	}
	newPID := r.ProducerID
	if m := e.markers.take(); len(m) != 1 || m[0].PID != pid || m[0].Epoch != math.MaxInt16 {
		t.Fatalf("markers: %+v", m)
	}
	// The retry by the old producer id answers the new one.
	r = e.endTxn(5, "a", pid, ep, true)
	if r.ErrorCode != 0 || r.ProducerID != newPID || r.ProducerEpoch != 0 {
		t.Fatalf("retry: %+v", r)
	}
	wantErr(t, "new pid next txn", verifyProduce(e.c, context.Background(), newPID, 0, Partition{"t", 0}, true), nil)
	wantErr(t, "old pid produce", verifyProduce(e.c, context.Background(), pid, ep, Partition{"t", 0}, true), kerr.InvalidProducerEpoch)
	d := e.describe("a")
	if d.ProducerID != newPID || d.ProducerEpoch != 0 || d.State != "Ongoing" {
		t.Fatalf("describe: %+v", d)
	}
}
