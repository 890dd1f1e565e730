package config

// Topic setters store checked values in TopicConfig fields.

func tI64(f func(*TopicConfig) *int64) opt {
	return func(d *Def) { d.tset = func(t *TopicConfig, v string) { *f(t) = mustInt(v) } }
}

func tI32(f func(*TopicConfig) *int32) opt {
	return func(d *Def) { d.tset = func(t *TopicConfig, v string) { *f(t) = int32(mustInt(v)) } }
}

func tBool(f func(*TopicConfig) *bool) opt {
	return func(d *Def) { d.tset = func(t *TopicConfig, v string) { *f(t) = mustBool(v) } }
}

func tFunc(f func(*TopicConfig, string)) opt { return func(d *Def) { d.tset = f } }

// brokerSyn lists a topic key's broker synonyms in precedence order; names alternate with
// unit scales (1 for same unit).
func brokerSyn(pairs ...any) opt {
	return func(d *Def) {
		for i := 0; i+1 < len(pairs); i += 2 {
			d.synonyms = append(d.synonyms, synonymDef{name: pairs[i].(string), scale: int64(pairs[i+1].(int))})
		}
	}
}

// topicDefs is the topic key table (Kafka 3.9 names, types, defaults and validators). A topic
// key's Default is the value it has when no broker synonym is set either.
func topicDefs() []*Def {
	all := append(topicRetentionDefs(), topicFormatDefs()...)
	for _, d := range all {
		d.Dynamic = true // every topic key may change through AlterConfigs
	}
	return all
}

func topicRetentionDefs() []*Def {
	return []*Def{
		def("cleanup.policy", TypeList, "delete", "delete (by time and size) and/or compact (keep the latest record per key).",
			check(listOf(false, "delete", "compact")), brokerSyn("log.cleanup.policy", 1),
			tFunc(func(t *TopicConfig, v string) { t.CleanupPolicy = splitList(v) })),
		def("retention.ms", TypeLong, "604800000", "Time to keep a segment before deleting it (-1: forever).",
			check(atLeast(-1)), brokerSyn("log.retention.ms", 1, "log.retention.minutes", 60000, "log.retention.hours", 3600000),
			tI64(func(t *TopicConfig) *int64 { return &t.RetentionMs })),
		def("retention.bytes", TypeLong, "-1", "Largest partition size before old segments are deleted (-1: no limit).",
			brokerSyn("log.retention.bytes", 1), tI64(func(t *TopicConfig) *int64 { return &t.RetentionBytes })),
		def("local.retention.ms", TypeLong, "-2", "Local retention with tiered storage (-2: retention.ms).",
			check(atLeast(-2)), brokerSyn("log.local.retention.ms", 1), tI64(func(t *TopicConfig) *int64 { return &t.LocalRetentionMs })),
		def("local.retention.bytes", TypeLong, "-2", "Local retention size with tiered storage (-2: retention.bytes).",
			check(atLeast(-2)), brokerSyn("log.local.retention.bytes", 1), tI64(func(t *TopicConfig) *int64 { return &t.LocalRetentionBytes })),
		def("remote.storage.enable", TypeBoolean, "false", "Tiered storage (not yet supported: accepted, no effect).",
			noEffect, tBool(func(t *TopicConfig) *bool { return &t.RemoteStorageEnable })),
		def("segment.bytes", TypeInt, "1073741824", "Segment file size before rolling.",
			check(atLeast(14)), brokerSyn("log.segment.bytes", 1), tI64(func(t *TopicConfig) *int64 { return &t.SegmentBytes })),
		def("segment.ms", TypeLong, "604800000", "Segment age before rolling.",
			check(atLeast(1)), brokerSyn("log.roll.ms", 1, "log.roll.hours", 3600000), tI64(func(t *TopicConfig) *int64 { return &t.SegmentMs })),
		def("segment.jitter.ms", TypeLong, "0", "Random jitter subtracted from segment.ms.",
			check(atLeast(0)), brokerSyn("log.roll.jitter.ms", 1, "log.roll.jitter.hours", 3600000),
			tI64(func(t *TopicConfig) *int64 { return &t.SegmentJitterMs })),
		def("segment.index.bytes", TypeInt, "10485760", "Largest offset or time index file.",
			check(atLeast(4)), brokerSyn("log.index.size.max.bytes", 1), tI32(func(t *TopicConfig) *int32 { return &t.SegmentIndexBytes })),
		def("index.interval.bytes", TypeInt, "4096", "Bytes between offset index entries.",
			check(atLeast(0)), brokerSyn("log.index.interval.bytes", 1), tI32(func(t *TopicConfig) *int32 { return &t.IndexIntervalBytes })),
		def("file.delete.delay.ms", TypeLong, "60000", "Delay before a deleted segment's files are removed.",
			check(atLeast(0)), brokerSyn("log.segment.delete.delay.ms", 1), tI64(func(t *TopicConfig) *int64 { return &t.FileDeleteDelayMs })),
		def("delete.retention.ms", TypeLong, "86400000", "How long delete tombstones of a compacted topic are kept.",
			check(atLeast(0)), brokerSyn("log.cleaner.delete.retention.ms", 1), tI64(func(t *TopicConfig) *int64 { return &t.DeleteRetentionMs })),
		def("min.compaction.lag.ms", TypeLong, "0", "Least time a message stays uncompacted.",
			check(atLeast(0)), brokerSyn("log.cleaner.min.compaction.lag.ms", 1), tI64(func(t *TopicConfig) *int64 { return &t.MinCompactionLagMs })),
		def("max.compaction.lag.ms", TypeLong, longMax, "Most time a message stays uncompacted.",
			check(atLeast(1)), brokerSyn("log.cleaner.max.compaction.lag.ms", 1), tI64(func(t *TopicConfig) *int64 { return &t.MaxCompactionLagMs })),
		def("min.cleanable.dirty.ratio", TypeDouble, "0.5", "Dirty ratio that triggers compaction.",
			check(between(0, 1)), brokerSyn("log.cleaner.min.cleanable.ratio", 1),
			tFunc(func(t *TopicConfig, v string) { t.MinCleanableDirtyRatio = mustFloat(v) })),
		def("flush.messages", TypeLong, longMax, "Messages a partition accumulates before an fsync.",
			check(atLeast(1)), brokerSyn("log.flush.interval.messages", 1), tI64(func(t *TopicConfig) *int64 { return &t.FlushMessages })),
		def("flush.ms", TypeLong, longMax, "Longest unflushed data waits for an fsync.",
			check(atLeast(0)), brokerSyn("log.flush.interval.ms", 1, "log.flush.scheduler.interval.ms", 1),
			tI64(func(t *TopicConfig) *int64 { return &t.FlushMs })),
		def("preallocate", TypeBoolean, "false", "Preallocate segment files.",
			brokerSyn("log.preallocate", 1), tBool(func(t *TopicConfig) *bool { return &t.Preallocate })),
	}
}

