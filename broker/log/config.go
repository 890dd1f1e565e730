package log

import (
	"math"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/stats"
	"github.com/bulwark-kafka/bulwark/internal/filecache"
)

// Config holds the topic-level settings a log obeys. They follow Kafka's topic configs of the
// same names (segment.bytes, segment.ms, index.interval.bytes, segment.index.bytes,
// retention.ms, retention.bytes, file.delete.delay.ms).
type Config struct {
	// SegmentBytes rolls the active segment when its size plus an incoming batch exceeds it.
	SegmentBytes int64
	// SegmentMs rolls the active segment when it is older than this, measured from its first
	// batch's max timestamp (or its creation time). Zero or negative disables time-based rolls.
	SegmentMs time.Duration
	// IndexIntervalBytes is how many bytes may be appended between two offset index entries.
	IndexIntervalBytes int32
	// SegmentIndexBytes is the largest index file size; a full index rolls the segment.
	SegmentIndexBytes int32
	// RetentionMs deletes non-active segments whose newest timestamp is older than this; -1 means
	// unlimited.
	RetentionMs int64
	// RetentionBytes deletes the oldest segments while the log stays at least this large without
	// them; -1 means unlimited.
	RetentionBytes int64
	// FileDeleteDelay is how long a deleted segment's files linger (as *.deleted) before removal.
	FileDeleteDelay time.Duration
	// ProducerIDExpirationMs forgets an idle producer's state this long after its last write
	// (producer.id.expiration.ms); an open transaction keeps it. Zero or less: never.
	ProducerIDExpirationMs int64
	// Sealing encrypts new segments at rest (nil: plaintext). It is fixed when the log opens;
	// SetConfig keeps it.
	Sealing *Sealing
	// Stats receives fsync durations and group-commit sizes (nil: not counted). Like Sealing it
	// is fixed when the log opens.
	Stats *stats.Storage
	// Files is the cache of open files the log's segments open through, shared by every log of
	// a broker (nil: each segment holds its file open while the log is open). Fixed at Open.
	Files *filecache.Cache
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:           1 << 30,
		SegmentMs:              7 * 24 * time.Hour,
		IndexIntervalBytes:     4096,
		SegmentIndexBytes:      10 << 20,
		RetentionMs:            7 * 24 * 3600 * 1000,
		RetentionBytes:         -1,
		FileDeleteDelay:        time.Minute,
		ProducerIDExpirationMs: 86400000,
	}
}

// sanitize replaces values the log cannot work with by safe ones. Positions in the offset index
// are uint32, so a segment never grows past math.MaxInt32 bytes (Kafka's own limit).
func (c Config) sanitize() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	c.SegmentBytes = min(c.SegmentBytes, math.MaxInt32)
	if c.IndexIntervalBytes < 0 {
		c.IndexIntervalBytes = 0
	}
	if c.SegmentIndexBytes <= 0 {
		c.SegmentIndexBytes = d.SegmentIndexBytes
	}
	if c.FileDeleteDelay < 0 {
		c.FileDeleteDelay = 0
	}
	return c
}
