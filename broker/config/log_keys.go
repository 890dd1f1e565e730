package config

import (
	"strings"
	"time"
)

// logDefs are the broker-level log settings; most are the defaults of topic keys (see
// topicDefs) and, as in Kafka, may change at runtime.
func logDefs() []*Def {
	return []*Def{
		def("message.max.bytes", TypeInt, "1048588", "Largest record batch accepted, including the 12-byte offset and length prefix. Default of max.message.bytes.",
			dyn, check(atLeast(0)), setI32(func(c *Config) *int32 { return &c.MessageMaxBytes })),
		def("log.segment.bytes", TypeInt, "1073741824", "Segment file size before rolling. Default of segment.bytes.",
			dyn, check(atLeast(14)), setI32(func(c *Config) *int32 { return &c.LogSegmentBytes })),
		def("log.roll.ms", TypeLong, "", "Segment age before rolling, in ms; overrides log.roll.hours. Default of segment.ms.",
			noDefault, dyn, check(atLeast(1)), syn("roll", 1), setI64(1, func(c *Config) *int64 { return &c.LogRollMs })),
		def("log.roll.hours", TypeInt, "168", "Segment age before rolling, in hours.",
			dyn, check(atLeast(1)), syn("roll", 0), setI64(3600000, func(c *Config) *int64 { return &c.LogRollMs })),
		def("log.roll.jitter.ms", TypeLong, "", "Random jitter subtracted from the roll time, in ms; overrides log.roll.jitter.hours. Default of segment.jitter.ms.",
			noDefault, dyn, check(atLeast(0)), syn("jitter", 1), setI64(1, func(c *Config) *int64 { return &c.LogRollJitterMs })),
		def("log.roll.jitter.hours", TypeInt, "0", "Random jitter subtracted from the roll time, in hours.",
			dyn, check(atLeast(0)), syn("jitter", 0), setI64(3600000, func(c *Config) *int64 { return &c.LogRollJitterMs })),
		def("log.retention.ms", TypeLong, "", "Time to keep a segment, in ms (-1: forever); overrides log.retention.minutes and log.retention.hours. Default of retention.ms.",
			noDefault, dyn, check(atLeast(-1)), syn("retention", 2), setI64(1, func(c *Config) *int64 { return &c.LogRetentionMs })),
		def("log.retention.minutes", TypeInt, "", "Time to keep a segment, in minutes; overrides log.retention.hours.",
			noDefault, dyn, syn("retention", 1), setI64(60000, func(c *Config) *int64 { return &c.LogRetentionMs })),
		def("log.retention.hours", TypeInt, "168", "Time to keep a segment, in hours.",
			dyn, syn("retention", 0), setI64(3600000, func(c *Config) *int64 { return &c.LogRetentionMs })),
		def("log.retention.bytes", TypeLong, "-1", "Largest size of a partition before old segments are deleted (-1: no limit). Default of retention.bytes.",
			dyn, setI64(1, func(c *Config) *int64 { return &c.LogRetentionBytes })),
		def("log.retention.check.interval.ms", TypeLong, "300000", "How often retention and time-based rolls are checked.",
			check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.RetentionCheckInterval })),
		def("log.cleanup.policy", TypeList, "delete", "delete and/or compact. Default of cleanup.policy.",
			dyn, check(listOf(false, "delete", "compact")), setList(func(c *Config) *[]string { return &c.LogCleanupPolicy })),
		def("log.index.interval.bytes", TypeInt, "4096", "Bytes between offset index entries. Default of index.interval.bytes.",
			dyn, check(atLeast(0)), setI32(func(c *Config) *int32 { return &c.LogIndexIntervalBytes })),
		def("log.index.size.max.bytes", TypeInt, "10485760", "Largest offset or time index file. Default of segment.index.bytes.",
			dyn, check(atLeast(4)), setI32(func(c *Config) *int32 { return &c.LogIndexSizeMaxBytes })),
		def("log.segment.delete.delay.ms", TypeLong, "60000", "Delay before a deleted segment's files are removed. Default of file.delete.delay.ms.",
			dyn, check(atLeast(0)), setI64(1, func(c *Config) *int64 { return &c.LogSegmentDeleteDelayMs })),
		def("log.flush.interval.messages", TypeLong, longMax, "Messages a partition accumulates before an fsync. Default of flush.messages.",
			dyn, check(atLeast(1)), setI64(1, func(c *Config) *int64 { return &c.FlushIntervalMessages })),
		def("log.flush.interval.ms", TypeLong, "", "Longest unflushed data waits for an fsync; overrides log.flush.scheduler.interval.ms. Default of flush.ms.",
			noDefault, dyn, check(atLeast(0)), syn("flush.ms", 1), setI64(1, func(c *Config) *int64 { return &c.FlushIntervalMs })),
		def("log.flush.scheduler.interval.ms", TypeLong, longMax, "Fallback for log.flush.interval.ms.",
			dyn, syn("flush.ms", 0), setI64(1, func(c *Config) *int64 { return &c.FlushIntervalMs })),
		def("log.flush.offset.checkpoint.interval.ms", TypeInt, "60000", "Recovery point checkpoint interval.", noEffect, check(atLeast(0))),
		def("log.flush.start.offset.checkpoint.interval.ms", TypeInt, "60000", "Log start offset checkpoint interval.", noEffect, check(atLeast(0))),
		def("log.message.timestamp.type", TypeString, "CreateTime", "CreateTime or LogAppendTime. Default of message.timestamp.type.",
			dyn, check(oneOf(false, "CreateTime", "LogAppendTime")), setStr(func(c *Config) *string { return &c.LogMessageTimestampType })),
		def("log.message.timestamp.before.max.ms", TypeLong, longMax, "How far in the past a CreateTime timestamp may be. Default of message.timestamp.before.max.ms.",
			dyn, check(atLeast(0)), setI64(1, func(c *Config) *int64 { return &c.LogMessageTimestampBeforeMaxMs })),
		def("log.message.timestamp.after.max.ms", TypeLong, longMax, "How far in the future a CreateTime timestamp may be. Default of message.timestamp.after.max.ms.",
			dyn, check(atLeast(0)), setI64(1, func(c *Config) *int64 { return &c.LogMessageTimestampAfterMaxMs })),
		def("log.message.timestamp.difference.max.ms", TypeLong, longMax, "Deprecated by the before/after keys.", noEffect, dyn, check(atLeast(0))),
		def("log.message.downconversion.enable", TypeBoolean, "true", "Down-convert records for old fetchers. Default of message.downconversion.enable.",
			dyn, setBool(func(c *Config) *bool { return &c.LogMessageDownConversion })),
		def("log.message.format.version", TypeString, "3.0-IV1", "Deprecated message format version.", noEffect),
		def("log.preallocate", TypeBoolean, "false", "Preallocate segment files. Default of preallocate.",
			dyn, setBool(func(c *Config) *bool { return &c.LogPreallocate })),
		def("log.local.retention.ms", TypeLong, "-2", "Local retention with tiered storage (-2: retention.ms). Default of local.retention.ms.",
			dyn, check(atLeast(-2)), setI64(1, func(c *Config) *int64 { return &c.LogLocalRetentionMs })),
		def("log.local.retention.bytes", TypeLong, "-2", "Local retention size with tiered storage (-2: retention.bytes). Default of local.retention.bytes.",
			dyn, check(atLeast(-2)), setI64(1, func(c *Config) *int64 { return &c.LogLocalRetentionBytes })),
		def("compression.type", TypeString, "producer", "Compression of stored batches: producer keeps the client's. Default of the topic key of the same name.",
			dyn, check(oneOf(false, compressionTypes...)), setStr(func(c *Config) *string { return &c.CompressionType })),
		def("compression.gzip.level", TypeInt, "-1", "gzip level when recompressing (1..9, -1 codec default).",
			dyn, check(levelOrDefault(1, 9)), setI32(func(c *Config) *int32 { return &c.CompressionGzipLevel })),
		def("compression.lz4.level", TypeInt, "9", "lz4 level when recompressing (1..17).",
			dyn, check(between(1, 17)), setI32(func(c *Config) *int32 { return &c.CompressionLz4Level })),
		def("compression.zstd.level", TypeInt, "3", "zstd level when recompressing (-131072..22).",
			dyn, check(between(-131072, 22)), setI32(func(c *Config) *int32 { return &c.CompressionZstdLevel })),
		def("min.insync.replicas", TypeInt, "1", "Replicas that must acknowledge an acks=all write.",
			dyn, check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.MinInsyncReplicas })),
		def("unclean.leader.election.enable", TypeBoolean, "false", "Allow an out-of-sync replica to become leader.",
			dyn, setBool(func(c *Config) *bool { return &c.UncleanLeaderElectionEnable })),
	}
}

