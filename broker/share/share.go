package share

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
)

// Journal is where the coordinator makes its state durable (a *coordlog.Store).
type Journal interface {
	Append(entries ...coordlog.Entry) (wait func(context.Context) error, err error)
}

// Bounds are a partition log's offsets: its start, high watermark and last stable offset.
type Bounds struct{ Start, HighWatermark, LastStable int64 }

// AbortedTxn is an aborted transaction's range in a log.
type AbortedTxn struct{ ProducerID, FirstOffset, LastOffset int64 }

// Logs is the broker's view of its topics and partition logs.
type Logs interface {
	// Partitions returns a topic's id and partition count.
	Partitions(topic string) (id [16]byte, partitions int32, ok bool)
	// TopicByID returns a topic's name and partition count.
	TopicByID(id [16]byte) (name string, partitions int32, ok bool)
	Bounds(topic string, partition int32) (Bounds, bool)
	// Read returns whole batches from the one holding offset, at most about maxBytes (at least
	// one batch), none at or after upTo.
	Read(topic string, partition int32, offset int64, maxBytes int32, upTo int64) ([]byte, error)
	AbortedTxns(topic string, partition int32, from, upTo int64) []AbortedTxn
	// Wait returns a channel closed when the partition's log grows.
	Wait(topic string, partition int32) <-chan struct{}
}

