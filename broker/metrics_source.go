package broker

import (
	"path/filepath"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/record"
	"github.com/bulwark-kafka/bulwark/broker/stats"
	"github.com/bulwark-kafka/bulwark/internal/filecache"
)

// The Server is the metrics' view of the broker (stats.Source): counters kept as it runs, and
// the shape of its topics, groups and transactions read at scrape time.
var _ stats.Source = (*Server)(nil)

// ClusterID returns the cluster id of the metadata log.
func (s *Server) ClusterID() string { return s.cluster.store.State().ClusterID }

// BrokerID returns node.id.
func (s *Server) BrokerID() int32 { return s.cfg.NodeID }

// Counters returns the counters given with WithStats (nil without).
func (s *Server) Counters() *stats.Broker { return s.stats }

// Topics calls fn with a view of every topic. Each partition's figures are read under that
// partition's own lock, so a scrape never holds up produce or fetch for more than a moment.
func (s *Server) Topics(fn func(*stats.TopicView)) {
	for _, t := range s.cluster.allTopics() {
		v := stats.TopicView{Name: t.name, Counters: t.counters, MinInSyncReplicas: int(t.cfg.MinInsyncReplicas),
			Partitions: make([]stats.PartitionView, len(t.partitions))}
		for i, p := range t.partitions {
			v.Partitions[i] = stats.PartitionView{Index: p.index, Size: p.log.Size(), Segments: p.log.NumSegments(),
				StartOffset: p.log.LogStartOffset(), EndOffset: p.log.HighWatermark(), Dir: p.logDir()}
		}
		fn(&v)
	}
}

// TopicCounters calls fn with every topic's counters.
func (s *Server) TopicCounters(fn func(name string, c *stats.Topic)) {
	for _, t := range s.cluster.allTopics() {
		fn(t.name, t.counters)
	}
}

// Groups returns every consumer group with its committed offsets.
func (s *Server) Groups() []stats.GroupView { return s.coord.groups.Snapshots() }

// TransactionsByState counts transactional ids by state.
func (s *Server) TransactionsByState() map[string]int { return s.coord.txns.CountByState() }

// Rebalances returns the rebalances the group coordinator completed since start.
func (s *Server) Rebalances() (classic, consumer uint64) { return s.coord.groups.RebalanceCounts() }

// LogDirs lists log.dirs.
func (s *Server) LogDirs() []string { return s.cfg.LogDirs }

// OpenFiles reports the partition logs' cache of open files.
func (s *Server) OpenFiles() filecache.Stats { return s.cluster.files.Stats() }

// RecordTimestamp reads the batch holding offset and returns its first timestamp (its append
// time for LogAppendTime topics): within one batch of the record's own, which is what a time
// lag needs. An offset below the log start (a consumer that fell off retention) reads the first
// batch still held: the oldest record it has left to consume.
func (s *Server) RecordTimestamp(topic string, partition int32, offset int64) (int64, bool) {
	t := s.cluster.lookupTopic(topic)
	if t == nil {
		return 0, false
	}
	p := t.partition(partition)
	if p == nil {
		return 0, false
	}
	data, err := p.log.Read(max(offset, p.log.LogStartOffset()), 1, p.log.HighWatermark(), true)
	if err != nil || len(data) == 0 {
		return 0, false
	}
	h, err := record.ParseHeader(data)
	if err != nil {
		return 0, false
	}
	if h.LogAppendTime() {
		return h.MaxTimestamp, true
	}
	return h.BaseTimestamp, true
}

// logDir is the log directory holding the partition's directory.
func (p *partition) logDir() string { return filepath.Dir(p.dir) }

// LiveConfig returns the configuration in force: the file as last reloaded with the dynamic
// broker configs applied (bulwark.metrics.level is read from it at every scrape).
func (s *Server) LiveConfig() *config.Config { return s.effectiveConfig() }
