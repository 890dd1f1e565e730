package txn

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestVerifyProduce(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	pid, ep := e.init("a", 60_000)
	p0, p1 := Partition{"t", 0}, Partition{"t", 1}
	cases := []struct {
		name     string
		pid      int64
		epoch    int16
		p        Partition
		implicit bool
		want     *kerr.Error
	}{
		{"unknown pid", pid + 1000, 0, p0, false, kerr.InvalidProducerIDMapping},
		{"Empty, not added", pid, ep, p0, false, kerr.InvalidTxnState},
		{"stale epoch", pid, ep - 1, p0, true, kerr.InvalidProducerEpoch},
		{"future epoch", pid, ep + 1, p0, true, kerr.InvalidProducerEpoch},
		{"implicit add from Empty", pid, ep, p0, true, nil},
		{"added", pid, ep, p0, false, nil},
		{"added, implicit", pid, ep, p0, true, nil},
		{"Ongoing, not added", pid, ep, p1, false, kerr.InvalidTxnState},
		{"implicit add to Ongoing", pid, ep, p1, true, nil},
		{"missing partition", pid, ep, Partition{"gone", 0}, true, kerr.UnknownTopicOrPartition},
	}
	e.markers.missing[Partition{"gone", 0}] = true
	for _, tc := range cases {
		wantErr(t, tc.name, verifyProduce(e.c, ctx, tc.pid, tc.epoch, tc.p, tc.implicit), tc.want)
	}
	d := e.describe("a")
	if d.State != "Ongoing" || len(d.Topics) != 1 || !slices.Equal(d.Topics[0].Partitions, []int32{0, 1}) {
		t.Fatalf("implicit adds: %+v", d)
	}
	// Implicit adds are durable.
	e.restart(true)
	wantErr(t, "after restart", verifyProduce(e.c, ctx, pid, ep, p1, false), nil)
	// After the commit the partition is no longer part of a transaction.
	wantErr(t, "commit", e.end(3, "a", pid, ep, true), nil)
	wantErr(t, "after commit", verifyProduce(e.c, ctx, pid, ep, p0, false), kerr.InvalidTxnState)
}

func TestVerifyTxnOffsetCommit(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	pid, ep := e.init("a", 60_000)
	wantErr(t, "unknown id", e.c.VerifyTxnOffsetCommit(ctx, "nope", pid, ep, "g", true), kerr.InvalidProducerIDMapping)
	wantErr(t, "empty id", e.c.VerifyTxnOffsetCommit(ctx, "", pid, ep, "g", true), kerr.InvalidRequest)
	wantErr(t, "other pid", e.c.VerifyTxnOffsetCommit(ctx, "a", pid+1, ep, "g", true), kerr.InvalidProducerIDMapping)
	wantErr(t, "stale epoch", e.c.VerifyTxnOffsetCommit(ctx, "a", pid, ep-1, "g", true), kerr.ProducerFenced)
	wantErr(t, "not added", e.c.VerifyTxnOffsetCommit(ctx, "a", pid, ep, "g", false), kerr.InvalidTxnState)
	wantErr(t, "AddOffsets", e.addOffsets(3, "a", pid, ep, "g"), nil)
	wantErr(t, "added", e.c.VerifyTxnOffsetCommit(ctx, "a", pid, ep, "g", false), nil)
	wantErr(t, "implicit", e.c.VerifyTxnOffsetCommit(ctx, "a", pid, ep, "h", true), nil)
	wantErr(t, "abort", e.end(3, "a", pid, ep, false), nil)
	g := e.groups.take()
	if len(g) != 2 || g[0] != (groupCall{"g", pid, false}) || g[1] != (groupCall{"h", pid, false}) {
		t.Fatalf("groups %+v", g)
	}
}

