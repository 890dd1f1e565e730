package quota

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Config sets how rates are measured.
type Config struct {
	// WindowNum and WindowSize are quota.window.num (11) and quota.window.size.seconds (1 s).
	WindowNum  int
	WindowSize time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Client identifies who a request counts against: the principal's name (Kafka's quota "user") and
// the request's client id.
type Client struct {
	User     string
	ClientID string
}

// sensorIdle is how long an unused measurement is kept (Kafka expires quota sensors after an hour
// of inactivity), and sweepEvery how often idle ones are looked for.
const (
	sensorIdle = time.Hour
	sweepEvery = time.Minute
	// maxResolved bounds the resolution cache; past it the cache starts again, so a client
	// cycling through client ids cannot grow it without limit.
	maxResolved = 100000
)

// table is the quota configuration in force, replaced whole by SetQuotas.
type table struct {
	byEntity map[string]map[string]float64 // Entity.Key() -> quota key -> value
	has      map[string]bool               // quota key -> set on some entity
	any      bool                          // some quota is set
}

// userClientKeys are the user/client-id quota keys, indexed for the resolution cache.
var userClientKeys = [...]string{ProducerByteRate, ConsumerByteRate, RequestPercentage, ControllerMutationRate}

// bound is one resolved quota: its value and what measures the clients sharing it (a sensor,
// or for controller mutations a token bucket).
type bound struct {
	limit  float64
	sensor *sensor
	bucket *tokenBucket
}

// resolution is a client's resolved user/client-id quotas (nil entries: no quota).
type resolution [len(userClientKeys)]*bound

// Manager measures clients against their quotas and computes throttle times.
type Manager struct {
	cfg   Config
	table atomic.Pointer[table]

	mu        sync.Mutex
	sensors   map[string]*sensor
	buckets   map[string]*tokenBucket
	resolved  map[Client]*resolution
	resolvdOf *table
	lastSweep time.Time
}

