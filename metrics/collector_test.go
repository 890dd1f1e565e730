package metrics

import (
	"bytes"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// TestSeriesGrowWithTheLevel checks the cardinality each level promises on a broker of 10
// topics × 10 partitions and 3 groups: per-topic series appear at PER_TOPIC_PER_BROKER, and
// per-partition ones only at PER_TOPIC_PER_PARTITION.
func TestSeriesGrowWithTheLevel(t *testing.T) {
	src := newFakeSource(10, 10, 3)
	counts := map[Level]int{}
	for _, level := range []Level{Default, PerBroker, PerTopicPerBroker, PerTopicPerPartition} {
		c := New(src, Options{Level: func() Level { return level }})
		n, err := seriesCount(NewRegistry(src, c))
		if err != nil {
			t.Fatalf("%v: %v", level, err)
		}
		counts[level] = n
	}
	if !(counts[Default] < counts[PerBroker] && counts[PerBroker] < counts[PerTopicPerBroker] && counts[PerTopicPerBroker] < counts[PerTopicPerPartition]) {
		t.Fatalf("series per level do not grow: %v", counts)
	}
	// DEFAULT already has BytesIn and BytesOut per topic (as MSK's DEFAULT level); the other six
	// meters × 5 attributes × 10 topics come at PER_TOPIC_PER_BROKER.
	if d := counts[PerTopicPerBroker] - counts[PerBroker]; d != 10*6*5 {
		t.Errorf("PER_TOPIC_PER_BROKER adds %d series, want %d", d, 10*6*5)
	}
	// 100 partitions × 4 Log gauges, and 3 groups × 10 partitions × (OffsetLag, EstimatedTimeLag).
	if d := counts[PerTopicPerPartition] - counts[PerTopicPerBroker]; d != 100*4+3*10*2 {
		t.Errorf("PER_TOPIC_PER_PARTITION adds %d series, want %d", d, 100*4+3*10*2)
	}
}

// TestExpositionIsValidText writes the scrape in Prometheus's text format and parses it back:
// every family has HELP and TYPE and the JMX-style families are untyped, as the JMX exporter
// declares them.
func TestExpositionIsValidText(t *testing.T) {
	src := newFakeSource(3, 3, 1)
	reg := NewRegistry(src, New(src, Options{Level: func() Level { return PerTopicPerPartition }}))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", f.GetName())
		}
		if name := f.GetName(); len(name) > 6 && name[:6] == "kafka_" && f.GetType().String() != "UNTYPED" {
			t.Errorf("%s is %v, want untyped like the JMX exporter", name, f.GetType())
		}
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := p.TextToMetricFamilies(&buf); err != nil {
		t.Fatalf("scrape does not parse back: %v", err)
	}
}

// TestMeterRatesFollowYammer drives a counter at 10 events a second for ten minutes of ticks:
// the one-minute rate converges to 10, and the mean rate is the count over the elapsed time.
func TestMeterRatesFollowYammer(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := newRates(func() time.Time { return now })
	var c atomic.Uint64
	w := walkerFunc(func(counter func(*atomic.Uint64), _ func(*stats.Histogram)) { counter(&c) })
	r.read(&c) // the meter exists from here
	for i := 0; i < 120; i++ {
		c.Add(50)
		now = now.Add(tickInterval)
		r.update(w)
	}
	v := r.read(&c)
	if math.Abs(v.OneMinute-10) > 0.01 || math.Abs(v.FiveMinute-10) > 0.5 || v.Count != 6000 {
		t.Errorf("rates %+v, want one-minute 10/s", v)
	}
	if math.Abs(v.MeanRate-10) > 0.01 {
		t.Errorf("mean rate %v, want 10", v.MeanRate)
	}
	// The counter stops: the one-minute rate decays to almost nothing within five minutes.
	for i := 0; i < 60; i++ {
		now = now.Add(tickInterval)
		r.update(w)
	}
	if v := r.read(&c); v.OneMinute > 0.1 {
		t.Errorf("one-minute rate %v five minutes after the counter stopped", v.OneMinute)
	}
}

// TestHistogramWindowForgetsOldRequests: slow requests long ago do not colour today's
// percentiles once the window has moved past them.
func TestHistogramWindowForgetsOldRequests(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := newRates(func() time.Time { return now })
	var h stats.Histogram
	w := walkerFunc(func(_ func(*atomic.Uint64), hist func(*stats.Histogram)) { hist(&h) })
	for i := 0; i < 100; i++ {
		h.ObserveDuration(time.Second)
	}
	if s, n := r.summary(&h, []float64{0.99}); n != 100 || s.Quantiles[0] < 900_000 {
		t.Fatalf("before the window moves: p99 %v µs, count %d", s.Quantiles[0], n)
	}
	for i := 0; i < 60; i++ { // five minutes of ticks with fast requests only
		h.ObserveDuration(time.Millisecond)
		now = now.Add(tickInterval)
		r.update(w)
	}
	s, n := r.summary(&h, []float64{0.99})
	if n != 160 || s.Quantiles[0] > 1200 || s.Max > 1200 {
		t.Errorf("after the window moved: p99 %v µs, max %v, count %d; want about 1000 µs", s.Quantiles[0], s.Max, n)
	}
}

