package stats

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stage is one part of a request's time, as Kafka's RequestMetrics splits it.
type Stage int

// The request stages, in Kafka's order; StageTotal is their sum.
const (
	StageTotal Stage = iota
	StageRequestQueue
	StageLocal
	StageRemote
	StageThrottle
	StageResponseQueue
	StageResponseSend
	NumStages
)

// StageNames are Kafka's RequestMetrics names for each stage.
var StageNames = [NumStages]string{
	StageTotal:         "TotalTimeMs",
	StageRequestQueue:  "RequestQueueTimeMs",
	StageLocal:         "LocalTimeMs",
	StageRemote:        "RemoteTimeMs",
	StageThrottle:      "ThrottleTimeMs",
	StageResponseQueue: "ResponseQueueTimeMs",
	StageResponseSend:  "ResponseSendTimeMs",
}

// Limits of the per-request tables: API keys and versions beyond them are not counted (the
// broker serves none), error codes beyond them count as UNKNOWN_SERVER_ERROR's neighbour slot.
const (
	MaxAPIKey     = 127
	MaxVersion    = 31
	minErrorCode  = -1
	maxErrorCode  = 158
	numErrorSlots = maxErrorCode - minErrorCode + 2 // the last slot counts codes out of range
)

// Request holds Kafka's RequestMetrics for one request type.
type Request struct {
	Name     string
	Versions [MaxVersion + 1]atomic.Uint64
	errors   [numErrorSlots]atomic.Uint64
	Stages   [NumStages]Histogram
}

// Times is one request's time in each stage.
type Times [NumStages]time.Duration

// Record counts one request of the given version with its stage times.
func (r *Request) Record(version int16, t *Times) {
	if version >= 0 && int(version) <= MaxVersion {
		r.Versions[version].Add(1)
	}
	for i := range t {
		r.Stages[i].ObserveDuration(t[i])
	}
}

// Error counts n occurrences of a Kafka error code in a response (0, NONE, included, as Kafka's
// ErrorsPerSec does).
func (r *Request) Error(code int16, n uint64) {
	i := int(code) - minErrorCode
	if i < 0 || i >= numErrorSlots-1 {
		i = numErrorSlots - 1
	}
	r.errors[i].Add(n)
}

// EachError calls fn with the counter of every error code seen; out-of-range codes are reported
// under code OtherErrorCode.
func (r *Request) EachError(fn func(code int16, n *atomic.Uint64)) {
	for i := range r.errors {
		if r.errors[i].Load() > 0 {
			code := int16(i + minErrorCode)
			if i == numErrorSlots-1 {
				code = OtherErrorCode
			}
			fn(code, &r.errors[i])
		}
	}
}

// OtherErrorCode stands for error codes outside the table.
const OtherErrorCode = int16(-32768)

// Requests is the RequestMetrics table: one Request per API key, made on first use, plus Kafka's
// FetchConsumer split of Fetch (a fetch counts under both).
type Requests struct {
	name          func(key int16) string
	byKey         [MaxAPIKey + 1]atomic.Pointer[Request]
	FetchConsumer *Request
}

// Get returns the Request of an API key, creating it; nil for a key beyond MaxAPIKey.
func (rs *Requests) Get(key int16) *Request {
	if rs == nil || key < 0 || int(key) > MaxAPIKey {
		return nil
	}
	if r := rs.byKey[key].Load(); r != nil {
		return r
	}
	r := &Request{Name: rs.name(key)}
	if rs.byKey[key].CompareAndSwap(nil, r) {
		return r
	}
	return rs.byKey[key].Load()
}

// Each calls fn for every request type seen so far.
func (rs *Requests) Each(fn func(*Request)) {
	if rs == nil {
		return
	}
	for i := range rs.byKey {
		if r := rs.byKey[i].Load(); r != nil {
			fn(r)
		}
	}
	if rs.FetchConsumer.Stages[StageTotal].count.Load() > 0 {
		fn(rs.FetchConsumer)
	}
}

// FetchConsumerName is Kafka's RequestMetrics name for fetches from consumers. Kafka records a
// fetch's rate and times under both "Fetch" and FetchConsumer (or FetchFollower, which a single
// broker never receives), its errors under "Fetch" only.
const FetchConsumerName = "FetchConsumer"

// Broker is every counter one broker keeps.
type Broker struct {
	AllTopics     Topic
	Requests      Requests
	Storage       Storage
	Throttles     Throttles
	Authorization Outcomes

	mu        sync.Mutex
	listeners map[string]*Listener
}

// NewBroker makes the counters of a broker; apiName names an API key as Kafka does
// ("Produce", "Fetch", ...).
func NewBroker(apiName func(key int16) string) *Broker {
	b := &Broker{listeners: map[string]*Listener{}}
	b.Requests.name = apiName
	b.Requests.FetchConsumer = &Request{Name: FetchConsumerName}
	return b
}

// Listener returns the counters of a listener, creating them; nil on a nil Broker.
func (b *Broker) Listener(name string) *Listener {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.listeners[name]
	if l == nil {
		l = &Listener{Name: name}
		b.listeners[name] = l
	}
	return l
}

// Listeners returns every listener's counters.
func (b *Broker) Listeners() []*Listener {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*Listener, 0, len(b.listeners))
	for _, l := range b.listeners {
		out = append(out, l)
	}
	return out
}

// NewTopic returns fresh counters for a topic, or nil on a nil Broker (metrics off).
func (b *Broker) NewTopic() *Topic {
	if b == nil {
		return nil
	}
	return new(Topic)
}

// ProduceTally sums one request's produce outcomes for one topic, so the shared counters take
// one add per field per request instead of one per partition.
type ProduceTally struct {
	Parts, Messages, Bytes, Rejected, Failed uint64
}

// Add counts one partition's outcome into the tally.
func (p *ProduceTally) Add(messages, bytes uint64, outcome ProduceOutcome) {
	p.Parts++
	switch outcome {
	case Appended:
		p.Messages += messages
		p.Bytes += bytes
	case RefusedTooLarge:
		p.Rejected += bytes
	case Failed:
		p.Failed++
	}
}

// add applies a tally to a topic's counters.
func (t *Topic) add(p *ProduceTally) {
	if t == nil || p.Parts == 0 {
		return
	}
	t.TotalProduceRequests.Add(p.Parts)
	if p.Messages > 0 {
		t.MessagesIn.Add(p.Messages)
		t.BytesIn.Add(p.Bytes)
	}
	if p.Rejected > 0 {
		t.BytesRejected.Add(p.Rejected)
	}
	if p.Failed > 0 {
		t.FailedProduceRequests.Add(p.Failed)
	}
}

// Produced applies one topic's tally of a produce request to the topic and to all topics.
func (b *Broker) Produced(t *Topic, p *ProduceTally) {
	if b == nil {
		return
	}
	t.add(p)
	b.AllTopics.add(p)
}

// FetchTally sums one fetch response's partitions for one topic.
type FetchTally struct {
	Parts, Bytes, Failed uint64
}

// Fetched applies one topic's tally of a fetch response to the topic and to all topics.
func (b *Broker) Fetched(t *Topic, f *FetchTally) {
	if b == nil || f.Parts == 0 {
		return
	}
	for _, c := range []*Topic{t, &b.AllTopics} {
		if c == nil {
			continue
		}
		c.TotalFetchRequests.Add(f.Parts)
		if f.Bytes > 0 {
			c.BytesOut.Add(f.Bytes)
		}
		if f.Failed > 0 {
			c.FailedFetchRequests.Add(f.Failed)
		}
	}
}

// StorageStats returns the storage counters, nil on a nil Broker.
func (b *Broker) StorageStats() *Storage {
	if b == nil {
		return nil
	}
	return &b.Storage
}

// Throttled counts one throttled response (nil-safe).
func (b *Broker) Throttled(quotaType int, d time.Duration) {
	if b == nil {
		return
	}
	b.Throttles.Throttled(quotaType, d)
}

// Decided counts one authorization decision by engine (nil-safe).
func (b *Broker) Decided(engine string, allowed bool) {
	if b == nil {
		return
	}
	b.Authorization.Count(engine, allowed)
}
