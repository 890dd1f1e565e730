package stats

import (
	"sync"
	"sync/atomic"
	"time"
)

// Topic holds Kafka's BrokerTopicMetrics for one topic, or for all topics together.
type Topic struct {
	MessagesIn            atomic.Uint64
	BytesIn               atomic.Uint64
	BytesOut              atomic.Uint64
	BytesRejected         atomic.Uint64
	TotalProduceRequests  atomic.Uint64
	FailedProduceRequests atomic.Uint64
	TotalFetchRequests    atomic.Uint64
	FailedFetchRequests   atomic.Uint64
}

// ProduceOutcome is how one partition's part of a produce request ended, as Kafka's
// BrokerTopicMetrics tell them apart.
type ProduceOutcome int

// Produce outcomes.
const (
	// Appended: the batch was stored (MessagesIn, BytesIn).
	Appended ProduceOutcome = iota
	// RefusedExpected: refused for a reason Kafka does not count as a failure (unknown
	// partition, not the leader, a corrupt batch, a storage error).
	RefusedExpected
	// RefusedTooLarge: refused for its size (also counted in BytesRejected, not as a failure,
	// as Kafka does for RecordTooLarge and RecordBatchTooLarge).
	RefusedTooLarge
	// Failed: any other refusal (sequence, epoch, transaction state, invalid records or
	// timestamps): FailedProduceRequests.
	Failed
)

// Produced counts one partition's part of a produce request: every part in TotalProduceRequests,
// and messages and bytes by outcome.
func (t *Topic) Produced(messages, bytes uint64, outcome ProduceOutcome) {
	if t == nil {
		return
	}
	t.TotalProduceRequests.Add(1)
	switch outcome {
	case Appended:
		t.MessagesIn.Add(messages)
		t.BytesIn.Add(bytes)
	case RefusedTooLarge:
		t.BytesRejected.Add(bytes)
	case Failed:
		t.FailedProduceRequests.Add(1)
	}
}

// Fetched counts one partition's part of a fetch response: the request, the bytes sent, and a
// failure when reading failed unexpectedly (Kafka leaves out-of-range offsets, fenced epochs,
// unknown partitions and storage errors out of FailedFetchRequests).
func (t *Topic) Fetched(bytes uint64, failed bool) {
	if t == nil {
		return
	}
	t.TotalFetchRequests.Add(1)
	if failed {
		t.FailedFetchRequests.Add(1)
		return
	}
	t.BytesOut.Add(bytes)
}

// Listener holds Kafka's socket-server metrics for one listener.
type Listener struct {
	Name string
	// Open is the number of connections open now.
	Open            atomic.Int64
	Created         atomic.Uint64
	Closed          atomic.Uint64
	AuthSucceeded   atomic.Uint64
	AuthFailed      atomic.Uint64
	ReauthSucceeded atomic.Uint64
	ReauthFailed    atomic.Uint64
	// Mechanisms counts authentication attempts (first and re-authentications) by mechanism.
	Mechanisms Outcomes
	// Refused counts connections turned away at accept, by why (RefusedAllowlist, ...).
	Refused [numRefusals]atomic.Uint64
}

// Refusal is why a connection was turned away at accept.
type Refusal int

// Reasons a connection is refused at accept.
const (
	RefusedAllowlist Refusal = iota
	RefusedLimit
	RefusedQuota
	numRefusals
)

// RefusalNames names each Refusal for a metric label.
var RefusalNames = [numRefusals]string{RefusedAllowlist: "allowlist", RefusedLimit: "limit", RefusedQuota: "quota"}

// Opened counts an accepted connection.
func (l *Listener) Opened() {
	if l == nil {
		return
	}
	l.Created.Add(1)
	l.Open.Add(1)
}

// ClosedOne counts a connection closing.
func (l *Listener) ClosedOne() {
	if l == nil {
		return
	}
	l.Closed.Add(1)
	l.Open.Add(-1)
}

// PlaintextReady counts a connection on a listener without authentication as authenticated,
// as Kafka's socket server does once such a channel is ready.
func (l *Listener) PlaintextReady() {
	if l == nil {
		return
	}
	l.AuthSucceeded.Add(1)
}

// Authenticated counts an authentication attempt's outcome.
func (l *Listener) Authenticated(mechanism string, ok, reauth bool) {
	if l == nil {
		return
	}
	l.Mechanisms.Count(mechanism, ok)
	switch {
	case ok && reauth:
		l.ReauthSucceeded.Add(1)
	case ok:
		l.AuthSucceeded.Add(1)
	case reauth:
		l.ReauthFailed.Add(1)
	default:
		l.AuthFailed.Add(1)
	}
}

// RefusedOne counts a connection refused at accept.
func (l *Listener) RefusedOne(r Refusal) {
	if l == nil || r < 0 || r >= numRefusals {
		return
	}
	l.Refused[r].Add(1)
}

// Storage holds the log's durability figures.
type Storage struct {
	// Fsync is how long each fsync of a partition log took, in microseconds.
	Fsync Histogram
	// GroupCommit is how many appends each fsync made durable together.
	GroupCommit Histogram
	FsyncErrors atomic.Uint64
}

// Synced records one fsync: its duration, how many appends it covered, and whether it failed.
func (s *Storage) Synced(d time.Duration, appends uint64, err error) {
	if s == nil {
		return
	}
	s.Fsync.ObserveDuration(d)
	s.GroupCommit.Observe(appends)
	if err != nil {
		s.FsyncErrors.Add(1)
	}
}

// Throttles counts responses delayed by client quotas, by quota type, and the time they added.
type Throttles struct {
	Count [NumQuotaTypes]atomic.Uint64
	// Micros is the total throttle time, in microseconds.
	Micros [NumQuotaTypes]atomic.Uint64
}

// Quota types, as Kafka's quota managers name them.
const (
	QuotaProduce = iota
	QuotaFetch
	QuotaRequest
	NumQuotaTypes
)

// QuotaTypeNames names each quota type for a metric label.
var QuotaTypeNames = [NumQuotaTypes]string{QuotaProduce: "produce", QuotaFetch: "fetch", QuotaRequest: "request"}

// Throttled counts one throttled response.
func (t *Throttles) Throttled(quotaType int, d time.Duration) {
	if t == nil || quotaType < 0 || quotaType >= NumQuotaTypes || d <= 0 {
		return
	}
	t.Count[quotaType].Add(1)
	t.Micros[quotaType].Add(uint64(d / time.Microsecond))
}

// Outcomes counts successes and failures by a name from a small set: authorization decisions by
// engine (acl, opa, iam, super.users), authentications by mechanism. Each name gets its pair of
// counters the first time it is seen; the map is copied on write, so counting takes no lock.
type Outcomes struct {
	mu    sync.Mutex // serializes writers
	names atomic.Pointer[map[string]*[2]atomic.Uint64]
}

// maxOutcomeNames bounds the names an Outcomes keeps; later names count under "other".
const maxOutcomeNames = 32

// Count counts one outcome under name.
func (d *Outcomes) Count(name string, ok bool) {
	if d == nil {
		return
	}
	var c *[2]atomic.Uint64
	if m := d.names.Load(); m != nil {
		c = (*m)[name]
	}
	if c == nil {
		c = d.add(name)
	}
	i := 0
	if ok {
		i = 1
	}
	c[i].Add(1)
}

func (d *Outcomes) add(name string) *[2]atomic.Uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := map[string]*[2]atomic.Uint64{}
	if m := d.names.Load(); m != nil {
		old = *m
	}
	if len(old) >= maxOutcomeNames {
		name = "other"
	}
	if c := old[name]; c != nil {
		return c
	}
	next := make(map[string]*[2]atomic.Uint64, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	c := new([2]atomic.Uint64)
	next[name] = c
	d.names.Store(&next)
	return c
}

// Each calls fn with each name's failure and success counts.
func (d *Outcomes) Each(fn func(name string, failed, succeeded uint64)) {
	if d == nil {
		return
	}
	m := d.names.Load()
	if m == nil {
		return
	}
	for n, c := range *m {
		fn(n, c[0].Load(), c[1].Load())
	}
}
