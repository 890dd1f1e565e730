package metrics

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// emitter builds constant metrics for one scrape. Descriptions are made once per (name, label
// names) and reused across scrapes.
type emitter struct {
	ch    chan<- prometheus.Metric
	descs *descCache
}

type descCache struct {
	mu sync.Mutex
	m  map[string]*prometheus.Desc
	// constLabels (cluster_id, broker_id) are on every series. Putting them in the descriptions,
	// rather than wrapping the registry, spares a description per series at every scrape.
	constLabels prometheus.Labels
}

func (d *descCache) get(name, help string, labels []string) *prometheus.Desc {
	key := name + "\x00" + strings.Join(labels, "\x00")
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]*prometheus.Desc{}
	}
	desc := d.m[key]
	if desc == nil {
		desc = prometheus.NewDesc(name, help, labels, d.constLabels)
		d.m[key] = desc
	}
	return desc
}

// family is a metric name with its fixed label names and help text.
type family struct {
	name   string
	help   string
	labels []string
	kind   prometheus.ValueType
}

// emit sends one series. Label values that are not valid UTF-8 (a consumer group id is any
// byte string a client chose) are repaired rather than allowed to fail the scrape.
func (e *emitter) emit(f *family, v float64, labelValues ...string) {
	for i, lv := range labelValues {
		if !utf8.ValidString(lv) {
			labelValues[i] = strings.ToValidUTF8(lv, "\uFFFD")
		}
	}
	m, err := prometheus.NewConstMetric(e.descs.get(f.name, f.help, f.labels), f.kind, v, labelValues...)
	if err != nil {
		return // cannot happen with the fixed label sets above; never fail the whole scrape
	}
	e.ch <- m
}

// jmx names a family as Kafka's JMX exporter does under MSK's open monitoring: the MBean
// domain, its type and the attribute, untyped, with the MBean's other keys as labels.
func jmx(domain, typ, attribute string, labels ...string) *family {
	return &family{
		name:   domain + "_" + typ + "_" + attribute,
		help:   "Kafka JMX attribute " + attribute + " of " + strings.ReplaceAll(domain, "_", ".") + "<type=" + typ + ">, named as Kafka's JMX exporter names it.",
		labels: labels,
		kind:   prometheus.UntypedValue,
	}
}

// Meter and histogram attributes, as the JMX exporter names Yammer's.
var (
	meterAttrs     = []string{"Count", "MeanRate", "OneMinuteRate", "FiveMinuteRate", "FifteenMinuteRate"}
	histogramAttrs = []string{"Count", "Mean", "Min", "Max", "StdDev",
		"50thPercentile", "75thPercentile", "95thPercentile", "98thPercentile", "99thPercentile", "999thPercentile"}
	histogramQuantiles = []float64{0.5, 0.75, 0.95, 0.98, 0.99, 0.999}
)

// jmxFamilies are every attribute's family of one MBean type.
type jmxFamilies map[string]*family

func newJMX(domain, typ string, attrs []string, labels ...string) jmxFamilies {
	out := jmxFamilies{}
	for _, a := range attrs {
		out[a] = jmx(domain, typ, a, labels...)
	}
	return out
}

func (e *emitter) meter(fs jmxFamilies, v meterValues, labelValues ...string) {
	e.emit(fs["Count"], float64(v.Count), labelValues...)
	e.emit(fs["MeanRate"], v.MeanRate, labelValues...)
	e.emit(fs["OneMinuteRate"], v.OneMinute, labelValues...)
	e.emit(fs["FiveMinuteRate"], v.FiveMinute, labelValues...)
	e.emit(fs["FifteenMinuteRate"], v.FifteenMinute, labelValues...)
}

// ms converts the histograms' microseconds to Kafka's milliseconds.
const ms = 1.0 / 1000

func (e *emitter) histogram(fs jmxFamilies, count uint64, s stats.Summary, scale float64, labelValues ...string) {
	e.emit(fs["Count"], float64(count), labelValues...)
	e.emit(fs["Mean"], s.Mean*scale, labelValues...)
	e.emit(fs["Min"], s.Min*scale, labelValues...)
	e.emit(fs["Max"], s.Max*scale, labelValues...)
	e.emit(fs["StdDev"], s.StdDev*scale, labelValues...)
	for i, a := range histogramAttrs[5:] {
		e.emit(fs[a], s.Quantiles[i]*scale, labelValues...)
	}
}