func topicFormatDefs() []*Def {
	return []*Def{
		def("max.message.bytes", TypeInt, "1048588", "Largest record batch accepted, including the 12-byte offset and length prefix.",
			check(atLeast(0)), brokerSyn("message.max.bytes", 1), tI32(func(t *TopicConfig) *int32 { return &t.MaxMessageBytes })),
		def("compression.type", TypeString, "producer", "Compression of stored batches: producer keeps the client's; uncompressed, gzip, snappy, lz4 or zstd.",
			check(oneOf(false, compressionTypes...)), brokerSyn("compression.type", 1),
			tFunc(func(t *TopicConfig, v string) { t.CompressionType = v })),
		def("compression.gzip.level", TypeInt, "-1", "gzip level when recompressing (1..9, -1 codec default).",
			check(levelOrDefault(1, 9)), brokerSyn("compression.gzip.level", 1), tI32(func(t *TopicConfig) *int32 { return &t.CompressionGzipLevel })),
		def("compression.lz4.level", TypeInt, "9", "lz4 level when recompressing (1..17).",
			check(between(1, 17)), brokerSyn("compression.lz4.level", 1), tI32(func(t *TopicConfig) *int32 { return &t.CompressionLz4Level })),
		def("compression.zstd.level", TypeInt, "3", "zstd level when recompressing (-131072..22).",
			check(between(-131072, 22)), brokerSyn("compression.zstd.level", 1), tI32(func(t *TopicConfig) *int32 { return &t.CompressionZstdLevel })),
		def("message.timestamp.type", TypeString, "CreateTime", "CreateTime keeps the producer's timestamps; LogAppendTime replaces them with the broker's clock.",
			check(oneOf(false, "CreateTime", "LogAppendTime")), brokerSyn("log.message.timestamp.type", 1),
			tFunc(func(t *TopicConfig, v string) { t.LogAppendTime = v == "LogAppendTime" })),
		def("message.timestamp.before.max.ms", TypeLong, longMax, "How far in the past a CreateTime timestamp may be.",
			check(atLeast(0)), brokerSyn("log.message.timestamp.before.max.ms", 1), tI64(func(t *TopicConfig) *int64 { return &t.TimestampBeforeMaxMs })),
		def("message.timestamp.after.max.ms", TypeLong, longMax, "How far in the future a CreateTime timestamp may be.",
			check(atLeast(0)), brokerSyn("log.message.timestamp.after.max.ms", 1), tI64(func(t *TopicConfig) *int64 { return &t.TimestampAfterMaxMs })),
		def("message.timestamp.difference.max.ms", TypeLong, longMax, "Deprecated by the before/after keys.",
			noEffect, check(atLeast(0)), brokerSyn("log.message.timestamp.difference.max.ms", 1)),
		def("message.downconversion.enable", TypeBoolean, "true", "Down-convert records for old fetchers (Bulwark serves magic 2 only).",
			noEffect, brokerSyn("log.message.downconversion.enable", 1), tBool(func(t *TopicConfig) *bool { return &t.DownConversionEnable })),
		def("message.format.version", TypeString, "3.0-IV1", "Deprecated message format version.", noEffect, brokerSyn("log.message.format.version", 1)),
		def("min.insync.replicas", TypeInt, "1", "Replicas that must acknowledge an acks=all write.",
			check(atLeast(1)), brokerSyn("min.insync.replicas", 1), tI32(func(t *TopicConfig) *int32 { return &t.MinInsyncReplicas })),
		def("unclean.leader.election.enable", TypeBoolean, "false", "Allow an out-of-sync replica to become leader.",
			brokerSyn("unclean.leader.election.enable", 1), tBool(func(t *TopicConfig) *bool { return &t.UncleanLeaderElection })),
		def("leader.replication.throttled.replicas", TypeList, "", "Replicas throttled on the leader side (partition:broker list or *).",
			noEffect, check(validThrottledReplicas)),
		def("follower.replication.throttled.replicas", TypeList, "", "Replicas throttled on the follower side (partition:broker list or *).",
			noEffect, check(validThrottledReplicas)),
	}
}