// TestDeletedTopicsAreForgotten: the tracker drops the state of counters it no longer finds.
func TestDeletedTopicsAreForgotten(t *testing.T) {
	src := newFakeSource(5, 1, 0)
	c := New(src, Options{})
	c.rates.update(c)
	before := len(c.rates.meters)
	src.topics = src.topics[:1]
	c.rates.update(c)
	c.rates.update(c)
	if after := len(c.rates.meters); after != before-4*8 {
		t.Errorf("meters %d → %d, want 32 fewer", before, after)
	}
}

// TestNativeHistogramBoundsAreInclusive: one fsync that made one append durable is counted at
// le="1" of the group-commit histogram (bounds are "at most").
func TestNativeHistogramBoundsAreInclusive(t *testing.T) {
	src := newFakeSource(1, 1, 0)
	src.counters.Storage.Synced(63*time.Microsecond, 1, nil)
	src.counters.Storage.Synced(time.Millisecond, 7, nil)
	reg := NewRegistry(src, New(src, Options{}))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[float64]uint64{
		"bulwark_log_group_commit_appends":   {1: 1, 3: 1, 7: 2},
		"bulwark_log_fsync_duration_seconds": {63e-6: 1, 127e-6: 1, 1023e-6: 2},
	}
	for _, f := range fams {
		w, ok := want[f.GetName()]
		if !ok {
			continue
		}
		delete(want, f.GetName())
		for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
			if n, ok := w[b.GetUpperBound()]; ok && b.GetCumulativeCount() != n {
				t.Errorf("%s le=%v: %d, want %d", f.GetName(), b.GetUpperBound(), b.GetCumulativeCount(), n)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("missing histograms %v", want)
	}
}

// TestLabelValuesAreRepaired: a group id that is not valid UTF-8 (any bytes a client sent)
// neither breaks the scrape nor drops the families after it.
func TestLabelValuesAreRepaired(t *testing.T) {
	src := newFakeSource(1, 1, 1)
	src.groups[0].ID = "bad\xff\xfegroup"
	reg := NewRegistry(src, New(src, Options{}))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var lag, level bool
	for _, f := range fams {
		switch f.GetName() {
		case "kafka_consumer_group_ConsumerLagMetrics_Value":
			lag = true
		case "bulwark_metrics_level":
			level = true
		}
	}
	if !lag || !level {
		t.Errorf("lag present %v, later families present %v", lag, level)
	}
}

// TestSocketServerAndLogDirFigures: re-authentications count apart from first logins, as in
// Kafka's Selector, and a relative log.dirs entry ("./data/") still finds its partitions.
func TestSocketServerAndLogDirFigures(t *testing.T) {
	src := newFakeSource(2, 3, 0)
	for i := range src.topics {
		for j := range src.topics[i].Partitions {
			src.topics[i].Partitions[j].Dir = "data" // filepath.Dir of "data/<topic>-<n>"
		}
	}
	src.dirs = []string{"./data/"}
	l := src.counters.Listener("SASL_SSL")
	l.Authenticated("SCRAM-SHA-512", true, false)
	l.Authenticated("SCRAM-SHA-512", true, true)
	l.Authenticated("SCRAM-SHA-512", false, false)
	reg := NewRegistry(src, New(src, Options{Level: func() Level { return PerBroker }}))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "listener" || lp.GetName() == "dir" || lp.GetName() == "result" {
					key += "," + lp.GetValue()
				}
			}
			got[key] = m.GetUntyped().GetValue() + m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	for k, v := range map[string]float64{
		"kafka_server_socket_server_metrics_successful_authentication_total,SASL_SSL":   1,
		"kafka_server_socket_server_metrics_successful_reauthentication_total,SASL_SSL": 1,
		"kafka_server_socket_server_metrics_failed_authentication_total,SASL_SSL":       1,
		"bulwark_authentication_attempts_total,SASL_SSL,success":                        2,
		"bulwark_log_dir_partitions,./data/":                                            6,
		"bulwark_log_dir_bytes,./data/":                                                 6 << 20,
		"bulwark_log_open_files":                                                        3,
		"bulwark_log_open_files_budget":                                                 100,
		"bulwark_log_file_opens_total":                                                  7,
		"bulwark_log_file_evictions_total":                                              4,
		"bulwark_log_file_open_waits_total":                                             1,
		"bulwark_log_file_eviction_fsyncs_total":                                        2,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

type walkerFunc func(func(*atomic.Uint64), func(*stats.Histogram))

func (f walkerFunc) walk(c func(*atomic.Uint64), h func(*stats.Histogram)) { f(c, h) }

func BenchmarkScrape10kPartitions(b *testing.B) {
	// 100 topics × 100 partitions, 20 groups each committing a whole topic (2,000 offsets).
	src := newFakeSource(100, 100, 20)
	for _, level := range []Level{Default, PerBroker, PerTopicPerBroker, PerTopicPerPartition} {
		b.Run(level.String(), func(b *testing.B) {
			reg := NewRegistry(src, New(src, Options{Level: func() Level { return level }}))
			var buf bytes.Buffer
			var series int
			for b.Loop() {
				fams, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				buf.Reset()
				series = 0
				for _, f := range fams {
					series += len(f.GetMetric())
					if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(series), "series")
			b.ReportMetric(float64(buf.Len()), "bytes")
		})
	}
}
