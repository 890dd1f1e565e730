package metrics

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// EMFOptions configure the CloudWatch Embedded Metric Format publisher.
type EMFOptions struct {
	// Namespace is the CloudWatch namespace (AWS/ namespaces are reserved for AWS services).
	Namespace string
	// ClusterName and BrokerID fill MSK's dimensions "Cluster Name" and "Broker ID".
	ClusterName, BrokerID string
	// Level is Default (MSK's basic monitoring) or PerBroker (enhanced, per broker).
	Level Level
	// Interval is how often records are written (default one minute, as MSK publishes).
	Interval time.Duration
	// Write receives each record, one JSON line.
	Write  func(line []byte) error
	Logger *slog.Logger
	Now    func() time.Time
}

// EMF writes a broker's metrics as CloudWatch Embedded Metric Format records under MSK's metric
// and dimension names, so CloudWatch alarms written for MSK carry over once the records reach a
// CloudWatch Logs group (the log-shipping sink takes them there).
type EMF struct {
	g    prometheus.Gatherer
	opts EMFOptions
}

// NewEMF publishes what g gathers (the broker registry of NewRegistry).
func NewEMF(g prometheus.Gatherer, o EMFOptions) *EMF {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Namespace == "" {
		o.Namespace = "Bulwark/Kafka"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &EMF{g: g, opts: o}
}

// Run writes records every Interval until ctx ends.
func (e *EMF) Run(ctx context.Context) {
	t := time.NewTicker(e.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.Publish(); err != nil {
				e.opts.Logger.Error("CloudWatch metrics not written", "err", err)
			}
		}
	}
}

