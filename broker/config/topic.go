package config

import (
	"errors"
	"maps"
	"slices"
)

// TopicConfig is a topic's effective configuration: its overrides resolved over the broker's
// (static and dynamic) defaults.
type TopicConfig struct {
	RetentionMs            int64    // retention.ms (-1: forever)
	RetentionBytes         int64    // retention.bytes (-1: no limit)
	SegmentBytes           int64    // segment.bytes
	SegmentMs              int64    // segment.ms
	SegmentJitterMs        int64    // segment.jitter.ms
	MaxMessageBytes        int32    // max.message.bytes
	IndexIntervalBytes     int32    // index.interval.bytes
	SegmentIndexBytes      int32    // segment.index.bytes
	FileDeleteDelayMs      int64    // file.delete.delay.ms
	CleanupPolicy          []string // cleanup.policy: delete and/or compact
	CompressionType        string   // compression.type
	CompressionGzipLevel   int32    // compression.gzip.level
	CompressionLz4Level    int32    // compression.lz4.level
	CompressionZstdLevel   int32    // compression.zstd.level
	LogAppendTime          bool     // message.timestamp.type == LogAppendTime
	TimestampBeforeMaxMs   int64    // message.timestamp.before.max.ms
	TimestampAfterMaxMs    int64    // message.timestamp.after.max.ms
	FlushMessages          int64    // flush.messages (MaxInt64: never by count)
	FlushMs                int64    // flush.ms (MaxInt64: never by time)
	MinInsyncReplicas      int32    // min.insync.replicas
	DeleteRetentionMs      int64    // delete.retention.ms
	MinCompactionLagMs     int64    // min.compaction.lag.ms
	MaxCompactionLagMs     int64    // max.compaction.lag.ms
	MinCleanableDirtyRatio float64  // min.cleanable.dirty.ratio
	Preallocate            bool     // preallocate
	UncleanLeaderElection  bool     // unclean.leader.election.enable
	LocalRetentionMs       int64    // local.retention.ms
	LocalRetentionBytes    int64    // local.retention.bytes
	RemoteStorageEnable    bool     // remote.storage.enable
	DownConversionEnable   bool     // message.downconversion.enable
}

// Compacted reports whether cleanup.policy includes compact.
func (t TopicConfig) Compacted() bool { return slices.Contains(t.CleanupPolicy, "compact") }

// Deletes reports whether cleanup.policy includes delete (time and size retention apply).
func (t TopicConfig) Deletes() bool { return slices.Contains(t.CleanupPolicy, "delete") }

// topicDefaults is the topic configuration a topic without overrides gets from c.
func (c *Config) topicDefaults() TopicConfig {
	return TopicConfig{
		RetentionMs:            c.LogRetentionMs,
		RetentionBytes:         c.LogRetentionBytes,
		SegmentBytes:           int64(c.LogSegmentBytes),
		SegmentMs:              c.LogRollMs,
		SegmentJitterMs:        c.LogRollJitterMs,
		MaxMessageBytes:        c.MessageMaxBytes,
		IndexIntervalBytes:     c.LogIndexIntervalBytes,
		SegmentIndexBytes:      c.LogIndexSizeMaxBytes,
		FileDeleteDelayMs:      c.LogSegmentDeleteDelayMs,
		CleanupPolicy:          slices.Clone(c.LogCleanupPolicy),
		CompressionType:        c.CompressionType,
		CompressionGzipLevel:   c.CompressionGzipLevel,
		CompressionLz4Level:    c.CompressionLz4Level,
		CompressionZstdLevel:   c.CompressionZstdLevel,
		LogAppendTime:          c.LogMessageTimestampType == "LogAppendTime",
		TimestampBeforeMaxMs:   c.LogMessageTimestampBeforeMaxMs,
		TimestampAfterMaxMs:    c.LogMessageTimestampAfterMaxMs,
		FlushMessages:          c.FlushIntervalMessages,
		FlushMs:                c.FlushIntervalMs,
		MinInsyncReplicas:      c.MinInsyncReplicas,
		DeleteRetentionMs:      c.LogCleanerDeleteRetentionMs,
		MinCompactionLagMs:     c.LogCleanerMinCompactionLagMs,
		MaxCompactionLagMs:     c.LogCleanerMaxCompactionLagMs,
		MinCleanableDirtyRatio: c.LogCleanerMinCleanableRatio,
		Preallocate:            c.LogPreallocate,
		UncleanLeaderElection:  c.UncleanLeaderElectionEnable,
		LocalRetentionMs:       c.LogLocalRetentionMs,
		LocalRetentionBytes:    c.LogLocalRetentionBytes,
		DownConversionEnable:   c.LogMessageDownConversion,
	}
}

// EffectiveTopic resolves a topic's overrides over the broker configuration. Call it on
// c.WithDynamic(dynamic) to include dynamic broker overrides. Unknown or invalid overrides are
// ignored: ValidateTopicConfigs rejects them before they are stored.
func (c *Config) EffectiveTopic(overrides map[string]string) TopicConfig {
	tc := c.topicDefaults()
	for _, k := range slices.Sorted(maps.Keys(overrides)) {
		d := topicTable.byName[k]
		if d == nil || d.tset == nil || d.check(overrides[k]) != nil {
			continue
		}
		d.tset(&tc, d.normalize(overrides[k]))
	}
	return tc
}

// ValidateTopicConfigs checks topic overrides for CreateTopics and AlterConfigs. Every unknown key
// or bad value is reported (joined), each error naming its key, so the broker can return
// INVALID_CONFIG with the message.
func ValidateTopicConfigs(overrides map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(overrides)) {
		d := topicTable.byName[k]
		if d == nil {
			errs = append(errs, &KeyError{Key: k, Msg: "unknown topic config", Err: ErrUnknownKey})
			continue
		}
		if err := d.check(overrides[k]); err != nil {
			errs = append(errs, &KeyError{Key: k, Msg: err.Error(), Err: ErrInvalidValue})
		}
	}
	return errors.Join(errs...)
}
