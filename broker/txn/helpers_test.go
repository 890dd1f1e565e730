package txn

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
)

// marker is one recorded WriteMarker call.
type marker struct {
	P      Partition
	PID    int64
	Epoch  int16
	Commit bool
}

// fakeMarkers records markers; every partition exists unless listed in missing, and fail, when
// set, is returned by WriteMarker (after a call is counted in failed).
type fakeMarkers struct {
	mu      sync.Mutex
	marks   []marker
	missing map[Partition]bool
	deleted map[Partition]bool // WriteMarker answers ErrUnknownPartition
	fail    error
	failed  int
	block   chan struct{} // when set, WriteMarker waits for it (or ctx)
}

func (m *fakeMarkers) WriteMarker(ctx context.Context, p Partition, pid int64, epoch int16, commit bool, ce int32) error {
	m.mu.Lock()
	block := m.block
	m.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		m.failed++
		return m.fail
	}
	if m.deleted[p] {
		return ErrUnknownPartition
	}
	m.marks = append(m.marks, marker{p, pid, epoch, commit})
	return nil
}

func (m *fakeMarkers) PartitionExists(topic string, partition int32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.missing[Partition{topic, partition}]
}

func (m *fakeMarkers) setFail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

// take returns and forgets the recorded markers.
func (m *fakeMarkers) take() []marker {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.marks
	m.marks = nil
	return out
}

// groupCall is one recorded CompleteTxn call.
type groupCall struct {
	Group  string
	PID    int64
	Commit bool
}

type fakeGroups struct {
	mu    sync.Mutex
	calls []groupCall
}

func (g *fakeGroups) CompleteTxn(ctx context.Context, group string, pid int64, commit bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, groupCall{group, pid, commit})
	return nil
}

func (g *fakeGroups) take() []groupCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.calls
	g.calls = nil
	return out
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is a coordinator on a real journal in dir with fake markers and groups.
type env struct {
	t       *testing.T
	dir     string
	cfg     Config
	c       *Coordinator
	store   *coordlog.Store
	markers *fakeMarkers
	groups  *fakeGroups
}

// newEnv opens a coordinator on a fresh journal and starts it.
func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), cfg: cfg}
	e.open(true)
	return e
}

// open opens the journal and a new coordinator with fresh fakes; start says whether to Start it.
func (e *env) open(start bool) {
	e.t.Helper()
	e.markers = &fakeMarkers{missing: map[Partition]bool{}, deleted: map[Partition]bool{}}
	e.groups = &fakeGroups{}
	e.c = New(e.cfg, e.markers, e.groups)
	lc := plog.DefaultConfig()
	lc.RetentionMs, lc.RetentionBytes = -1, -1
	st, err := coordlog.Open(e.dir, coordlog.Options{Config: lc}, func(k, v []byte) error {
		return e.c.Restore(k, v)
	})
	if err != nil {
		e.t.Fatalf("coordlog.Open: %v", err)
	}
	e.store = st
	e.c.Attach(st)
	c, s := e.c, st
	e.t.Cleanup(func() {
		c.Close()
		if err := s.Close(); err != nil && !errors.Is(err, coordlog.ErrClosed) {
			e.t.Errorf("store Close: %v", err)
		}
	})
	if start {
		if err := e.c.Start(context.Background()); err != nil {
			e.t.Fatalf("Start: %v", err)
		}
	}
}

// restart drops the coordinator and the journal and opens both again.
func (e *env) restart(start bool) {
	e.t.Helper()
	e.c.Close()
	if err := e.store.Close(); err != nil {
		e.t.Fatalf("store Close: %v", err)
	}
	e.open(start)
}

func str(s string) *string { return &s }