func TestListAndDescribe(t *testing.T) {
	clock := newClock()
	e := newEnv(t, Config{Now: clock.Now})
	pa, ea := e.init("app-1", 60_000) // Empty
	pb, eb := e.init("app-2", 30_000) // Ongoing, old
	e.mustAdd("app-2", pb, eb, Partition{"t", 3}, Partition{"u", 1}, Partition{"t", 1})
	start := clock.Now().UnixMilli()
	clock.Advance(10 * time.Second)
	pc, ec := e.init("other", 60_000) // Ongoing, recent
	e.mustAdd("other", pc, ec, Partition{"t", 0})
	pd, ed := e.init("done", 60_000) // CompleteCommit
	e.mustAdd("done", pd, ed, Partition{"t", 0})
	wantErr(t, "commit", e.end(3, "done", pd, ed, true), nil)
	clock.Advance(time.Second)

	list := func(version int16, states []string, pids []int64, dur int64, pattern *string) (*kmsg.ListTransactionsResponse, []string) {
		t.Helper()
		req := kmsg.NewPtrListTransactionsRequest()
		req.Version = version
		req.StateFilters, req.ProducerIDFilters, req.DurationFilterMillis, req.TransactionalIDPattern = states, pids, dur, pattern
		resp := e.c.ListTransactions(version, req)
		var ids []string
		for _, s := range resp.TransactionStates {
			ids = append(ids, s.TransactionalID)
		}
		return resp, ids
	}
	cases := []struct {
		name    string
		version int16
		states  []string
		pids    []int64
		dur     int64
		pattern *string
		want    []string
	}{
		{"all", 0, nil, nil, -1, nil, []string{"app-1", "app-2", "done", "other"}},
		{"Ongoing", 0, []string{"Ongoing"}, nil, -1, nil, []string{"app-2", "other"}},
		{"two states", 0, []string{"Empty", "CompleteCommit"}, nil, -1, nil, []string{"app-1", "done"}},
		{"pid", 0, nil, []int64{pa, pc}, -1, nil, []string{"app-1", "other"}},
		{"state and pid", 0, []string{"Ongoing"}, []int64{pa, pc}, -1, nil, []string{"other"}},
		{"duration ignored in v0", 0, []string{"Ongoing"}, nil, 5000, nil, []string{"app-2", "other"}},
		{"duration", 1, []string{"Ongoing"}, nil, 5000, nil, []string{"app-2"}},
		{"pattern ignored in v1", 1, nil, nil, -1, str("app-.*"), []string{"app-1", "app-2", "done", "other"}},
		{"pattern", 2, nil, nil, -1, str("app-.*"), []string{"app-1", "app-2"}},
		{"pattern is anchored", 2, nil, nil, -1, str("app"), nil},
		{"empty pattern", 2, nil, nil, -1, str(""), []string{"app-1", "app-2", "done", "other"}},
		{"unknown state only", 0, []string{"Bogus"}, nil, -1, nil, nil},
	}
	for _, tc := range cases {
		resp, ids := list(tc.version, tc.states, tc.pids, tc.dur, tc.pattern)
		if resp.ErrorCode != 0 || !slices.Equal(ids, tc.want) {
			t.Errorf("%s: %v (error %d), want %v", tc.name, ids, resp.ErrorCode, tc.want)
		}
	}
	resp, _ := list(0, []string{"Ongoing", "Bogus"}, nil, -1, nil)
	if !slices.Equal(resp.UnknownStateFilters, []string{"Bogus"}) {
		t.Fatalf("unknown state filters %v", resp.UnknownStateFilters)
	}
	resp, _ = list(2, nil, nil, -1, str("app-("))
	wantErr(t, "bad pattern", kerr.ErrorForCode(resp.ErrorCode), kerr.InvalidRegularExpression)

	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{"app-2", "missing", "", "app-1"}
	dr := e.c.DescribeTransactions(0, req)
	if len(dr.TransactionStates) != 4 {
		t.Fatalf("describe: %+v", dr)
	}
	d := dr.TransactionStates[0]
	if d.ErrorCode != 0 || d.State != "Ongoing" || d.ProducerID != pb || d.ProducerEpoch != eb ||
		d.TimeoutMillis != 30_000 || d.StartTimestamp != start || len(d.Topics) != 2 ||
		d.Topics[0].Topic != "t" || !slices.Equal(d.Topics[0].Partitions, []int32{1, 3}) ||
		d.Topics[1].Topic != "u" || !slices.Equal(d.Topics[1].Partitions, []int32{1}) {
		t.Fatalf("describe app-2: %+v", d)
	}
	wantErr(t, "missing", kerr.ErrorForCode(dr.TransactionStates[1].ErrorCode), kerr.TransactionalIDNotFound)
	wantErr(t, "empty", kerr.ErrorForCode(dr.TransactionStates[2].ErrorCode), kerr.InvalidRequest)
	d = dr.TransactionStates[3]
	if d.ErrorCode != 0 || d.State != "Empty" || d.ProducerID != pa || d.ProducerEpoch != ea || d.StartTimestamp != -1 || len(d.Topics) != 0 {
		t.Fatalf("describe app-1: %+v", d)
	}
}

func TestStateNames(t *testing.T) {
	want := []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}
	for i, name := range want {
		if State(i).String() != name {
			t.Errorf("State(%d) = %q, want %q", i, State(i), name)
		}
		if st, ok := ParseState(name); !ok || st != State(i) {
			t.Errorf("ParseState(%q) = %v, %v", name, st, ok)
		}
	}
	if _, ok := ParseState("empty"); ok {
		t.Error("state names are case-sensitive in Kafka")
	}
}

func TestRestoreRejectsCorruptValues(t *testing.T) {
	c := New(Config{}, &fakeMarkers{}, &fakeGroups{})
	for _, v := range []string{`{`, `{"version":1,"pid":-1,"epoch":0,"timeout_ms":1,"state":"Empty"}`,
		`{"version":1,"pid":1,"epoch":0,"timeout_ms":1,"state":"Nope"}`,
		`{"version":1,"pid":1,"epoch":0,"timeout_ms":1,"state":"Dead"}`,
		`{"version":9,"pid":1,"epoch":0,"timeout_ms":1,"state":"Empty"}`} {
		if err := c.Restore([]byte("txn/x"), []byte(v)); err == nil {
			t.Errorf("Restore accepted %s", v)
		}
	}
	if err := c.Restore([]byte(ProducerIDKey), []byte(`{"block_start":5,"block_end":2}`)); err == nil {
		t.Error("Restore accepted a backwards block")
	}
	if err := c.Restore([]byte("group/x"), []byte("anything")); err != nil {
		t.Errorf("foreign key: %v", err)
	}
	if err := (Config{MaxTimeout: -1, ProducerIDBlockSize: -1}).Validate(); err == nil {
		t.Error("Validate accepted negative values")
	}
}
