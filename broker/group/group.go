package group

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
)

// Journal is where the coordinator makes its state durable (a *coordlog.Store).
type Journal interface {
	// Append adds the entries as one atomic write and returns a function that waits until it is
	// durable. Appends are ordered: a later Append never becomes durable before an earlier one.
	Append(entries ...coordlog.Entry) (wait func(context.Context) error, err error)
}

// Topics is the broker's view of its topics, for offset commits and the consumer protocol.
type Topics interface {
	// Partitions returns the topic's id and partition count; ok is false for unknown topics.
	Partitions(topic string) (id [16]byte, partitions int32, ok bool)
	// Names lists every topic (regex subscriptions of the consumer protocol).
	Names() []string
}

// Config holds the broker settings the coordinator obeys (Kafka's names in comments).
type Config struct {
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms, 3 s
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms, 6 s
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms, 30 min
	MaxGroupSize          int           // group.max.size, unlimited by default
	OffsetsRetention      time.Duration // offsets.retention.minutes, 7 days
	OffsetsCheckInterval  time.Duration // offsets.retention.check.interval.ms, 10 min
	MaxMetadataBytes      int           // offset.metadata.max.bytes, 4096

	// The consumer (KIP-848) protocol.
	ConsumerHeartbeatInterval time.Duration // group.consumer.heartbeat.interval.ms, 5 s
	ConsumerSessionTimeout    time.Duration // group.consumer.session.timeout.ms, 45 s
	ConsumerMaxSize           int           // group.consumer.max.size, unlimited by default
	ConsumerAssignors         []string      // group.consumer.assignors, "uniform,range"
	// OtherGroup reports whether another kind of group (a share group) holds an id: such an id
	// cannot become a classic or consumer group. It is called with the coordinator's lock held,
	// so it must not wait for any lock of its own.
	OtherGroup func(id string) bool
	// MigrationPolicy is group.consumer.migration.policy: which online conversions between the
	// classic and the consumer protocol are allowed (migrate.go); "" means bidirectional.
	MigrationPolicy string
	// RegexNeedsAuthorization limits a regex subscription to the topics its member is already
	// assigned until the member has heartbeated with a ClientInfo.DescribeTopic filter (a
	// member restored from the journal has none yet): set when the broker authorizes requests.
	RegexNeedsAuthorization bool

	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		InitialRebalanceDelay:     3 * time.Second,
		MinSessionTimeout:         6 * time.Second,
		MaxSessionTimeout:         30 * time.Minute,
		OffsetsRetention:          7 * 24 * time.Hour,
		OffsetsCheckInterval:      10 * time.Minute,
		MaxMetadataBytes:          4096,
		ConsumerHeartbeatInterval: 5 * time.Second,
		ConsumerSessionTimeout:    45 * time.Second,
		ConsumerAssignors:         []string{"uniform", "range"},
	}
}

// Coordinator is the group coordinator of this broker.
type Coordinator struct {
	cfg     Config
	topics  Topics
	logger  *slog.Logger
	journal Journal

	mu     sync.Mutex
	groups map[string]*group
	closed bool
	// rebalances are counted for the metrics.
	rebalances Rebalances
	stop       chan struct{}
	wg         sync.WaitGroup
}

// New makes a coordinator. Restore is then called for every journal key it owns, then Attach.
func New(cfg Config, topics Topics) *Coordinator {
	d := DefaultConfig()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OtherGroup == nil {
		cfg.OtherGroup = func(string) bool { return false }
	}
	if cfg.MaxMetadataBytes <= 0 {
		cfg.MaxMetadataBytes = d.MaxMetadataBytes
	}
	if cfg.OffsetsCheckInterval <= 0 {
		cfg.OffsetsCheckInterval = d.OffsetsCheckInterval
	}
	if cfg.ConsumerHeartbeatInterval <= 0 {
		cfg.ConsumerHeartbeatInterval = d.ConsumerHeartbeatInterval
	}
	if cfg.ConsumerSessionTimeout <= 0 {
		cfg.ConsumerSessionTimeout = d.ConsumerSessionTimeout
	}
	if len(cfg.ConsumerAssignors) == 0 {
		cfg.ConsumerAssignors = d.ConsumerAssignors
	}
	return &Coordinator{cfg: cfg, topics: topics, logger: cfg.Logger, groups: make(map[string]*group), stop: make(chan struct{})}
}

// Attach gives the coordinator its journal once replay is done.
func (c *Coordinator) Attach(j Journal) { c.journal = j }

