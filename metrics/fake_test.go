package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-kafka/bulwark/broker/stats"
	"github.com/bulwark-kafka/bulwark/internal/filecache"
)

// fakeSource is a broker of the given shape with no I/O behind it: topics × partitions, each
// partition with some data, and groups that each commit every partition of one topic.
type fakeSource struct {
	counters *stats.Broker
	topics   []*stats.TopicView
	groups   []stats.GroupView
	dirs     []string
}

func newFakeSource(topics, partitions, groups int) *fakeSource {
	f := &fakeSource{counters: stats.NewBroker(func(k int16) string {
		if k == 0 {
			return "Produce"
		}
		return fmt.Sprintf("Api%d", k)
	})}
	for i := 0; i < topics; i++ {
		t := &stats.TopicView{Name: fmt.Sprintf("topic-%04d", i), Counters: f.counters.NewTopic(), MinInSyncReplicas: 1}
		for p := 0; p < partitions; p++ {
			t.Partitions = append(t.Partitions, stats.PartitionView{Index: int32(p), Size: 1 << 20, Segments: 1,
				StartOffset: 0, EndOffset: 1000, Dir: "/data"})
		}
		f.counters.Produced(t.Counters, &stats.ProduceTally{Parts: 1, Messages: 1000, Bytes: 1 << 20})
		f.topics = append(f.topics, t)
	}
	for g := 0; g < groups; g++ {
		t := f.topics[g%len(f.topics)]
		gv := stats.GroupView{ID: fmt.Sprintf("group-%d", g), State: "Stable", Type: "consumer", ProtocolType: "consumer"}
		for _, p := range t.Partitions {
			gv.Offsets = append(gv.Offsets, stats.CommittedOffset{Topic: t.Name, Partition: p.Index, Offset: 900})
		}
		f.groups = append(f.groups, gv)
	}
	l := f.counters.Listener("PLAINTEXT")
	l.Opened()
	r := f.counters.Requests.Get(0)
	r.Record(9, &stats.Times{time.Millisecond, 0, time.Millisecond})
	r.Error(0, 1)
	return f
}

func (f *fakeSource) ClusterID() string         { return "fake-cluster" }
func (f *fakeSource) BrokerID() int32           { return 1 }
func (f *fakeSource) Counters() *stats.Broker   { return f.counters }
func (f *fakeSource) Groups() []stats.GroupView { return f.groups }
func (f *fakeSource) OpenFiles() filecache.Stats {
	return filecache.Stats{Budget: 100, Open: 3, Opens: 7, Evictions: 4, Waits: 1, Syncs: 2}
}

func (f *fakeSource) LogDirs() []string {
	if f.dirs != nil {
		return f.dirs
	}
	return []string{"/data"}
}
func (f *fakeSource) Rebalances() (uint64, uint64) {
	return 0, 0
}
func (f *fakeSource) TransactionsByState() map[string]int { return nil }
func (f *fakeSource) RecordTimestamp(string, int32, int64) (int64, bool) {
	return time.Now().Add(-time.Minute).UnixMilli(), true
}
func (f *fakeSource) Topics(fn func(*stats.TopicView)) {
	for _, t := range f.topics {
		v := *t
		v.Partitions = append([]stats.PartitionView(nil), t.Partitions...) // the copy a real broker makes
		fn(&v)
	}
}
func (f *fakeSource) TopicCounters(fn func(string, *stats.Topic)) {
	for _, t := range f.topics {
		fn(t.Name, t.Counters)
	}
}

// seriesCount gathers once and counts the series.
func seriesCount(reg *prometheus.Registry) (int, error) {
	fams, err := reg.Gather()
	n := 0
	for _, f := range fams {
		n += len(f.GetMetric())
	}
	return n, err
}
