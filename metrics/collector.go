package metrics

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// Options configure a Collector.
type Options struct {
	// Level returns the level in force; it is asked at every scrape, so a dynamic change of
	// bulwark.metrics.level applies to the next one. Nil: Default.
	Level func() Level
	// OPA returns the OPA engine's counters (nil when OPA is not the authorizer).
	OPA func() OPAStats
	// Hooks returns the broker's hook registrations' counters (nil: not reported).
	Hooks func() []hook.Stats
	// AuditRecords returns how many records the audit trail holds (its last sequence number;
	// nil: the trail is off).
	AuditRecords func() uint64
	// Shipping returns every log shipper's counters (nil: nothing is shipped).
	Shipping func() []ShippingStats
	// Now is the clock (tests); nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// ShippingStats are one shipper's counters: a stream delivered to a sink.
type ShippingStats struct {
	Stream, Sink string
	Sent, Failed uint64
	// Pending is how many records of the stream the sink has yet to receive.
	Pending uint64
}

// OPAStats are the OPA engine's decision counters.
type OPAStats struct {
	CacheHits, CacheMisses, Errors uint64
	CacheEntries                   int
}

// Collector is a prometheus.Collector serving a broker's metrics: Kafka's under the JMX
// exporter's names and Bulwark's own. It reads the broker's counters and views at scrape time
// and holds the rate and window state between scrapes; Run keeps that state current.
type Collector struct {
	src   stats.Source
	opts  Options
	rates *rates
	descs descCache
	own   *ownFamilies
	lag   lagCache
	// rebalances mirror the coordinator's counts so they can be metered like any counter.
	rebalances [2]atomic.Uint64
	scrapeMu   sync.Mutex
}

var _ prometheus.Collector = (*Collector)(nil)

// New makes a collector over a broker's source (a *broker.Server built WithStats).
func New(src stats.Source, opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Level == nil {
		opts.Level = func() Level { return Default }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Collector{src: src, opts: opts, rates: newRates(opts.Now), own: newOwnFamilies()}
	c.descs.constLabels = identity(src)
	return c
}

// Describe sends nothing: the collector is unchecked, since its series depend on the level and
// on the topics and groups of the moment.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect builds one scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.scrapeMu.Lock() // concurrent scrapes share the lag cache; one at a time is plenty
	defer c.scrapeMu.Unlock()
	e := &emitter{ch: ch, descs: &c.descs}
	level := c.opts.Level()
	b := c.src.Counters()
	if b == nil {
		return // a broker built without stats.Broker counts nothing
	}
	ends := c.topicMetrics(e, level)
	c.brokerTopicMetrics(e, "", &b.AllTopics, false)
	c.requestMetrics(e, level, b)
	c.socketServerMetrics(e, level, b)
	groups := c.src.Groups()
	c.lagMetrics(e, level, groups, ends)
	if level >= PerBroker {
		c.groupCoordinatorMetrics(e, groups)
	}
	c.ownMetrics(e, level, b, ends)
}

// partitionKey names a partition in maps.
type partitionKey struct {
	topic     string
	partition int32
}

// scrapeTopics is what one walk of the topics yields for the other families.
type scrapeTopics struct {
	end      map[partitionKey]int64
	dirBytes map[string]int64
	dirParts map[string]int
}

// topicMetrics walks the topics once: the controller and replica-manager gauges, per-topic
// meters and per-partition Log gauges as the level allows, and the end offsets the lag needs.
func (c *Collector) topicMetrics(e *emitter, level Level) scrapeTopics {
	out := scrapeTopics{end: map[partitionKey]int64{}, dirBytes: map[string]int64{}, dirParts: map[string]int{}}
	topics, partitions, underMinISR := 0, 0, 0
	c.src.Topics(func(t *stats.TopicView) {
		topics++
		partitions += len(t.Partitions)
		if t.MinInSyncReplicas > 1 {
			underMinISR += len(t.Partitions) // one in-sync replica each
		}
		if t.Counters != nil {
			c.brokerTopicMetrics(e, t.Name, t.Counters, level < PerTopicPerBroker)
		}
		for _, p := range t.Partitions {
			out.end[partitionKey{t.Name, p.Index}] = p.EndOffset
			out.dirBytes[p.Dir] += p.Size
			out.dirParts[p.Dir]++
			if level >= PerTopicPerPartition {
				idx := strconv.Itoa(int(p.Index))
				e.emit(logValue, float64(p.Size), "Size", t.Name, idx)
				e.emit(logValue, float64(p.Segments), "NumLogSegments", t.Name, idx)
				e.emit(logValue, float64(p.StartOffset), "LogStartOffset", t.Name, idx)
				e.emit(logValue, float64(p.EndOffset), "LogEndOffset", t.Name, idx)
			}
		}
	})
	// A single broker is the active controller and leads every partition, each with one
	// replica that is always in sync.
	e.emit(controllerValue, 1, "ActiveControllerCount")
	e.emit(controllerValue, float64(topics), "GlobalTopicCount")
	e.emit(controllerValue, float64(partitions), "GlobalPartitionCount")
	e.emit(controllerValue, 0, "OfflinePartitionsCount")
	e.emit(controllerValue, 0, "PreferredReplicaImbalanceCount")
	e.emit(replicaValue, float64(partitions), "PartitionCount")
	e.emit(replicaValue, float64(partitions), "LeaderCount")
	e.emit(replicaValue, 0, "UnderReplicatedPartitions")
	e.emit(replicaValue, float64(underMinISR), "UnderMinIsrPartitionCount")
	e.emit(replicaValue, float64(partitions-underMinISR), "AtMinIsrPartitionCount")
	e.emit(replicaValue, 0, "OfflineReplicaCount")
	e.emit(serverValue, 3, "BrokerState") // RUNNING
	e.emit(logManagerValue, 0, "OfflineLogDirectoryCount")
	return out
}

// Run keeps meter rates and histogram windows current until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.rates.update(c)
		}
	}
}

// walk implements walker: every counter and histogram the collector meters.
func (c *Collector) walk(counter func(*atomic.Uint64), histogram func(*stats.Histogram)) {
	b := c.src.Counters()
	if b == nil {
		return
	}
	meters := func(t *stats.Topic) {
		for _, m := range topicMeters(t) {
			counter(m.c)
		}
	}
	meters(&b.AllTopics)
	c.src.TopicCounters(func(_ string, t *stats.Topic) {
		if t != nil {
			meters(t)
		}
	})
	b.Requests.Each(func(r *stats.Request) {
		for v := range r.Versions {
			if r.Versions[v].Load() > 0 {
				counter(&r.Versions[v])
			}
		}
		r.EachError(func(_ int16, n *atomic.Uint64) { counter(n) })
		for st := range r.Stages {
			histogram(&r.Stages[st])
		}
	})
	for _, l := range b.Listeners() {
		for _, n := range []*atomic.Uint64{&l.Created, &l.Closed, &l.AuthSucceeded, &l.AuthFailed, &l.ReauthSucceeded, &l.ReauthFailed} {
			counter(n)
		}
	}
	cl, co := c.src.Rebalances()
	c.rebalances[0].Store(cl)
	c.rebalances[1].Store(co)
	counter(&c.rebalances[0])
	counter(&c.rebalances[1])
}

// sortedKeys returns a map's keys in order, so scrapes list series stably.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