// Start arms the timers of restored groups and starts offset expiry.
func (c *Coordinator) Start() {
	c.mu.Lock()
	for _, g := range c.groups {
		if g.classic != nil {
			for _, m := range g.classic.members {
				c.armSession(g, m)
			}
		}
		if g.consumer != nil {
			for _, m := range g.consumer.members {
				c.armConsumerSession(g, m)
			}
		}
	}
	c.mu.Unlock()
	c.wg.Add(1)
	go c.expiryLoop()
}

// Close stops the timers; requests still waiting for a rebalance are answered with
// NOT_COORDINATOR so clients look the coordinator up again.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.stop)
	for _, g := range c.groups {
		c.shutdownGroup(g)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *Coordinator) expiryLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.OffsetsCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.ExpireOffsets()
		}
	}
}

// group is one group id: its membership (classic or consumer protocol, or neither for a group
// that only holds offsets) and its offsets.
type group struct {
	id       string
	classic  *classicGroup
	consumer *consumerGroup
	offsets  map[topicPartition]offset
	// pendingTxn holds transactional offset commits per producer id until the transaction ends.
	pendingTxn map[int64]map[topicPartition]offset
	// emptySince is when the group last became empty (offset expiry starts then).
	emptySince time.Time
}

type topicPartition struct {
	topic     string
	partition int32
}

// offset is one committed offset.
type offset struct {
	Offset      int64  `json:"offset"`
	LeaderEpoch int32  `json:"leader_epoch"`
	Metadata    string `json:"metadata"`
	CommitMs    int64  `json:"commit_ms"`
	// ExpireMs is an explicit expiry from OffsetCommit v2–v4 retention_time (-1: default).
	ExpireMs int64 `json:"expire_ms"`
}

// getGroup returns the group, creating it (with no membership) when create is set.
func (c *Coordinator) getGroup(id string, create bool) *group {
	g := c.groups[id]
	if g == nil && create {
		g = &group{id: id, offsets: make(map[topicPartition]offset), pendingTxn: make(map[int64]map[topicPartition]offset), emptySince: c.cfg.Now()}
		c.groups[id] = g
	}
	return g
}

// isEmpty reports whether the group has no members in either protocol.
func (g *group) isEmpty() bool {
	return (g.classic == nil || len(g.classic.members) == 0) && (g.consumer == nil || len(g.consumer.members) == 0)
}

// stateName is the group state as DescribeGroups and ListGroups name it.
func (g *group) stateName() string {
	switch {
	case g.classic != nil:
		return g.classic.state.String()
	case g.consumer != nil:
		return g.consumer.stateName()
	}
	return "Empty"
}

// protocolType is the group's protocol type ("consumer" for KIP-848 groups).
func (g *group) protocolType() string {
	switch {
	case g.classic != nil:
		return g.classic.protocolType
	case g.consumer != nil:
		return "consumer"
	}
	return ""
}

// groupType is "classic" or "consumer" (ListGroups v5).
func (g *group) groupType() string {
	if g.consumer != nil {
		return "consumer"
	}
	return "classic"
}

// shutdownGroup stops a group's timers and fails its waiters (Close, DeleteGroups).
func (c *Coordinator) shutdownGroup(g *group) {
	if cg := g.classic; cg != nil {
		cg.stopTimers()
		for _, m := range cg.members {
			m.stopTimer()
			c.failJoin(m, notCoordinator)
			c.failSync(m, notCoordinator)
		}
		for _, p := range cg.pending {
			p.Stop()
		}
	}
	if g.consumer != nil {
		for _, m := range g.consumer.members {
			if m.timer != nil {
				m.timer.Stop()
			}
		}
	}
}

// newMemberID makes a member id as Kafka does: the client (or instance) id, a dash, a UUID.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// write appends entries to the journal; mu is held. The returned wait runs without mu.
func (c *Coordinator) write(entries ...coordlog.Entry) func(context.Context) error {
	if len(entries) == 0 || c.journal == nil {
		return func(context.Context) error { return nil }
	}
	// A large commit (tens of thousands of partitions) is split to stay within the journal's
	// write limit; durability of the last part implies the earlier ones (appends are ordered).
	var wait func(context.Context) error
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && (n == 0 || size+len(entries[n].Key)+len(entries[n].Value) <= maxJournalWrite) {
			size += len(entries[n].Key) + len(entries[n].Value)
			n++
		}
		w, err := c.journal.Append(entries[:n]...)
		if err != nil {
			c.logger.Error("group coordinator journal append failed", "err", err)
			return func(context.Context) error { return err }
		}
		wait, entries = w, entries[n:]
	}
	return wait
}

// maxJournalWrite is how many key and value bytes one journal append carries at most (half of
// coordlog.MaxWriteBytes).
const maxJournalWrite = coordlog.MaxWriteBytes / 2