var compressionTypes = []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}

// cleanerDefs are the log cleaner (compaction) keys.
func cleanerDefs() []*Def {
	return []*Def{
		def("log.cleaner.enable", TypeBoolean, "true", "Run the log cleaner for compacted topics.", noEffect),
		def("log.cleaner.threads", TypeInt, "1", "Log cleaner threads.", noEffect, dyn, check(atLeast(0))),
		def("log.cleaner.dedupe.buffer.size", TypeLong, "134217728", "Log cleaner dedupe memory.", noEffect, dyn),
		def("log.cleaner.io.buffer.size", TypeInt, "524288", "Log cleaner I/O buffer.", noEffect, dyn, check(atLeast(0))),
		def("log.cleaner.io.max.bytes.per.second", TypeDouble, "1.7976931348623157E308", "Log cleaner I/O throttle.", noEffect, dyn),
		def("log.cleaner.backoff.ms", TypeLong, "15000", "Log cleaner idle sleep.", noEffect, dyn, check(atLeast(0))),
		def("log.cleaner.delete.retention.ms", TypeLong, "86400000", "How long delete tombstones are kept. Default of delete.retention.ms.",
			dyn, check(atLeast(0)), setI64(1, func(c *Config) *int64 { return &c.LogCleanerDeleteRetentionMs })),
		def("log.cleaner.min.compaction.lag.ms", TypeLong, "0", "Least time a message stays uncompacted. Default of min.compaction.lag.ms.",
			dyn, check(atLeast(0)), setI64(1, func(c *Config) *int64 { return &c.LogCleanerMinCompactionLagMs })),
		def("log.cleaner.max.compaction.lag.ms", TypeLong, longMax, "Most time a message stays uncompacted. Default of max.compaction.lag.ms.",
			dyn, check(atLeast(1)), setI64(1, func(c *Config) *int64 { return &c.LogCleanerMaxCompactionLagMs })),
		def("log.cleaner.min.cleanable.ratio", TypeDouble, "0.5", "Dirty ratio that triggers cleaning. Default of min.cleanable.dirty.ratio.",
			dyn, check(between(0, 1)), setF64(func(c *Config) *float64 { return &c.LogCleanerMinCleanableRatio })),
	}
}

