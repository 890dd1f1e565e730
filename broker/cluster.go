package broker

import (
	"context"
	"errors"
	"fmt"
	"github.com/bulwark-kafka/bulwark/internal/filecache"
	"github.com/bulwark-kafka/bulwark/internal/fsutil"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/keys"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/meta"
	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// metadataDirName is the directory, under the first log dir, holding the metadata log. The name
// is reserved: no topic may take it.
const metadataDirName = "__cluster_metadata"

// partitionMetadataFile names the file in every partition directory that records which topic id
// the directory belongs to, so a directory left behind by a deleted topic is never mistaken for
// a new topic of the same name.
const partitionMetadataFile = "partition.metadata"

// cluster owns the broker's topics: the durable metadata store and one open log per partition.
//
// Concurrency: mu guards the topics maps; request handlers take it for reading only long enough
// to look a partition up. adminMu serializes every change to topics (create, delete, configs,
// partitions, log start offsets), which commits to the metadata store first and only then
// changes the maps, so the maps never hold what the metadata log does not. Lock order: adminMu,
// then mu.
type cluster struct {
	cfg *config.Config
	// live is the configuration in force (file reloads and dynamic broker configs applied).
	live   *liveConfig
	logger *slog.Logger
	// logLogger is what partition logs write to (component=log; each adds its name).
	logLogger *slog.Logger
	store     *meta.Store
	// keys wraps the data keys of everything written at rest; nil when encryption is off.
	keys keys.Provider

	adminMu sync.Mutex
	// spareFD is a descriptor held in reserve and given up to clean up after a creation that ran
	// out of descriptors (removing a directory needs one); adminMu guards it.
	spareFD *os.File
	// files is the cache every partition log opens its segment files through.
	files *filecache.Cache
	// space refuses produce into log directories that are low on space.
	space  *spaceGuard
	mu     sync.RWMutex
	topics map[string]*topic
	byID   map[meta.TopicID]*topic

	// stats receives the logs' fsync figures and holds each topic's counters (nil: metrics off).
	stats *stats.Broker

	// drain is closed when the broker starts shutting down, ending long polls early.
	drain     chan struct{}
	drainOnce sync.Once
}

// topic is the runtime view of one topic. It is replaced, never mutated, when its configuration
// changes; partitions are shared between the old and new values.
type topic struct {
	name       string
	id         meta.TopicID
	overrides  map[string]string
	cfg        config.TopicConfig
	partitions []*partition
	// counters are the topic's BrokerTopicMetrics; they outlive configuration changes (the
	// topic value is replaced, the counters are shared) and are nil with metrics off.
	counters *stats.Topic
	// sealContext is the encryption context its partitions' files share (nil: encryption off).
	sealContext keys.EncryptionContext
}

// partition is one topic-partition this broker leads.
type partition struct {
	topicName   string
	topicID     meta.TopicID
	index       int32
	dir         string
	log         *plog.Log
	leaderEpoch int32
	// counters are the topic's, resolved once so produce and fetch bump them without a lookup.
	counters *stats.Topic
}

func openCluster(cfg *config.Config, logger *slog.Logger, kp keys.Provider, st *stats.Broker) (*cluster, error) {
	if len(cfg.LogDirs) == 0 {
		return nil, errors.New("broker: no log.dirs configured")
	}
	for _, d := range cfg.LogDirs {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("broker: log dir: %w", err)
		}
	}
	store, err := meta.Open(filepath.Join(cfg.LogDirs[0], metadataDirName), meta.Options{NodeID: cfg.NodeID, Logger: logger,
		Sealing: metaSealing(cfg, kp)})
	if err != nil {
		return nil, err
	}
	c := &cluster{cfg: cfg, live: newLiveConfig(cfg, strconv.Itoa(int(cfg.NodeID))), logger: logger, logLogger: logger.With("component", "log"), store: store, keys: kp,
		topics: make(map[string]*topic), byID: make(map[meta.TopicID]*topic), drain: make(chan struct{}), stats: st,
		space: newSpaceGuard(cfg.LogDirs, cfg.LogDirsMinFreeBytes)}
	var openFiles string
	c.files, openFiles = newFileCache(processFiles)
	ms := store.State()
	if err := c.openTopics(ms); err != nil {
		_ = c.close()
		return nil, err
	}
	c.removeOrphans()
	c.spareFD, _ = os.Open(os.DevNull) // best effort: without it, cleanup simply has no reserve
	logger.Info("storage open", "cluster_id", ms.ClusterID, "topics", len(c.topics), "partitions", c.partitionCount(), "open_files", openFiles)
	return c, nil
}

// effectiveConfig resolves a topic's overrides over the broker's static and dynamic configs.
func (c *cluster) effectiveConfig(st *meta.State, overrides map[string]string) config.TopicConfig {
	return c.live.effective(st).EffectiveTopic(overrides)
}

