package logship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/bulwark-kafka/bulwark/logship/cwlfake"
)

// memSource is a stream held in memory.
type memSource struct {
	mu      sync.Mutex
	entries []Entry
	changed chan struct{}
}

func newMemSource() *memSource { return &memSource{changed: make(chan struct{})} }

func (m *memSource) add(n int, size int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := 0; i < n; i++ {
		pos := uint64(len(m.entries) + 1)
		data := fmt.Sprintf("record %06d ", pos) + strings.Repeat("x", size)
		m.entries = append(m.entries, Entry{Pos: pos, ID: fmt.Sprint(pos), Time: time.Now(), Data: []byte(data)})
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *memSource) Read(after uint64, max int) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if after >= uint64(len(m.entries)) {
		return nil, nil
	}
	end := min(uint64(len(m.entries)), after+uint64(max))
	return append([]Entry(nil), m.entries[after:end]...), nil
}

func (m *memSource) Wait(after uint64) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if after < uint64(len(m.entries)) {
		c := make(chan struct{})
		close(c)
		return c
	}
	return m.changed
}

func testAWS() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
}

func waitDelivered(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkInOrder fails unless the stored messages are records 1..n, each once, in order.
func checkInOrder(t *testing.T, events []cwlfake.Event, n int) {
	t.Helper()
	if len(events) != n {
		t.Fatalf("%d events delivered, want %d", len(events), n)
	}
	for i, e := range events {
		if want := fmt.Sprintf("record %06d ", i+1); !strings.HasPrefix(e.Message, want) {
			t.Fatalf("event %d is %.20q, want %q", i, e.Message, want)
		}
	}
}

func TestCloudWatchShipperDeliversInOrderAcrossOutages(t *testing.T) {
	fake, err := cwlfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	src := newMemSource()
	// 25,000 records of 100 bytes: three PutLogEvents at least (10,000 events each).
	src.add(25_000, 100)
	dir := t.TempDir()
	opts := Options{Stream: "audit", CursorDir: dir, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	sh, err := NewShipper(src, NewCloudWatchLogs(testAWS(), fake.URL(), "/bulwark/audit", "broker-1"), opts)
	if err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, "the first 25,000", 30*time.Second, func() bool { return sh.Position() == 25_000 })
	if c := fake.Calls("PutLogEvents"); c < 3 {
		t.Errorf("%d PutLogEvents calls for 25,000 events", c)
	}

	// An outage: the service is gone while records keep coming, then throttles when it returns.
	fake.Stop()
	src.add(3_000, 100)
	time.Sleep(100 * time.Millisecond)
	if err := fake.Restart(); err != nil {
		t.Fatal(err)
	}
	fake.Fail("ThrottlingException", 2)
	fake.Fail("ServiceUnavailableException", 1)
	waitDelivered(t, "the records written during the outage", 30*time.Second, func() bool { return sh.Position() == 28_000 })

	if st := sh.Stats(); st.Failed == 0 || st.LastError == "" || st.Sent != 28_000 {
		t.Errorf("failures not counted: %+v", st)
	}

	// A restart of the shipper continues from its cursor: nothing is sent twice.
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	src.add(500, 100)
	sh, err = NewShipper(src, NewCloudWatchLogs(testAWS(), fake.URL(), "/bulwark/audit", "broker-1"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close(context.Background())
	waitDelivered(t, "the records after the restart", 30*time.Second, func() bool { return sh.Position() == 28_500 })
	checkInOrder(t, fake.Events("/bulwark/audit", "broker-1"), 28_500)
}

func TestBatchesRespectLimits(t *testing.T) {
	var entries []Entry
	for i := 0; i < 100; i++ {
		entries = append(entries, Entry{Pos: uint64(i + 1), Data: make([]byte, 1000), Time: time.Unix(int64(i)*3600, 0)})
	}
	l := Limits{MaxEntries: 40, MaxBytes: 20 * 1026, PerEntryOverhead: 26, MaxSpan: 10 * time.Hour}
	if n := len(batch(entries, l)); n != 11 {
		t.Errorf("span limit: batch of %d, want 11 (hours 0..10)", n)
	}
	l.MaxSpan = 0
	if n := len(batch(entries, l)); n != 20 {
		t.Errorf("byte limit: batch of %d, want 20", n)
	}
	l.MaxBytes = 0
	if n := len(batch(entries, l)); n != 40 {
		t.Errorf("entry limit: batch of %d, want 40", n)
	}
	big := fit(Entry{Data: make([]byte, 5000)}, Limits{MaxEntryBytes: 1000})
	if len(big.Data) != 1000 || !strings.HasSuffix(string(big.Data), truncateMarker) {
		t.Errorf("fit: %d bytes", len(big.Data))
	}
}

// TestCloudWatchTimestampsStayInItsWindow: an entry stamped in the future (a clock ahead) or
// three weeks ago (a long outage) is delivered, its time kept within what CloudWatch takes.
func TestCloudWatchTimestampsStayInItsWindow(t *testing.T) {
	fake, err := cwlfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	sink := NewCloudWatchLogs(testAWS(), fake.URL(), "g", "s")
	now := time.Now()
	entries := []Entry{{Pos: 1, Time: now.Add(-21 * 24 * time.Hour), Data: []byte("old")}, {Pos: 2, Time: now, Data: []byte("now")},
		{Pos: 3, Time: now.Add(3 * time.Hour), Data: []byte("ahead")}}
	for len(entries) > 0 {
		b := batch(entries, sink.Limits()) // as the shipper does: no batch spans 24 hours
		if err := sink.Send(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		entries = entries[len(b):]
	}
	if got := fake.Events("g", "s"); len(got) != 3 {
		t.Fatalf("%d of 3 events stored: %+v", len(got), got)
	}
}

// endSource is a memSource that says where it ends.
type endSource struct{ *memSource }

func (e endSource) End() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return uint64(len(e.entries))
}

// TestCursorPastTheStreamRestarts: a cursor left by an older, longer stream (files moved aside)
// does not make the shipper skip the new stream's records.
func TestCursorPastTheStreamRestarts(t *testing.T) {
	fake, err := cwlfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	dir := t.TempDir()
	src := endSource{newMemSource()}
	src.add(10, 10)
	sh, err := NewShipper(src, NewCloudWatchLogs(testAWS(), fake.URL(), "g", "s"), Options{Stream: "audit", CursorDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, "the first delivery", 10*time.Second, func() bool { return sh.Position() == 10 })
	_ = sh.Close(context.Background())
	if err := sh.saveCursor(5000); err != nil { // as if an older stream had gone that far
		t.Fatal(err)
	}
	sh, err = NewShipper(src, NewCloudWatchLogs(testAWS(), fake.URL(), "g", "s"), Options{Stream: "audit", CursorDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close(context.Background())
	waitDelivered(t, "the new stream's records", 10*time.Second, func() bool { return sh.Position() == 10 })
}

// TestBackoffStartsOverWhenTheServiceAnswers: while the service is unreachable the wait grows
// to its longest; its first answer (a throttle) starts the backoff over, so a recovered service
// is not left waiting the longest backoff between its answers.
func TestBackoffStartsOverWhenTheServiceAnswers(t *testing.T) {
	s := &Shipper{sink: NewCloudWatchLogs(testAWS(), "http://127.0.0.1:1", "g", "s"),
		opts: Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second, Logger: slog.New(slog.DiscardHandler)}}
	// As the SDK wraps them: a response error of status 0 around the dial error.
	down := &smithy.OperationError{ServiceID: "CloudWatch Logs", OperationName: "PutLogEvents", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{}},
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}}}
	var b time.Duration
	for range 12 {
		s.fail(down, &b)
	}
	if b != 30*time.Second {
		t.Fatalf("backoff while unreachable: %v", b)
	}
	s.fail(errors.New("read the stream: disk error"), &b) // no answer from the service either
	if b != 30*time.Second {
		t.Fatalf("backoff after a local error: %v", b)
	}
	throttled := &smithy.OperationError{ServiceID: "CloudWatch Logs", OperationName: "PutLogEvents", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}},
			Err: errors.New("ThrottlingException: Rate exceeded")}}}
	s.fail(throttled, &b)
	if b != 100*time.Millisecond {
		t.Fatalf("backoff at the service's first answer: %v", b)
	}
	s.fail(throttled, &b)
	if b != 200*time.Millisecond {
		t.Fatalf("backoff grows again while throttled: %v", b)
	}
}