// coordinatorDefs are the group and transaction coordinator keys. Kafka's replication factor
// defaults (3) cannot be met by one node; Bulwark accepts the keys and creates its internal
// state with one replica.
func coordinatorDefs() []*Def {
	return []*Def{
		def("offsets.topic.replication.factor", TypeShort, "3", "Replication of the offsets topic; a single node uses 1.", noEffect, check(atLeast(1))),
		def("offsets.topic.num.partitions", TypeInt, "50", "Partitions of __consumer_offsets, read when the broker creates it.", check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.OffsetsTopicNumPartitions })),
		def("offsets.topic.segment.bytes", TypeInt, "104857600", "Segment size of __consumer_offsets and of the coordinator journal.", check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.OffsetsTopicSegmentBytes })),
		def("offsets.retention.minutes", TypeInt, "10080", "How long committed offsets of an empty group are kept.", check(atLeast(1)), setFunc(func(c *Config, v string) { c.OffsetsRetention = time.Duration(mustInt(v)) * time.Minute })),
		def("offsets.retention.check.interval.ms", TypeLong, "600000", "How often expired offsets are removed.", check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.OffsetsRetentionCheckInterval })),
		def("offsets.commit.timeout.ms", TypeInt, "5000", "Offset commit timeout.", noEffect, check(atLeast(1))),
		def("offsets.load.buffer.size", TypeInt, "5242880", "Offset load buffer.", noEffect, check(atLeast(1))),
		def("transaction.state.log.replication.factor", TypeShort, "3", "Replication of the transaction state topic; a single node uses 1.", noEffect, check(atLeast(1))),
		def("transaction.state.log.min.isr", TypeInt, "2", "Minimum ISR of the transaction state topic.", noEffect, check(atLeast(1))),
		def("transaction.state.log.num.partitions", TypeInt, "50", "Partitions of __transaction_state, read when the broker creates it.", check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.TransactionStateNumPartitions })),
		def("transaction.state.log.segment.bytes", TypeInt, "104857600", "Segment size of __transaction_state.", check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.TransactionStateSegmentBytes })),
		def("transaction.max.timeout.ms", TypeInt, "900000", "Largest transaction timeout a producer may ask for.", check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.TransactionMaxTimeout })),
		def("transactional.id.expiration.ms", TypeInt, "604800000", "Idle time before a transactional id expires.", check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.TransactionalIDExpiration })),
		def("transaction.abort.timed.out.transaction.cleanup.interval.ms", TypeInt, "10000", "How often timed-out transactions are aborted.", check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.TransactionAbortCheckInterval })),
		def("producer.id.expiration.ms", TypeInt, "86400000", "Idle time before a producer id's state expires.", dyn, check(atLeast(1)), setI64(1, func(c *Config) *int64 { return &c.ProducerIDExpirationMs })),
		def("group.initial.rebalance.delay.ms", TypeInt, "3000", "Delay of a new group's first rebalance.", check(atLeast(0)), setMs(func(c *Config) *time.Duration { return &c.GroupInitialRebalanceDelay })),
		def("group.min.session.timeout.ms", TypeInt, "6000", "Smallest session timeout a member may ask for.", check(atLeast(0)), setMs(func(c *Config) *time.Duration { return &c.GroupMinSessionTimeout })),
		def("group.max.session.timeout.ms", TypeInt, "1800000", "Largest session timeout a member may ask for.", check(atLeast(0)), setMs(func(c *Config) *time.Duration { return &c.GroupMaxSessionTimeout })),
		def("group.max.size", TypeInt, intMax, "Most members of a group.", check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.GroupMaxSize })),
		def("offset.metadata.max.bytes", TypeInt, "4096", "Largest metadata string of a committed offset.", check(atLeast(0)), setI32(func(c *Config) *int32 { return &c.OffsetMetadataMaxBytes })),
		def("group.consumer.heartbeat.interval.ms", TypeInt, "5000", "Heartbeat interval the consumer protocol (KIP-848) gives its members.", check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.GroupConsumerHeartbeatInterval })),
		def("group.consumer.session.timeout.ms", TypeInt, "45000", "Session timeout of consumer-protocol (KIP-848) members.", check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.GroupConsumerSessionTimeout })),
		def("group.consumer.max.size", TypeInt, intMax, "Most members of a consumer-protocol (KIP-848) group.", check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.GroupConsumerMaxSize })),
		def("group.consumer.assignors", TypeList, "uniform,range", "Server-side assignors of the consumer protocol (KIP-848); the first is the default.", check(listOf(false, "uniform", "range")), setList(func(c *Config) *[]string { return &c.GroupConsumerAssignors })),
		def("group.consumer.migration.policy", TypeString, "bidirectional", "Online conversion between classic and consumer-protocol groups: bidirectional, upgrade, downgrade or disabled.",
			check(oneOf(true, "bidirectional", "upgrade", "downgrade", "disabled")), setFunc(func(c *Config, v string) { c.GroupConsumerMigrationPolicy = strings.ToLower(v) })),
	}
}