// openTopics opens every topic's partition logs, storageWorkers at a time, and fills the topic
// maps. On failure it closes what it opened.
func (c *cluster) openTopics(st *meta.State) error {
	type job struct {
		t   *topic
		mp  meta.Partition
		pos int
	}
	var jobs []job
	for _, mt := range st.Topics {
		t := &topic{name: mt.Name, id: mt.ID, overrides: mt.Configs, cfg: c.effectiveConfig(st, mt.Configs), counters: c.stats.NewTopic(),
			partitions: make([]*partition, len(mt.Partitions)), sealContext: c.topicSealContext(mt.Name, mt.ID)}
		for pos, mp := range mt.Partitions {
			jobs = append(jobs, job{t, mp, pos})
		}
		c.topics[t.name] = t
		c.byID[t.id] = t
	}
	errs := forEachParallel(len(jobs), storageWorkers, true, func(i int) error {
		j := jobs[i]
		p, err := c.openPartition(j.t, j.mp)
		if err == nil {
			j.t.partitions[j.pos] = p
		}
		return err
	})
	if err := errors.Join(errs...); err != nil {
		for _, j := range jobs {
			if p := j.t.partitions[j.pos]; p != nil {
				_ = p.log.Close()
			}
		}
		c.topics, c.byID = make(map[string]*topic), make(map[meta.TopicID]*topic)
		return err
	}
	return nil
}

func (c *cluster) openPartition(t *topic, mp meta.Partition) (*partition, error) {
	name := t.name + "-" + strconv.Itoa(int(mp.Index))
	dir := c.findPartitionDir(name)
	if err := claimPartitionDir(dir, t.id); err != nil {
		return nil, err
	}
	lc := c.logConfig(t.cfg)
	lc.Sealing = c.partitionSealing(t, mp.Index)
	l, err := plog.Open(dir, lc, mp.LogStartOffset, c.logLogger)
	if err != nil {
		return nil, fmt.Errorf("broker: open %s: %w", name, err)
	}
	return &partition{topicName: t.name, topicID: t.id, index: mp.Index, dir: dir, log: l, leaderEpoch: mp.LeaderEpoch,
		counters: t.counters}, nil
}

// findPartitionDir returns the existing directory of a partition in any log dir, or a new one in
// the log dir holding the fewest partitions.
func (c *cluster) findPartitionDir(name string) string {
	if len(c.cfg.LogDirs) == 1 {
		// Nothing to choose; listing a directory of thousands of partitions for every new one
		// made creating many partitions quadratic.
		return filepath.Join(c.cfg.LogDirs[0], name)
	}
	best, bestCount := "", -1
	for _, d := range c.cfg.LogDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		entries, _ := os.ReadDir(d)
		if bestCount < 0 || len(entries) < bestCount {
			best, bestCount = p, len(entries)
		}
	}
	return best
}

// partitionMetadata is the partition.metadata file's content, as Kafka writes it.
func partitionMetadata(id meta.TopicID) []byte {
	return []byte("version: 0\ntopic_id: " + id.String() + "\n")
}

// claimPartitionDir makes dir belong to topic id: a directory left by an earlier topic of the
// same name (whose deletion was interrupted) is wiped first.
func claimPartitionDir(dir string, id meta.TopicID) error {
	want := string(partitionMetadata(id))
	got, err := fsutil.ReadFile(filepath.Join(dir, partitionMetadataFile))
	switch {
	case err == nil && string(got) == want:
		return nil
	case err == nil:
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("broker: remove stale partition dir: %w", err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("broker: read partition metadata: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("broker: partition dir: %w", err)
	}
	return fsutil.WriteFileAtomic(dir, partitionMetadataFile, []byte(want))
}

// removeOrphans deletes partition directories whose topic no longer exists (a crash between the
// DeleteTopic record and the directory removal). Only directories carrying partition metadata
// are touched.
func (c *cluster) removeOrphans() {
	owned := make(map[string]bool)
	for _, t := range c.topics {
		for _, p := range t.partitions {
			owned[p.dir] = true
		}
	}
	for _, d := range c.cfg.LogDirs {
		entries, _ := fsutil.ReadDir(d)
		for _, e := range entries {
			dir := filepath.Join(d, e.Name())
			if !e.IsDir() || e.Name() == metadataDirName || owned[dir] {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, partitionMetadataFile)); err != nil {
				continue
			}
			c.logger.Info("removing orphaned partition directory", "dir", dir)
			_ = os.RemoveAll(dir)
		}
	}
}

func (c *cluster) logConfig(tc config.TopicConfig) plog.Config {
	return plog.Config{
		ProducerIDExpirationMs: c.live.effective(c.store.State()).ProducerIDExpirationMs,
		SegmentBytes:           tc.SegmentBytes,
		SegmentMs:              time.Duration(tc.SegmentMs) * time.Millisecond,
		IndexIntervalBytes:     tc.IndexIntervalBytes,
		SegmentIndexBytes:      tc.SegmentIndexBytes,
		RetentionMs:            tc.RetentionMs,
		RetentionBytes:         tc.RetentionBytes,
		FileDeleteDelay:        time.Duration(tc.FileDeleteDelayMs) * time.Millisecond,
		Stats:                  c.stats.StorageStats(),
		Files:                  c.files,
	}
}

// lookupTopic returns a topic by name.
func (c *cluster) lookupTopic(name string) *topic {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.topics[name]
}

// lookupTopicID returns a topic by id.
func (c *cluster) lookupTopicID(id meta.TopicID) *topic {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byID[id]
}

// allTopics returns every topic, in no particular order.
func (c *cluster) allTopics() []*topic {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*topic, 0, len(c.topics))
	for _, t := range c.topics {
		out = append(out, t)
	}
	return out
}