// Publish gathers once and writes the records.
func (e *EMF) Publish() error {
	fams, err := e.g.Gather()
	if err != nil && len(fams) == 0 {
		return err
	}
	for _, line := range BuildEMF(fams, e.opts, e.opts.Now()) {
		if err := e.opts.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// gathered indexes a gather by family name.
type gathered map[string]*dto.MetricFamily

// value returns the value of the family's series whose labels include all of want, summed
// over every such series.
func (g gathered) value(name string, want map[string]string) (float64, bool) {
	f := g[name]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
	for _, m := range f.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		found = true
		switch {
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		}
	}
	return sum, found
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if lp.GetValue() != v {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// labelValues lists the distinct values of a label over a family's series that match want.
func (g gathered) labelValues(name, label string, want map[string]string) []string {
	seen := map[string]bool{}
	for _, m := range g[name].GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && lp.GetValue() != "" {
				seen[lp.GetValue()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// emfMetric is one metric of a record: MSK's name, its unit, and where its value comes from.
type emfMetric struct {
	name, unit string
	family     string
	labels     map[string]string
}

// emfRecord is one EMF line: dimension values and the metrics under them.
type emfRecord struct {
	dims    [][2]string
	metrics []emfMetric
}

// The metrics MSK publishes, by level and dimensions, with the families they are read from.
var (
	emfCluster = []emfMetric{
		{"ActiveControllerCount", "Count", "kafka_controller_KafkaController_Value", map[string]string{"name": "ActiveControllerCount"}},
		{"GlobalPartitionCount", "Count", "kafka_controller_KafkaController_Value", map[string]string{"name": "GlobalPartitionCount"}},
		{"GlobalTopicCount", "Count", "kafka_controller_KafkaController_Value", map[string]string{"name": "GlobalTopicCount"}},
		{"OfflinePartitionsCount", "Count", "kafka_controller_KafkaController_Value", map[string]string{"name": "OfflinePartitionsCount"}},
	}
	emfBroker = []emfMetric{
		{"BytesInPerSec", "Bytes/Second", "kafka_server_BrokerTopicMetrics_OneMinuteRate", map[string]string{"name": "BytesInPerSec", "topic": ""}},
		{"BytesOutPerSec", "Bytes/Second", "kafka_server_BrokerTopicMetrics_OneMinuteRate", map[string]string{"name": "BytesOutPerSec", "topic": ""}},
		{"MessagesInPerSec", "Count/Second", "kafka_server_BrokerTopicMetrics_OneMinuteRate", map[string]string{"name": "MessagesInPerSec", "topic": ""}},
		{"PartitionCount", "Count", "kafka_server_ReplicaManager_Value", map[string]string{"name": "PartitionCount"}},
		{"LeaderCount", "Count", "kafka_server_ReplicaManager_Value", map[string]string{"name": "LeaderCount"}},
		{"UnderReplicatedPartitions", "Count", "kafka_server_ReplicaManager_Value", map[string]string{"name": "UnderReplicatedPartitions"}},
		{"UnderMinIsrPartitionCount", "Count", "kafka_server_ReplicaManager_Value", map[string]string{"name": "UnderMinIsrPartitionCount"}},
		{"ConnectionCount", "Count", "kafka_server_socket_server_metrics_connection_count", map[string]string{}},
		{"ProduceTotalTimeMsMean", "Milliseconds", "kafka_network_RequestMetrics_Mean", map[string]string{"name": "TotalTimeMs", "request": "Produce"}},
		{"FetchConsumerTotalTimeMsMean", "Milliseconds", "kafka_network_RequestMetrics_Mean", map[string]string{"name": "TotalTimeMs", "request": "FetchConsumer"}},
	}
	emfTopic = []emfMetric{
		{"BytesInPerSec", "Bytes/Second", "kafka_server_BrokerTopicMetrics_OneMinuteRate", map[string]string{"name": "BytesInPerSec"}},
		{"BytesOutPerSec", "Bytes/Second", "kafka_server_BrokerTopicMetrics_OneMinuteRate", map[string]string{"name": "BytesOutPerSec"}},
	}
	emfLag = []emfMetric{
		{"SumOffsetLag", "Count", "kafka_consumer_group_ConsumerLagMetrics_Value", map[string]string{"name": "SumOffsetLag"}},
		{"MaxOffsetLag", "Count", "kafka_consumer_group_ConsumerLagMetrics_Value", map[string]string{"name": "MaxOffsetLag"}},
		{"EstimatedMaxTimeLag", "Seconds", "kafka_consumer_group_ConsumerLagMetrics_Value", map[string]string{"name": "EstimatedMaxTimeLag"}},
	}
)

// emfPerBroker are PER_BROKER's additions: the request time breakdown and connection rates.
func emfPerBroker() []emfMetric {
	var out []emfMetric
	for _, req := range []string{"Produce", "FetchConsumer"} {
		for _, st := range []string{"RequestQueueTimeMs", "LocalTimeMs", "ResponseQueueTimeMs", "ResponseSendTimeMs"} {
			out = append(out, emfMetric{req + st + "Mean", "Milliseconds", "kafka_network_RequestMetrics_Mean", map[string]string{"name": st, "request": req}})
		}
	}
	return append(out,
		emfMetric{"ConnectionCreationRate", "Count/Second", "kafka_server_socket_server_metrics_connection_creation_rate", map[string]string{}},
		emfMetric{"ConnectionCloseRate", "Count/Second", "kafka_server_socket_server_metrics_connection_close_rate", map[string]string{}},
		emfMetric{"ProduceThrottleTime", "Milliseconds", "kafka_network_RequestMetrics_Mean", map[string]string{"name": "ThrottleTimeMs", "request": "Produce"}},
		emfMetric{"FetchThrottleTime", "Milliseconds", "kafka_network_RequestMetrics_Mean", map[string]string{"name": "ThrottleTimeMs", "request": "Fetch"}},
	)
}

// BuildEMF turns one gather into EMF lines: one per dimension set (cluster; broker; each topic;
// each consumer group and topic), each with MSK's metric names and units.
func BuildEMF(fams []*dto.MetricFamily, o EMFOptions, now time.Time) [][]byte {
	g := gathered{}
	for _, f := range fams {
		g[f.GetName()] = f
	}
	cluster := [2]string{"Cluster Name", o.ClusterName}
	broker := [2]string{"Broker ID", o.BrokerID}
	brokerMetrics := emfBroker
	if o.Level >= PerBroker {
		brokerMetrics = append(append([]emfMetric(nil), emfBroker...), emfPerBroker()...)
	}
	recs := []emfRecord{
		{dims: [][2]string{cluster}, metrics: emfCluster},
		{dims: [][2]string{cluster, broker}, metrics: brokerMetrics},
	}
	for _, topic := range g.labelValues("kafka_server_BrokerTopicMetrics_OneMinuteRate", "topic", map[string]string{"name": "BytesInPerSec"}) {
		recs = append(recs, emfRecord{dims: [][2]string{cluster, broker, {"Topic", topic}}, metrics: withLabel(emfTopic, "topic", topic)})
	}
	lag := "kafka_consumer_group_ConsumerLagMetrics_Value"
	for _, group := range g.labelValues(lag, "groupId", map[string]string{"name": "SumOffsetLag"}) {
		for _, topic := range g.labelValues(lag, "topic", map[string]string{"name": "SumOffsetLag", "groupId": group}) {
			recs = append(recs, emfRecord{dims: [][2]string{cluster, {"Consumer Group", group}, {"Topic", topic}},
				metrics: withLabel(withLabel(emfLag, "groupId", group), "topic", topic)})
		}
	}
	var out [][]byte
	for _, r := range recs {
		if line := r.encode(g, o.Namespace, now); line != nil {
			out = append(out, line)
		}
	}
	return out
}

// withLabel returns the metrics with one more label to match.
func withLabel(ms []emfMetric, k, v string) []emfMetric {
	out := make([]emfMetric, len(ms))
	for i, m := range ms {
		labels := map[string]string{k: v}
		for lk, lv := range m.labels {
			labels[lk] = lv
		}
		m.labels = labels
		out[i] = m
	}
	return out
}

// encode writes the record as EMF JSON: the _aws metadata naming the namespace, the one
// dimension set and each metric with its unit, then the dimension values and metric values as
// top-level members. Metrics without a value this minute are left out; a record without any is
// not written.
func (r emfRecord) encode(g gathered, namespace string, now time.Time) []byte {
	type metricDef struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	doc := map[string]any{}
	var defs []metricDef
	for _, m := range r.metrics {
		v, ok := g.value(m.family, m.labels)
		if !ok {
			continue
		}
		defs = append(defs, metricDef{m.name, m.unit})
		doc[m.name] = v
	}
	if len(defs) == 0 {
		return nil
	}
	dims := make([]string, len(r.dims))
	for i, d := range r.dims {
		dims[i] = d[0]
		doc[d[0]] = d[1]
	}
	doc["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  namespace,
			"Dimensions": [][]string{dims},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil
	}
	return b
}