// NewManager returns a Manager with no quotas.
func NewManager(cfg Config) *Manager {
	if cfg.WindowNum < 2 {
		cfg.WindowNum = 11
	}
	if cfg.WindowSize <= 0 {
		cfg.WindowSize = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{cfg: cfg, sensors: map[string]*sensor{}, buckets: map[string]*tokenBucket{}, resolved: map[Client]*resolution{}}
	m.table.Store(&table{})
	return m
}

// SetQuotas replaces the quotas in force: entity key (Entity.Key) -> quota key -> value.
// Measurements carry over, so changing a quota does not forgive a client's recent traffic.
func (m *Manager) SetQuotas(quotas map[string]map[string]float64) {
	t := &table{byEntity: quotas, has: map[string]bool{}}
	for _, values := range quotas {
		for k := range values {
			t.has[k], t.any = true, true
		}
	}
	m.table.Store(t)
}

// Enabled reports whether any quota is set; with none, the broker skips the measurements.
func (m *Manager) Enabled() bool { return m.table.Load().any }

// Produce records a produce request's size against the client's producer_byte_rate and returns
// how long to throttle it.
func (m *Manager) Produce(c Client, bytes int) time.Duration {
	return m.recordClient(c, 0, float64(bytes))
}

// Fetch records a fetch response's size against consumer_byte_rate. A throttled fetch is
// answered empty (as Kafka does), so when it returns a throttle time the bytes are taken back.
func (m *Manager) Fetch(c Client, bytes int) time.Duration {
	t := m.table.Load()
	if !t.has[ConsumerByteRate] {
		return 0
	}
	b := m.resolve(c, t)[1]
	if b == nil {
		return 0
	}
	rate, window := b.sensor.recordAndMeasure(float64(bytes), m.cfg.Now(), m.cfg.WindowSize)
	d := throttleFor(rate, b.limit, window, maxThrottle)
	if d > 0 {
		b.sensor.unrecord(float64(bytes))
	}
	return d
}

// UnrecordFetch takes back a fetch response's bytes that Fetch counted but that will not be
// sent (the request quota throttled the fetch, so it is answered empty).
func (m *Manager) UnrecordFetch(c Client, bytes int) {
	t := m.table.Load()
	if !t.has[ConsumerByteRate] {
		return
	}
	if b := m.resolve(c, t)[1]; b != nil {
		b.sensor.unrecord(float64(bytes))
	}
}

// FetchMaxBytes is the most a fetch may return to the client under its consumer_byte_rate:
// what the quota allows over all but one window (Kafka's getMaxValueInQuotaWindow), so a fetch
// sized to the client's max_bytes is not over the quota by itself and answered empty for ever.
// It returns -1 when no consumer quota applies.
func (m *Manager) FetchMaxBytes(c Client) int64 {
	t := m.table.Load()
	if !t.has[ConsumerByteRate] {
		return -1
	}
	b := m.resolve(c, t)[1]
	if b == nil {
		return -1
	}
	v := b.limit * float64(m.cfg.WindowNum-1) * m.cfg.WindowSize.Seconds()
	return int64(min(v, float64(1<<62)))
}

// RequestTime records time spent handling a request against request_percentage (100 is one
// handler thread busy all the time). As in Kafka, this throttle is at most one window.
func (m *Manager) RequestTime(c Client, d time.Duration) time.Duration {
	return m.recordClient(c, 2, d.Seconds()*100)
}

// RequestThrottled returns, without recording, the throttle the client's request_percentage
// currently calls for (a fetch answered while it holds is answered empty).
func (m *Manager) RequestThrottled(c Client) time.Duration {
	t := m.table.Load()
	if !t.has[RequestPercentage] {
		return 0
	}
	b := m.resolve(c, t)[2]
	if b == nil {
		return 0
	}
	rate, window := b.sensor.measure(m.cfg.Now(), m.cfg.WindowSize)
	return throttleFor(rate, b.limit, window, m.cfg.WindowSize)
}

// Mutations takes n partitions created or deleted from the client's controller_mutation_rate
// bucket and returns the throttle once the bucket is in deficit (KIP-599).
func (m *Manager) Mutations(c Client, n int) time.Duration {
	t := m.table.Load()
	if !t.has[ControllerMutationRate] {
		return 0
	}
	b := m.resolve(c, t)[3]
	if b == nil {
		return 0
	}
	return b.bucket.take(float64(n), b.limit, m.mutationBurst(b.limit), m.cfg.Now())
}

// mutationBurst is the bucket's capacity: the quota over the whole ring (KIP-599).
func (m *Manager) mutationBurst(limit float64) float64 {
	return limit * m.ringSpan().Seconds()
}

// MutationThrottled reports, without recording, whether the client is already over its
// controller_mutation_rate: strict-mode requests (KIP-599) are then refused with
// THROTTLING_QUOTA_EXCEEDED and told how long to wait.
func (m *Manager) MutationThrottled(c Client) (time.Duration, bool) {
	t := m.table.Load()
	if !t.has[ControllerMutationRate] {
		return 0, false
	}
	b := m.resolve(c, t)[3]
	if b == nil {
		return 0, false
	}
	d := b.bucket.deficit(b.limit, m.mutationBurst(b.limit), m.cfg.Now())
	return d, d > 0
}

// Connection records a new connection from ip against connection_creation_rate (the ip's own
// quota, else the default ip quota) and returns how long the connection must be held before it
// is closed; 0 means it is accepted.
func (m *Manager) Connection(ip netip.Addr) time.Duration {
	t := m.table.Load()
	if !t.has[ConnectionCreationRate] {
		return 0
	}
	name := ip.Unmap().String()
	limit, ok := t.byEntity[Entity{IP: &name}.Key()][ConnectionCreationRate]
	if !ok {
		if limit, ok = t.byEntity[Entity{IP: nil}.Key()][ConnectionCreationRate]; !ok {
			return 0
		}
	}
	s := m.sensor(ConnectionCreationRate + "|ip=" + name)
	rate, window := s.recordAndMeasure(1, m.cfg.Now(), m.cfg.WindowSize)
	d := throttleFor(rate, limit, window, maxThrottle)
	if d > 0 {
		s.unrecord(1) // a refused connection does not count (KIP-612)
	}
	return d
}

func (m *Manager) recordClient(c Client, i int, v float64) time.Duration {
	t := m.table.Load()
	if !t.has[userClientKeys[i]] {
		return 0
	}
	b := m.resolve(c, t)[i]
	if b == nil {
		return 0
	}
	rate, window := b.sensor.recordAndMeasure(v, m.cfg.Now(), m.cfg.WindowSize)
	limit := maxThrottle
	if i == 2 {
		limit = m.cfg.WindowSize // Kafka caps the request-time throttle at one window
	}
	return throttleFor(rate, b.limit, window, limit)
}

// ringSpan is the whole measurement ring.
func (m *Manager) ringSpan() time.Duration {
	return m.cfg.WindowSize * time.Duration(m.cfg.WindowNum)
}

// resolve finds the client's quotas in t, caching the answer until the table changes.
func (m *Manager) resolve(c Client, t *table) *resolution {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.resolvdOf != t || len(m.resolved) >= maxResolved {
		m.resolved, m.resolvdOf = map[Client]*resolution{}, t
	}
	if r, ok := m.resolved[c]; ok {
		return r
	}
	r := &resolution{}
	levels := precedence(c)
	for i, key := range userClientKeys {
		if !t.has[key] {
			continue
		}
		for _, lv := range levels {
			limit, ok := t.byEntity[lv.entity][key]
			if !ok {
				continue
			}
			if key == ControllerMutationRate {
				r[i] = &bound{limit: limit, bucket: m.bucketLocked(key + "|" + lv.bucket)}
			} else {
				r[i] = &bound{limit: limit, sensor: m.sensorLocked(key + "|" + lv.bucket)}
			}
			break
		}
	}
	m.resolved[c] = r
	return r
}

// level is one step of the precedence order: the entity looked up and the measurement bucket a
// match there shares.
type level struct {
	entity string
	bucket string
}

// precedence lists, for a client, the entities Kafka consults in order, each with its bucket:
// the matched entity's types, filled with the client's actual names.
func precedence(c Client) []level {
	u, id := c.User, c.ClientID
	ub := "user=" + Entity{User: &u}.Key()
	cb := "client=" + Entity{ClientID: &id}.Key()
	uc := ub + "," + cb
	return []level{
		{Entity{User: &u, ClientID: &id}.Key(), uc},
		{Entity{User: &u, ClientID: nil}.Key(), uc},
		{Entity{User: &u}.Key(), ub},
		{Entity{User: nil, ClientID: &id}.Key(), uc},
		{Entity{User: nil, ClientID: nil}.Key(), uc},
		{Entity{User: nil}.Key(), ub},
		{Entity{ClientID: &id}.Key(), cb},
		{Entity{ClientID: nil}.Key(), cb},
	}
}

func (m *Manager) sensor(key string) *sensor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sensorLocked(key)
}

// sweepLocked drops measurements idle for sensorIdle, at most once per sweepEvery. Callers
// hold mu.
func (m *Manager) sweepLocked(now time.Time) {
	if now.Sub(m.lastSweep) < sweepEvery {
		return
	}
	m.lastSweep = now
	for k, s := range m.sensors {
		s.mu.Lock()
		idle := now.Sub(s.lastUsed) >= sensorIdle
		s.mu.Unlock()
		if idle {
			delete(m.sensors, k)
		}
	}
	for k, b := range m.buckets {
		b.mu.Lock()
		idle := now.Sub(b.lastUsed) >= sensorIdle
		b.mu.Unlock()
		if idle {
			delete(m.buckets, k)
		}
	}
	// Resolutions may point at swept measurements; they are rebuilt on next use.
	m.resolved = map[Client]*resolution{}
}

// bucketLocked finds or creates a token bucket. Callers hold mu.
func (m *Manager) bucketLocked(key string) *tokenBucket {
	now := m.cfg.Now()
	m.sweepLocked(now)
	b, ok := m.buckets[key]
	if !ok {
		b = &tokenBucket{lastUsed: now}
		m.buckets[key] = b
	}
	return b
}

// sensorLocked finds or creates a sensor. Callers hold mu.
func (m *Manager) sensorLocked(key string) *sensor {
	now := m.cfg.Now()
	m.sweepLocked(now)
	s, ok := m.sensors[key]
	if !ok {
		s = newSensor(m.cfg.WindowNum, now)
		m.sensors[key] = s
	}
	return s
}