func (t *topic) partition(i int32) *partition {
	if i < 0 || int(i) >= len(t.partitions) {
		return nil
	}
	return t.partitions[i]
}

// retentionLoop enforces retention and time-based rolls every log.retention.check.interval.ms,
// and persists any log start offset that moved.
func (c *cluster) retentionLoop(ctx context.Context, wg *sync.WaitGroup) {
	interval := c.cfg.RetentionCheckInterval
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	c.runEvery(ctx, wg, interval, c.enforceRetention)
}

// runEvery calls fn every interval until the broker stops or starts draining, then marks wg
// done: the shape of the cluster's background loops.
func (c *cluster) runEvery(ctx context.Context, wg *sync.WaitGroup, interval time.Duration, fn func(now time.Time)) {
	defer wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.drain:
			return
		case now := <-tick.C:
			fn(now)
		}
	}
}

func (c *cluster) enforceRetention(now time.Time) {
	for _, t := range c.allTopics() {
		for _, p := range t.partitions {
			p.log.ExpireProducers(now)
			before := p.log.LogStartOffset()
			n, err := p.log.EnforceRetention(now)
			if err != nil {
				c.logger.Error("retention failed", "topic", t.name, "partition", p.index, "err", err)
				continue
			}
			if after := p.log.LogStartOffset(); after != before {
				c.logger.Info("retention deleted segments", "topic", t.name, "partition", p.index,
					"segments", n, "log_start_offset", after)
				c.persistLogStart(p)
			}
		}
	}
}

// persistLogStart records a partition's log start offset in the metadata log, so that a restart
// does not serve records that DeleteRecords or retention removed. It stores the log's current
// value under adminMu rather than the caller's, so concurrent callers can never persist an older
// offset after a newer one.
func (c *cluster) persistLogStart(p *partition) {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	mt := c.store.State().TopicsByID[p.topicID]
	if mt == nil || int(p.index) >= len(mt.Partitions) {
		return // deleted meanwhile
	}
	offset := p.log.LogStartOffset()
	if offset <= mt.Partitions[p.index].LogStartOffset {
		return
	}
	if _, err := c.store.Commit(meta.SetLogStartOffset{ID: p.topicID, Partition: p.index, Offset: offset}); err != nil {
		c.logger.Error("persist log start offset", "topic", p.topicName, "partition", p.index, "err", err)
	}
}

func (c *cluster) wakeAll() { c.drainOnce.Do(func() { close(c.drain) }) }

// close syncs and closes every log and the metadata store.
func (c *cluster) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	c.adminMu.Lock()
	if c.spareFD != nil {
		_ = c.spareFD.Close()
		c.spareFD = nil
	}
	c.adminMu.Unlock()
	errs = append(errs, closeLogs(c.topics)...)
	// A snapshot at clean shutdown makes the next start replay nothing.
	if err := c.store.Snapshot(); err != nil {
		errs = append(errs, err)
	}
	if err := c.store.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// closeLogs closes every partition log of topics, storageWorkers at a time, and returns the
// errors.
func closeLogs(topics map[string]*topic) []error {
	var ps []*partition
	for _, t := range topics {
		ps = append(ps, t.partitions...)
	}
	var errs []error
	for _, err := range forEachParallel(len(ps), storageWorkers, false, func(i int) error { return ps[i].log.Close() }) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validTopicName reports why name cannot be a topic, or "" if it can (Kafka's Topic.validate).
func validTopicName(name string) string {
	switch {
	case name == "":
		return "topic name is empty"
	case name == "." || name == "..":
		return "topic name cannot be '.' or '..'"
	case len(name) > 249:
		return "topic name is longer than 249 characters"
	case name == metadataDirName:
		return "topic name is reserved"
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "topic name contains characters other than ASCII alphanumerics, '.', '_' and '-'"
		}
	}
	return ""
}

// collisionKey folds '.' into '_', because metric names cannot tell them apart (Kafka rejects a
// topic whose name collides with an existing one under this folding).
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }
