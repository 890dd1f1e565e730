package metrics_test

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/stats"
	"github.com/bulwark-kafka/bulwark/metrics"
)

// liveBroker is a real broker on 127.0.0.1:0 counting for metrics, with its registry.
type liveBroker struct {
	srv *broker.Server
	reg *prometheus.Registry
	col *metrics.Collector
}

func startLiveBroker(t *testing.T) *liveBroker {
	t.Helper()
	cfg := config.Default()
	cfg.Listeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 0}}
	cfg.AdvertisedListeners = nil
	cfg.LogDirs = []string{t.TempDir()}
	cfg.GroupInitialRebalanceDelay = 0
	srv, err := broker.New(cfg, broker.WithStats(stats.NewBroker(broker.APIName)),
		broker.WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	col := metrics.New(srv, metrics.Options{Level: func() metrics.Level {
		l, err := metrics.ParseLevel(srv.LiveConfig().MetricsLevel)
		if err != nil {
			t.Errorf("level: %v", err)
		}
		return l
	}, Hooks: srv.HookStats})
	return &liveBroker{srv: srv, reg: metrics.NewRegistry(srv, col), col: col}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (b *liveBroker) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.srv.Addr().String())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// scrape gathers the registry into "family{label=value,...}" → value, leaving out the cluster
// and broker id labels (checked once by TestEverySeriesNamesClusterAndBroker).
func scrape(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "cluster_id" || lp.GetName() == "broker_id" || lp.GetValue() == "" {
					continue
				}
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			sort.Strings(ls)
			out[f.GetName()+"{"+strings.Join(ls, ",")+"}"] = value(f.GetType(), m)
		}
	}
	return out
}

func value(typ dto.MetricType, m *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	default:
		return m.GetUntyped().GetValue()
	}
}

// want fails unless the scrape holds the series with the value.
func want(t *testing.T, got map[string]float64, series string, v float64) {
	t.Helper()
	have, ok := got[series]
	if !ok {
		t.Errorf("no series %s", series)
		return
	}
	if have != v {
		t.Errorf("%s = %v, want %v", series, have, v)
	}
}

// matching counts the series whose key starts with prefix and contains every part.
func matching(got map[string]float64, prefix string, parts ...string) int {
	n := 0
next:
	for k := range got {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(k, p) {
				continue next
			}
		}
		n++
	}
	return n
}

func produce(t *testing.T, cl *kgo.Client, topic string, n int, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Value: []byte(strings.Repeat("x", size))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

func TestBrokerTopicAndRequestMetrics(t *testing.T) {
	b := startLiveBroker(t)
	adm := kadm.NewClient(b.client(t))
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "audit"); err != nil {
		t.Fatal(err)
	}
	produce(t, b.client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner())), "orders", 30, 100)
	produce(t, b.client(t), "audit", 5, 10)

	// A consumer group reads "orders" to the end and commits, then stops: lag 0. Five more
	// records make the stopped group's lag 5.
	cons := b.client(t, kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit())
	read := 0
	for read < 30 {
		fs := cons.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("poll: %v", errs)
		}
		read += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cons.Close()
	produce(t, b.client(t), "orders", 5, 100)
	// The unconsumed records are given an age: time lag is measured from their timestamps.
	time.Sleep(20 * time.Millisecond)

	// The group's commit has the coordinator create __consumer_offsets (50 partitions) in the
	// background; Kafka counts internal topics in these gauges too.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		found := false
		b.srv.Topics(func(v *stats.TopicView) { found = found || v.Name == "__consumer_offsets" })
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("__consumer_offsets was not created")
		}
	}
	got := scrape(t, b.reg)
	want(t, got, `kafka_server_BrokerTopicMetrics_Count{name=MessagesInPerSec}`, 40)
	want(t, got, `kafka_controller_KafkaController_Value{name=GlobalTopicCount}`, 3)
	want(t, got, `kafka_controller_KafkaController_Value{name=GlobalPartitionCount}`, 54)
	want(t, got, `kafka_controller_KafkaController_Value{name=ActiveControllerCount}`, 1)
	want(t, got, `kafka_server_ReplicaManager_Value{name=PartitionCount}`, 54)
	want(t, got, `kafka_server_ReplicaManager_Value{name=UnderReplicatedPartitions}`, 0)
	want(t, got, `kafka_consumer_group_ConsumerLagMetrics_Value{groupId=billing,name=SumOffsetLag,topic=orders}`, 5)
	if v := got[`kafka_consumer_group_ConsumerLagMetrics_Value{groupId=billing,name=MaxOffsetLag,topic=orders}`]; v < 1 || v > 5 {
		t.Errorf("MaxOffsetLag = %v, want 1..5", v)
	}
	if v, ok := got[`kafka_consumer_group_ConsumerLagMetrics_Value{groupId=billing,name=EstimatedMaxTimeLag,topic=orders}`]; !ok || v < 0.02 || v > 60 {
		t.Errorf("EstimatedMaxTimeLag = %v s (present %v), want at least the 20 ms waited and at most a minute", v, ok)
	}
	// Every record went in its own batch (ProduceSync), compressed by franz-go's default: at
	// least a 61-byte batch header each.
	if v := got[`kafka_server_BrokerTopicMetrics_Count{name=BytesInPerSec}`]; v < 40*61 {
		t.Errorf("BytesInPerSec count %v is below 40 batch headers", v)
	}
	if v := got[`kafka_server_BrokerTopicMetrics_Count{name=BytesOutPerSec}`]; v < 30*61 {
		t.Errorf("BytesOutPerSec count %v is below the 30 batches the consumer read", v)
	}
	// DEFAULT: per topic only BytesIn and BytesOut (as MSK's DEFAULT level), no per-partition
	// series; total time for Produce and Fetch only.
	if n := matching(got, "kafka_server_BrokerTopicMetrics_", "topic=", "name=MessagesInPerSec"); n != 0 {
		t.Errorf("DEFAULT level has %d per-topic MessagesInPerSec series", n)
	}
	if n := matching(got, "kafka_server_BrokerTopicMetrics_Count", "topic=orders", "name=BytesInPerSec"); n != 1 {
		t.Errorf("DEFAULT level has %d per-topic BytesInPerSec series for orders", n)
	}
	if n := matching(got, "", "partition="); n != 0 {
		t.Errorf("DEFAULT level has %d per-partition series", n)
	}
	if n := matching(got, "kafka_network_RequestMetrics_Count", "name=TotalTimeMs", "request=Produce"); n != 1 {
		t.Errorf("Produce TotalTimeMs: %d series", n)
	}
	if n := matching(got, "kafka_network_RequestMetrics_", "request=Metadata"); n != 0 {
		t.Errorf("DEFAULT level has %d Metadata RequestMetrics series", n)
	}
	want(t, got, `kafka_network_RequestMetrics_Count{name=TotalTimeMs,request=Produce}`, 40)
	open := got[`kafka_server_socket_server_metrics_connection_count{listener=PLAINTEXT,networkProcessor=0}`]
	if open < 1 {
		t.Error("no open connections counted")
	}
	// PLAINTEXT connections count as authenticated when they are accepted, as in Kafka.
	if ok := got[`kafka_server_socket_server_metrics_successful_authentication_total{listener=PLAINTEXT,networkProcessor=0}`]; ok < open {
		t.Errorf("successful_authentication_total %v below the %v open connections", ok, open)
	}
	// The log directory's bytes are the partitions' (log.dirs is a temporary directory).
	if v := got[`bulwark_log_dir_bytes{dir=`+b.srv.LogDirs()[0]+`}`]; v <= 0 {
		t.Errorf("bulwark_log_dir_bytes = %v", v)
	}
	// The partitions written to opened their files through the cache, within its budget.
	if open, budget := got[`bulwark_log_open_files{}`], got[`bulwark_log_open_files_budget{}`]; open < 1 || budget < open {
		t.Errorf("bulwark_log_open_files = %v with a budget of %v", open, budget)
	}
}