// init calls InitProducerId for id (v4, no KIP-360 fields) and returns pid and epoch.
func (e *env) init(id string, timeoutMs int32) (int64, int16) {
	e.t.Helper()
	resp := e.initReq(4, id, timeoutMs, -1, -1)
	if resp.ErrorCode != 0 {
		e.t.Fatalf("InitProducerId %q: %v", id, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func (e *env) initReq(version int16, id string, timeoutMs int32, pid int64, epoch int16) *kmsg.InitProducerIDResponse {
	e.t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = version
	if id != "\x00" {
		req.TransactionalID = str(id)
	}
	req.TransactionTimeoutMillis = timeoutMs
	req.ProducerID, req.ProducerEpoch = pid, epoch
	return e.c.InitProducerID(context.Background(), version, req)
}

// addParts calls AddPartitionsToTxn v3 and returns the error of each partition in order.
func (e *env) addParts(version int16, id string, pid int64, epoch int16, parts ...Partition) []error {
	e.t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = version
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
	for _, p := range parts {
		t := kmsg.NewAddPartitionsToTxnRequestTopic()
		t.Topic, t.Partitions = p.Topic, []int32{p.Partition}
		req.Topics = append(req.Topics, t)
	}
	resp := e.c.AddPartitionsToTxn(context.Background(), version, req)
	codes := map[Partition]int16{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			codes[Partition{t.Topic, p.Partition}] = p.ErrorCode
		}
	}
	out := make([]error, len(parts))
	for i, p := range parts {
		code, ok := codes[p]
		if !ok {
			e.t.Fatalf("AddPartitionsToTxn: no result for %v", p)
		}
		out[i] = kerr.ErrorForCode(code)
	}
	return out
}

// mustAdd adds partitions and fails the test on any error.
func (e *env) mustAdd(id string, pid int64, epoch int16, parts ...Partition) {
	e.t.Helper()
	for i, err := range e.addParts(3, id, pid, epoch, parts...) {
		if err != nil {
			e.t.Fatalf("AddPartitionsToTxn %v: %v", parts[i], err)
		}
	}
}

func (e *env) addOffsets(version int16, id string, pid int64, epoch int16, group string) error {
	e.t.Helper()
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = id, pid, epoch, group
	return kerr.ErrorForCode(e.c.AddOffsetsToTxn(context.Background(), version, req).ErrorCode)
}

func (e *env) endTxn(version int16, id string, pid int64, epoch int16, commit bool) *kmsg.EndTxnResponse {
	e.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = version
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	return e.c.EndTxn(context.Background(), version, req)
}

func (e *env) end(version int16, id string, pid int64, epoch int16, commit bool) error {
	e.t.Helper()
	return kerr.ErrorForCode(e.endTxn(version, id, pid, epoch, commit).ErrorCode)
}

// describe returns the DescribeTransactions answer for id.
func (e *env) describe(id string) kmsg.DescribeTransactionsResponseTransactionState {
	e.t.Helper()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{id}
	resp := e.c.DescribeTransactions(0, req)
	if len(resp.TransactionStates) != 1 {
		e.t.Fatalf("DescribeTransactions: %d states", len(resp.TransactionStates))
	}
	return resp.TransactionStates[0]
}

// wantState fails unless id is in state st.
func (e *env) wantState(id string, st State) {
	e.t.Helper()
	d := e.describe(id)
	if d.ErrorCode != 0 || d.State != st.String() {
		e.t.Fatalf("%q: state %q (error %v), want %v", id, d.State, kerr.ErrorForCode(d.ErrorCode), st)
	}
}

// setState rewrites id's state through the journal (tests only: epochs near exhaustion).
func (e *env) setState(id string, fn func(*txnState)) {
	e.t.Helper()
	en, err := e.c.lockEntry(context.Background(), id, false)
	if err != nil || en == nil {
		e.t.Fatalf("setState %q: %v", id, err)
	}
	defer e.c.unlock(en)
	st := e.c.state(en)
	fn(&st)
	if err := e.c.persist(context.Background(), en, st); err != nil {
		e.t.Fatalf("setState %q: %v", id, err)
	}
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// wantErr fails unless got is want (nil for success).
func wantErr(t *testing.T, what string, got error, want *kerr.Error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: %v, want success", what, got)
		}
		return
	}
	if got != want {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func addOffsetsReq(id string, pid int64, epoch int16, group string) *kmsg.AddOffsetsToTxnRequest {
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = id, pid, epoch, group
	return req
}

// verifyProduce is VerifyProduce with the transaction released at once (as after the append).
func verifyProduce(c *Coordinator, ctx context.Context, pid int64, epoch int16, p Partition, implicitAdd bool) error {
	id, _, _ := c.lookupPID(pid) // the producer's own transactional id, as its Produce names it
	release, err := c.VerifyProduce(ctx, id, pid, epoch, p, implicitAdd)
	if err != nil {
		return err
	}
	release()
	return nil
}
