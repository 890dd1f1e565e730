package stats

import "github.com/bulwark-kafka/bulwark/internal/filecache"

// Source is what package metrics reads from a broker at scrape time, beyond the counters: the
// current shape of its topics, groups and transactions. *broker.Server implements it.
type Source interface {
	ClusterID() string
	BrokerID() int32
	Counters() *Broker
	// Topics calls fn for every topic, in no particular order. The views are built for the
	// call; fn may keep them.
	Topics(fn func(*TopicView))
	// TopicCounters calls fn with every topic's counters, without reading its partitions: the
	// cheap walk that keeps rates current between scrapes.
	TopicCounters(fn func(name string, c *Topic))
	Groups() []GroupView
	// TransactionsByState counts transactional ids by state (Kafka's names).
	TransactionsByState() map[string]int
	// Rebalances returns the rebalances completed since start: classic and consumer protocol.
	Rebalances() (classic, consumer uint64)
	// RecordTimestamp returns the timestamp (Unix milliseconds) of the record batch holding
	// offset, for time lag; ok is false when there is none (the offset is the log end, or was
	// deleted).
	RecordTimestamp(topic string, partition int32, offset int64) (ms int64, ok bool)
	// LogDirs lists the broker's log directories.
	LogDirs() []string
	// OpenFiles reports the partition logs' cache of open files.
	OpenFiles() filecache.Stats
}

// TopicView is one topic at scrape time.
type TopicView struct {
	Name     string
	Counters *Topic
	// MinInSyncReplicas is the topic's min.insync.replicas: a single broker's partitions, with
	// one in-sync replica each, are under it when it is above 1.
	MinInSyncReplicas int
	Partitions        []PartitionView
}

// PartitionView is one partition at scrape time.
type PartitionView struct {
	Index       int32
	Size        int64
	Segments    int
	StartOffset int64
	EndOffset   int64
	// Dir is the log directory (one of LogDirs) holding the partition.
	Dir string
}

// GroupView is one consumer group at scrape time.
type GroupView struct {
	ID, State, Type, ProtocolType string
	Offsets                       []CommittedOffset
}

// CommittedOffset is one partition's committed offset in a group.
type CommittedOffset struct {
	Topic     string
	Partition int32
	Offset    int64
}