func TestLevelsChangeLabelSets(t *testing.T) {
	b := startLiveBroker(t)
	adm := kadm.NewClient(b.client(t))
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	produce(t, b.client(t), "events", 3, 10)

	setLevel := func(level string) {
		t.Helper()
		rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "bulwark.metrics.level", Value: &level}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Err != nil {
				t.Fatalf("alter bulwark.metrics.level=%s: %v %s", level, r.Err, r.ErrMessage)
			}
		}
	}
	cases := []struct {
		level                            string
		perBrokerRequests, topics, parts bool
	}{
		{"DEFAULT", false, false, false},
		{"PER_BROKER", true, false, false},
		{"PER_TOPIC_PER_BROKER", true, true, false},
		{"PER_TOPIC_PER_PARTITION", true, true, true},
		{"DEFAULT", false, false, false},
	}
	for _, c := range cases {
		setLevel(c.level)
		got := scrape(t, b.reg)
		want(t, got, `bulwark_metrics_level{level=`+c.level+`}`, 1)
		if has := matching(got, "kafka_network_RequestMetrics_Count", "name=RequestsPerSec", "request=Metadata") > 0; has != c.perBrokerRequests {
			t.Errorf("%s: Metadata RequestsPerSec present=%v", c.level, has)
		}
		if has := matching(got, "kafka_server_BrokerTopicMetrics_Count", "topic=events", "name=MessagesInPerSec") > 0; has != c.topics {
			t.Errorf("%s: per-topic BrokerTopicMetrics present=%v", c.level, has)
		}
		if n := matching(got, "", "partition="); (n > 0) != c.parts {
			t.Errorf("%s: %d per-partition series", c.level, n)
		}
		if c.parts {
			end := got[`kafka_log_Log_Value{name=LogEndOffset,partition=0,topic=events}`] + got[`kafka_log_Log_Value{name=LogEndOffset,partition=1,topic=events}`]
			if end != 3 {
				t.Errorf("LogEndOffset over both partitions = %v, want 3", end)
			}
		}
		if c.perBrokerRequests {
			want(t, got, `kafka_network_RequestMetrics_Count{error=NONE,name=ErrorsPerSec,request=Produce}`, 3)
			// Every stage is measured: the total is positive, and no stage of a loopback
			// request took anywhere near a minute.
			if v := got[`kafka_network_RequestMetrics_Mean{name=TotalTimeMs,request=Produce}`]; v <= 0 || v > 60_000 {
				t.Errorf("%s: Produce TotalTimeMs mean %v ms", c.level, v)
			}
			for _, st := range []string{"TotalTimeMs", "RequestQueueTimeMs", "LocalTimeMs", "RemoteTimeMs", "ThrottleTimeMs", "ResponseQueueTimeMs", "ResponseSendTimeMs"} {
				k := `kafka_network_RequestMetrics_Max{name=` + st + `,request=Produce}`
				if v, ok := got[k]; !ok || v < 0 || v > 60_000 {
					t.Errorf("%s: %s = %v (present %v)", c.level, k, v, ok)
				}
			}
		}
		if c.topics {
			want(t, got, `kafka_server_BrokerTopicMetrics_Count{name=MessagesInPerSec,topic=events}`, 3)
		}
	}
}

func TestEverySeriesNamesClusterAndBroker(t *testing.T) {
	b := startLiveBroker(t)
	fams, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var cluster, brokerID string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "cluster_id":
					cluster = lp.GetValue()
				case "broker_id":
					brokerID = lp.GetValue()
				}
			}
			if cluster != b.srv.ClusterID() || brokerID != "1" {
				t.Fatalf("%s: cluster_id=%q broker_id=%q", f.GetName(), cluster, brokerID)
			}
		}
	}
}