// Config holds the broker settings share groups obey (Kafka's names in comments).
type Config struct {
	RecordLockDuration    time.Duration // group.share.record.lock.duration.ms, 30 s
	MinRecordLockDuration time.Duration // group.share.min.record.lock.duration.ms, 15 s
	MaxRecordLockDuration time.Duration // group.share.max.record.lock.duration.ms, 60 s
	DeliveryCountLimit    int16         // group.share.delivery.count.limit, 5
	PartitionMaxLocks     int           // group.share.partition.max.record.locks, 2000
	SessionTimeout        time.Duration // group.share.session.timeout.ms, 45 s
	HeartbeatInterval     time.Duration // group.share.heartbeat.interval.ms, 5 s
	MaxSize               int           // group.share.max.size, 200
	MaxShareSessions      int           // group.share.max.share.sessions, 2000
	FetchMaxBytes         int32         // fetch.max.bytes: the most a ShareFetch answer carries

	// GroupConfig returns a group's dynamic configs (share.auto.offset.reset,
	// share.record.lock.duration.ms, share.isolation.level, share.session.timeout.ms,
	// share.heartbeat.interval.ms), set with IncrementalAlterConfigs on the GROUP resource.
	GroupConfig func(group string) map[string]string
	// OtherGroup reports whether a classic or consumer group holds the id.
	OtherGroup func(group string) bool

	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultConfig returns Kafka 4.2's defaults.
func DefaultConfig() Config {
	return Config{RecordLockDuration: 30 * time.Second, MinRecordLockDuration: 15 * time.Second,
		MaxRecordLockDuration: 60 * time.Second, DeliveryCountLimit: 5, PartitionMaxLocks: 2000,
		SessionTimeout: 45 * time.Second, HeartbeatInterval: 5 * time.Second, MaxSize: 200, MaxShareSessions: 2000}
}

// Journal key prefixes owned by the share coordinator.
const (
	groupPrefix     = "sharegroup/"
	partitionPrefix = "sharepart/"
)

// Owns reports whether a journal key belongs to the share coordinator.
func Owns(key []byte) bool {
	return bytes.HasPrefix(key, []byte(groupPrefix)) || bytes.HasPrefix(key, []byte(partitionPrefix))
}

func groupKey(g string) []byte {
	b, _ := json.Marshal([]string{g})
	return append([]byte(groupPrefix), b...)
}

func partitionKey(k partKey) []byte {
	b, _ := json.Marshal([]any{k.group, k.topic, k.partition})
	return append([]byte(partitionPrefix), b...)
}

// partKey names a share partition.
type partKey struct {
	group, topic string
	partition    int32
}

// Coordinator is the share-group coordinator of this broker.
type Coordinator struct {
	cfg     Config
	logs    Logs
	logger  *slog.Logger
	journal Journal

	// known holds the share groups' ids, readable without mu: the group coordinator asks
	// (IsShareGroup) while holding its own lock, which must never wait for this one.
	known sync.Map

	mu       sync.Mutex
	groups   map[string]*group
	parts    map[partKey]*partition
	byGroup  map[string]map[partKey]*partition // the same partitions, by group
	sessions map[sessionKey]*session
	closed   bool
}

var errUnknownPartition = errors.New("share: unknown topic partition")

// ErrOffsetOutOfRange is what Logs.Read returns for an offset the log no longer (or not yet)
// holds.
var ErrOffsetOutOfRange = errors.New("share: offset out of range")

// New makes a coordinator. Restore is then called for every journal key it owns, then Attach.
func New(cfg Config, logs Logs) *Coordinator {
	d := DefaultConfig()
	if cfg.RecordLockDuration <= 0 {
		cfg.RecordLockDuration = d.RecordLockDuration
	}
	if cfg.MinRecordLockDuration <= 0 {
		cfg.MinRecordLockDuration = d.MinRecordLockDuration
	}
	if cfg.MaxRecordLockDuration <= 0 {
		cfg.MaxRecordLockDuration = d.MaxRecordLockDuration
	}
	if cfg.DeliveryCountLimit <= 0 {
		cfg.DeliveryCountLimit = d.DeliveryCountLimit
	}
	if cfg.PartitionMaxLocks <= 0 {
		cfg.PartitionMaxLocks = d.PartitionMaxLocks
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = d.SessionTimeout
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = d.HeartbeatInterval
	}
	if cfg.MaxShareSessions <= 0 {
		cfg.MaxShareSessions = d.MaxShareSessions
	}
	if cfg.FetchMaxBytes <= 0 {
		cfg.FetchMaxBytes = 55 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.GroupConfig == nil {
		cfg.GroupConfig = func(string) map[string]string { return nil }
	}
	if cfg.OtherGroup == nil {
		cfg.OtherGroup = func(string) bool { return false }
	}
	return &Coordinator{cfg: cfg, logs: logs, logger: cfg.Logger, groups: make(map[string]*group),
		parts: make(map[partKey]*partition), byGroup: make(map[string]map[partKey]*partition), sessions: make(map[sessionKey]*session)}
}

// Attach gives the coordinator its journal once replay is done.
func (c *Coordinator) Attach(j Journal) { c.journal = j }

// Restore rebuilds state from one journal entry during replay.
func (c *Coordinator) Restore(key, value []byte) error {
	switch {
	case bytes.HasPrefix(key, []byte(partitionPrefix)):
		var k partKey
		if err := json.Unmarshal(key[len(partitionPrefix):], &[]any{&k.group, &k.topic, &k.partition}); err != nil {
			return fmt.Errorf("share: bad journal key %q", key)
		}
		p := &partition{group: k.group, topic: k.topic, index: k.partition}
		if err := p.restore(value, c.cfg.PartitionMaxLocks); err != nil {
			return fmt.Errorf("share: journal entry %q: %w", key, err)
		}
		c.putPartLocked(k, p)
	case bytes.HasPrefix(key, []byte(groupPrefix)):
		var ids []string
		if err := json.Unmarshal(key[len(groupPrefix):], &ids); err != nil || len(ids) != 1 {
			return fmt.Errorf("share: bad journal key %q", key)
		}
		var d groupDoc
		if err := json.Unmarshal(value, &d); err != nil {
			return fmt.Errorf("share: journal entry %q: %w", key, err)
		}
		c.groups[ids[0]] = restoreGroup(ids[0], d)
		c.known.Store(ids[0], true)
	}
	return nil
}

// Start drops the state of share partitions whose topic is gone (a crash between a topic's
// deletion and DeleteTopic leaves it; a topic re-created under the name must not inherit it).
func (c *Coordinator) Start() {
	c.mu.Lock()
	var entries []coordlog.Entry
	for k := range c.parts {
		if _, n, ok := c.logs.Partitions(k.topic); !ok || k.partition >= n {
			c.dropPartLocked(k)
			entries = append(entries, coordlog.Entry{Key: partitionKey(k)})
		}
	}
	wait := c.write(entries...)
	c.mu.Unlock()
	if err := wait(context.Background()); err != nil {
		c.logger.Error("share coordinator: dropping the state of deleted topics failed", "err", err)
	}
}

// Close stops every timer; later requests answer NOT_COORDINATOR.
func (c *Coordinator) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, g := range c.groups {
		for _, m := range g.members {
			if m.timer != nil {
				m.timer.Stop()
			}
		}
	}
}

// partsOfGroupLocked lists a group's share partitions; mu is held.
func (c *Coordinator) partsOfGroupLocked(group string) []*partition {
	out := make([]*partition, 0, len(c.byGroup[group]))
	for _, p := range c.byGroup[group] {
		out = append(out, p)
	}
	return out
}

// write appends entries to the journal; the returned wait runs without locks.
func (c *Coordinator) write(entries ...coordlog.Entry) func(context.Context) error {
	if len(entries) == 0 || c.journal == nil {
		return func(context.Context) error { return nil }
	}
	wait, err := c.journal.Append(entries...)
	if err != nil {
		c.logger.Error("share coordinator: journal write failed", "err", err)
		return func(context.Context) error { return err }
	}
	return wait
}

// partitionEntry is a share partition's journal entry; p.mu is held.
func partitionEntry(p *partition) coordlog.Entry {
	return coordlog.Entry{Key: partitionKey(partKey{p.group, p.topic, p.index}), Value: p.encodeLocked()}
}

// persistLocked writes a partition's state; p.mu is held, so the journal receives a
// partition's states in the order they were reached. A removed partition is not written.
func (c *Coordinator) persistLocked(p *partition) (func(context.Context) error, error) {
	if p.removed {
		return nil, errRemoved
	}
	if c.journal == nil {
		return func(context.Context) error { return nil }, nil
	}
	e := partitionEntry(p)
	if len(e.Value) > coordlog.MaxValueBytes {
		return nil, fmt.Errorf("share: state of %s-%d for group %s is %d bytes, more than the journal takes", p.topic, p.index, p.group, len(e.Value))
	}
	return c.journal.Append(e)
}

var errRemoved = errors.New("share: the share partition's state was deleted or reset")

// putPartLocked and dropPartLocked keep the partition maps in step; mu is held. Dropping marks
// the old state removed.
func (c *Coordinator) putPartLocked(k partKey, p *partition) {
	if old := c.parts[k]; old != nil {
		old.mu.Lock()
		old.removed = true
		old.mu.Unlock()
	}
	c.parts[k] = p
	if c.byGroup[k.group] == nil {
		c.byGroup[k.group] = make(map[partKey]*partition)
	}
	c.byGroup[k.group][k] = p
}

func (c *Coordinator) dropPartLocked(k partKey) {
	if old := c.parts[k]; old != nil {
		old.mu.Lock()
		old.removed = true
		old.mu.Unlock()
	}
	delete(c.parts, k)
	if m := c.byGroup[k.group]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(c.byGroup, k.group)
		}
	}
}

// groupLimits are the limits in force for a group: the broker's, with the group's own
// share.record.lock.duration.ms and share.isolation.level.
func (c *Coordinator) groupLimits(groupID string) limits {
	l := limits{lock: c.cfg.RecordLockDuration, deliveryLimit: c.cfg.DeliveryCountLimit, maxLocks: c.cfg.PartitionMaxLocks}
	gc := c.cfg.GroupConfig(groupID)
	if v, ok := gc["share.record.lock.duration.ms"]; ok {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
			l.lock = time.Duration(ms) * time.Millisecond
		}
	}
	l.readCommitted = gc["share.isolation.level"] == "read_committed"
	return l
}

// initialStart is where a new share partition starts: share.auto.offset.reset, latest (the
// high watermark) unless the group says earliest.
func (c *Coordinator) initialStart(groupID, topic string, partition int32) int64 {
	b, ok := c.logs.Bounds(topic, partition)
	if !ok {
		return 0
	}
	if c.cfg.GroupConfig(groupID)["share.auto.offset.reset"] == "earliest" {
		return b.Start
	}
	return b.HighWatermark
}
