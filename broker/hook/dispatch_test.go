package hook

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
)

// recorder implements every hook kind and records what it saw, in order.
type recorder struct {
	mu   sync.Mutex
	seen []string
	// gate, when set, blocks every delivery until it is closed.
	gate chan struct{}
	// panicOn makes the hook panic for a request with this correlation id.
	panicOn int32
}

func (r *recorder) add(s string) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
}

func (r *recorder) OnRequest(ev Request) {
	if r.panicOn != 0 && ev.CorrelationID == r.panicOn {
		panic("hook bug")
	}
	r.add("request:" + ev.Principal.String())
}
func (r *recorder) OnConnection(ev Connection)         { r.add("connection:" + string(ev.Kind)) }
func (r *recorder) OnAuthorization(ev Authorization)   { r.add("authorization:" + ev.Operation) }
func (r *recorder) OnAuthentication(ev Authentication) { r.add("auth:" + string(ev.Outcome)) }
func (r *recorder) OnKeyCall(ev KeyCall)               { r.add("key:" + ev.Op) }
func (r *recorder) OnConfigChange(ev ConfigChange)     { r.add("config:" + ev.Source) }

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func (r *recorder) waitLen(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s := r.snapshot(); len(s) >= n {
			return s
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("hook saw %v, want %d events", r.snapshot(), n)
	return nil
}

func all(r *recorder, name string, o Overflow, queue int) Registration {
	return Registration{Name: name, Overflow: o, QueueSize: queue, BlockTimeout: 200 * time.Millisecond,
		Request: r, Connection: r, Authentication: r, Key: r, Config: r}
}

func emitOneOfEach(d *Dispatcher) {
	d.Connection(Connection{Kind: ConnectionOpened})
	d.Authentication(Authentication{Outcome: AuthSuccess})
	d.Request(Request{Principal: auth.User("alice"), CorrelationID: 1})
	d.KeyCall(KeyCall{Op: "Decrypt"})
	d.ConfigChange(ConfigChange{Source: "SIGHUP"})
	d.Connection(Connection{Kind: ConnectionClosed})
}

func TestEveryKindDeliveredInOrder(t *testing.T) {
	r := &recorder{}
	d := New(nil, all(r, "rec", OverflowDrop, 0))
	emitOneOfEach(d)
	got := strings.Join(r.waitLen(t, 6), " ")
	want := "connection:opened auth:success request:User:alice key:Decrypt config:SIGHUP connection:closed"
	if got != want {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats()[0]; st.Delivered != 6 || st.Dropped != 0 || st.Panics != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestOnlyRegisteredKindsAreDelivered(t *testing.T) {
	r := &recorder{}
	d := New(nil, Registration{Name: "auth-only", Authentication: r})
	if d.WantsRequests() {
		t.Fatal("WantsRequests with no request hook")
	}
	emitOneOfEach(d)
	_ = d.Close(context.Background())
	if got := r.snapshot(); len(got) != 1 || got[0] != "auth:success" {
		t.Fatalf("delivered %v, want only the authentication", got)
	}
}

func TestPanicIsContainedAndCounted(t *testing.T) {
	var logs bytes.Buffer
	r := &recorder{panicOn: 2}
	d := New(slog.New(slog.NewTextHandler(&logs, nil)), all(r, "buggy", OverflowBlock, 0))
	d.Request(Request{CorrelationID: 1, Principal: auth.User("a")})
	d.Request(Request{CorrelationID: 2, Principal: auth.User("b")})
	d.Request(Request{CorrelationID: 3, Principal: auth.User("c")})
	got := r.waitLen(t, 2)
	_ = d.Close(context.Background())
	if strings.Join(got, " ") != "request:User:a request:User:c" {
		t.Fatalf("delivered %v", got)
	}
	st := d.Stats()[0]
	if st.Panics != 1 || st.Delivered != 2 {
		t.Fatalf("stats = %+v, want 1 panic and 2 delivered", st)
	}
	if !strings.Contains(logs.String(), "hook panicked") || !strings.Contains(logs.String(), "buggy") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

func TestDropPolicyNeverWaits(t *testing.T) {
	r := &recorder{gate: make(chan struct{})}
	d := New(nil, all(r, "metrics", OverflowDrop, 2))
	start := time.Now()
	for i := 0; i < 100; i++ {
		d.Request(Request{CorrelationID: int32(i + 10)})
	}
	emitted := time.Since(start)
	close(r.gate)
	_ = d.Close(context.Background())
	st := d.Stats()[0]
	// One event may be in the hook's hands, two queued; everything else is dropped and counted.
	if st.Delivered+st.Dropped != 100 || st.Dropped < 97 {
		t.Fatalf("stats = %+v, want 100 accounted for and at least 97 dropped", st)
	}
	if emitted > 5*time.Second {
		t.Fatalf("emitting into a full drop queue waited %v", emitted)
	}
}

func TestBlockPolicyAppliesBackPressureThenCountsLoss(t *testing.T) {
	var logs bytes.Buffer
	r := &recorder{gate: make(chan struct{})}
	d := New(slog.New(slog.NewTextHandler(&logs, nil)), all(r, "audit", OverflowBlock, 1))
	d.Request(Request{CorrelationID: 1}) // taken by the hook, which blocks on the gate
	r.waitQueueEmpty(t, d)
	d.Request(Request{CorrelationID: 2}) // fills the queue

	// A third event waits for room: it is delivered once the hook moves on.
	released := make(chan struct{})
	go func() {
		d.Request(Request{CorrelationID: 3})
		close(released)
	}()
	select {
	case <-released:
		t.Fatal("an OverflowBlock emit returned while the queue was full")
	case <-time.After(50 * time.Millisecond):
	}
	// Neither is it held for ever: after BlockTimeout (200 ms) it is dropped, counted, logged.
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("an OverflowBlock emit waited past its BlockTimeout")
	}
	close(r.gate)
	_ = d.Close(context.Background())
	st := d.Stats()[0]
	if st.Dropped != 1 || st.Delivered != 2 {
		t.Fatalf("stats = %+v, want 2 delivered and 1 lost", st)
	}
	if !strings.Contains(logs.String(), "hook event lost") {
		t.Fatalf("loss not logged: %s", logs.String())
	}
}

// waitQueueEmpty waits until the hook has taken every queued event.
func (r *recorder) waitQueueEmpty(t *testing.T, d *Dispatcher) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d.Stats()[0].Queued != 0 {
		if time.Now().After(deadline) {
			t.Fatal("hook never took its first event")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCloseDrainsQueuedEventsAndDropsLaterOnes(t *testing.T) {
	r := &recorder{}
	d := New(nil, all(r, "rec", OverflowBlock, 100))
	for i := 0; i < 50; i++ {
		d.KeyCall(KeyCall{Op: "Decrypt"})
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.snapshot()); n != 50 {
		t.Fatalf("Close delivered %d of 50 queued events", n)
	}
	d.KeyCall(KeyCall{Op: "late"})
	if st := d.Stats()[0]; st.Dropped != 1 {
		t.Fatalf("an event after Close: stats = %+v, want it dropped and counted", st)
	}
}

func TestCloseGivesUpAtItsDeadline(t *testing.T) {
	r := &recorder{gate: make(chan struct{})}
	defer close(r.gate)
	d := New(nil, all(r, "stuck", OverflowDrop, 0))
	d.Request(Request{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); err == nil || !strings.Contains(err.Error(), "stuck") {
		t.Fatalf("Close with a stuck hook = %v, want an error naming it", err)
	}
}

func TestNilDispatcherEmitsNothing(t *testing.T) {
	var d *Dispatcher
	emitOneOfEach(d)
	if d.WantsRequests() || d.Stats() != nil || d.Close(context.Background()) != nil {
		t.Fatal("nil dispatcher is not inert")
	}
}

func TestStagesTotal(t *testing.T) {
	s := Stages{Queue: 1, Local: 2, Remote: 3, ResponseQueue: 5, ResponseSend: 6}
	if s.Total() != 17 {
		t.Fatalf("Total = %d", s.Total())
	}
}

// TestFiltersLimitWhatIsBuilt: a registration that asks for admin requests and denials only
// makes the dispatcher want nothing else, and receives nothing else.
func TestFiltersLimitWhatIsBuilt(t *testing.T) {
	rec := &recorder{}
	d := New(nil, Registration{Name: "audit", Request: rec, RequestFilter: func(k int16) bool { return k == 19 },
		Authorization: rec, DeniedOnly: true})
	if d.WantsRequest(0) || !d.WantsRequest(19) || d.WantsRequest(-1) || d.WantsRequest(500) {
		t.Errorf("WantsRequest: produce %v, CreateTopics %v", d.WantsRequest(0), d.WantsRequest(19))
	}
	if d.WantsAllowedAuthorizations() || !d.WantsAuthorizations() {
		t.Error("allowed decisions wanted by a denials-only registration")
	}
	d.Request(Request{APIKey: 0, Principal: auth.User("produce")})
	d.Request(Request{APIKey: 0, Principal: auth.User("refused"), Refusal: "malformed"})
	d.Request(Request{APIKey: 19, Principal: auth.User("create")})
	d.Authorization(Authorization{Allowed: true})
	d.Authorization(Authorization{Allowed: false})
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rec.seen, ",")
	if strings.Contains(got, "produce") || !strings.Contains(got, "refused") || !strings.Contains(got, "create") || strings.Count(got, "authorization") != 1 {
		t.Errorf("delivered %s; want the refusal, CreateTopics and one denial", got)
	}
}
