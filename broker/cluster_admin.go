package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/bulwark-kafka/bulwark/broker/config"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/meta"
	"github.com/bulwark-kafka/bulwark/internal/fsutil"
)

// apiError is a Kafka error code with a message for the client. Handlers put both into the
// response; the message never carries internal detail (that goes to the log).
type apiError struct {
	code *kerr.Error
	msg  string
}

func (e *apiError) Error() string { return e.code.Message + ": " + e.msg }

func newAPIError(code *kerr.Error, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// errorCode returns the Kafka code for any error a cluster operation returned: an apiError's own
// code, or UNKNOWN_SERVER_ERROR for internal failures (which the operation has logged).
func errorCode(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		msg := ae.msg
		return ae.code.Code, &msg
	}
	return kerr.UnknownServerError.Code, nil
}

// createTopic validates and (unless validateOnly) creates a topic. numPartitions -1 means the
// broker default (KIP-464).
func (c *cluster) createTopic(name string, numPartitions int32, overrides map[string]string, validateOnly bool) (*topic, error) {
	if why := validTopicName(name); why != "" {
		return nil, newAPIError(kerr.InvalidTopicException, "%s", why)
	}
	if numPartitions == -1 {
		numPartitions = c.live.effective(c.store.State()).NumPartitions
	}
	if numPartitions <= 0 {
		return nil, newAPIError(kerr.InvalidPartitions, "number of partitions must be larger than 0")
	}
	if err := config.ValidateTopicConfigs(overrides); err != nil {
		return nil, newAPIError(kerr.InvalidConfig, "%v", err)
	}
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	if c.lookupTopic(name) != nil {
		return nil, newAPIError(kerr.TopicAlreadyExists, "topic '%s' already exists", name)
	}
	for _, t := range c.allTopics() {
		if collisionKey(t.name) == collisionKey(name) {
			return nil, newAPIError(kerr.InvalidTopicException, "topic '%s' collides with existing topic '%s'", name, t.name)
		}
	}
	if err := c.admitPartitions(numPartitions); err != nil {
		return nil, err
	}
	if validateOnly {
		return nil, nil
	}
	// Storage first, then the metadata record that makes the topic exist: a failure while
	// creating the logs removes them and leaves no record, and a crash before the record leaves
	// only directories that the next start removes as orphans. Either way the name stays free.
	id := meta.NewTopicID()
	t := &topic{name: name, id: id, overrides: overrides, cfg: c.effectiveConfig(c.store.State(), overrides), counters: c.stats.NewTopic(),
		sealContext: c.topicSealContext(name, id)}
	ps, err := c.openNewPartitions(t, 0, numPartitions)
	if err != nil {
		c.logger.Error("create topic: creating logs failed; nothing was created", "topic", name, "partitions", numPartitions, "err", err)
		return nil, err
	}
	t.partitions = ps
	if _, err := c.store.Commit(meta.CreateTopic{Name: name, ID: id, Partitions: numPartitions, Configs: overrides}); err != nil {
		c.logger.Error("create topic: metadata commit failed; logs removed", "topic", name, "err", err)
		c.discardPartitions(ps)
		return nil, err
	}
	c.mu.Lock()
	c.topics[name] = t
	c.byID[id] = t
	c.mu.Unlock()
	c.logger.Info("topic created", "topic", name, "id", id.String(), "partitions", numPartitions)
	return t, nil
}

// deleteTopic removes a topic: the metadata record first (the durable decision), then its logs.
// A crash between the two leaves directories that the next start removes as orphans.
func (c *cluster) deleteTopic(t *topic) error {
	if !c.cfg.DeleteTopicEnable {
		return newAPIError(kerr.TopicDeletionDisabled, "topic deletion is disabled")
	}
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	if c.lookupTopicID(t.id) == nil {
		return newAPIError(kerr.UnknownTopicOrPartition, "topic '%s' does not exist", t.name)
	}
	if _, err := c.store.Commit(meta.DeleteTopic{ID: t.id}); err != nil {
		c.logger.Error("delete topic: metadata commit failed", "topic", t.name, "err", err)
		return err
	}
	c.mu.Lock()
	delete(c.topics, t.name)
	delete(c.byID, t.id)
	c.mu.Unlock()
	for _, p := range t.partitions {
		if err := p.log.Delete(); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.logger.Error("delete topic: removing partition failed", "topic", t.name, "partition", p.index, "err", err)
		}
	}
	c.logger.Info("topic deleted", "topic", t.name, "id", t.id.String())
	return nil
}

// createPartitions grows a topic to total partitions. Kafka never shrinks a topic.
func (c *cluster) createPartitions(name string, total int32, validateOnly bool) (added int32, err error) {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	t := c.lookupTopic(name)
	if t == nil {
		return 0, newAPIError(kerr.UnknownTopicOrPartition, "topic '%s' does not exist", name)
	}
	have := int32(len(t.partitions))
	switch {
	case total == have:
		return 0, newAPIError(kerr.InvalidPartitions, "topic already has %d partitions", have)
	case total < have:
		return 0, newAPIError(kerr.InvalidPartitions, "topic currently has %d partitions, %d would not be an increase", have, total)
	}
	if err := c.admitPartitions(total - have); err != nil {
		return 0, err
	}
	if validateOnly {
		return 0, nil
	}
	// As in createTopic: the new logs first, then the record that adds them.
	nt := *t
	ps, err := c.openNewPartitions(&nt, have, total)
	if err != nil {
		c.logger.Error("create partitions: creating logs failed; nothing was added", "topic", name, "total", total, "err", err)
		return 0, err
	}
	if _, err := c.store.Commit(meta.CreatePartitions{ID: t.id, Total: total}); err != nil {
		c.logger.Error("create partitions: metadata commit failed; logs removed", "topic", name, "err", err)
		c.discardPartitions(ps)
		return 0, err
	}
	nt.partitions = append(append([]*partition(nil), t.partitions...), ps...)
	c.swapTopic(&nt)
	return total - have, nil
}

// admitPartitions refuses, up front, a creation of n partitions that would pass a limit:
// bulwark.max.partitions, or a log directory under its free-space minimum (a new partition
// could land there, and nothing should be added to a full disk). adminMu is held.
func (c *cluster) admitPartitions(n int32) error {
	if limit := c.cfg.MaxPartitions; limit > 0 {
		if have := c.partitionCount(); int64(have)+int64(n) > int64(limit) {
			return newAPIError(kerr.PolicyViolation,
				"%d new partitions would make %d on this broker, over its limit of %d (bulwark.max.partitions)", n, int64(have)+int64(n), limit)
		}
	}
	if d := c.space.lowDir(); d != nil {
		return newAPIError(kerr.PolicyViolation,
			"log directory %s has %d bytes free, under its minimum of %d (bulwark.log.dirs.min.free.bytes): no partitions are created until space is freed",
			d.dir, max(d.free.Load(), 0), d.threshold.Load())
	}
	return nil
}

// partitionCount is how many partitions the broker holds.
func (c *cluster) partitionCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := 0
	for _, t := range c.topics {
		n += len(t.partitions)
	}
	return n
}

// openNewPartitions creates the logs of partitions [from, to) of t, which no metadata names yet
// (new partitions start at offset 0 and leader epoch 0, as the record will say), and makes them
// durable together before returning: one syncfs per log directory instead of a few fsyncs per
// partition. On failure it removes everything it made, failed partitions' directories included.
func (c *cluster) openNewPartitions(t *topic, from, to int32) ([]*partition, error) {
	dirs := c.placeNewPartitions(t.name, from, to)
	syncers, err := openFSSyncs(dirs)
	if err != nil {
		return nil, fmt.Errorf("broker: open log directory: %w", err)
	}
	defer closeFSSyncs(syncers)
	ps := make([]*partition, to-from)
	errs := forEachParallel(int(to-from), storageWorkers, true, func(i int) (err error) {
		ps[i], err = c.createPartition(t, from+int32(i), dirs[i])
		return err
	})
	if err := errors.Join(errs...); err != nil {
		// The partitions made first, which frees their descriptors for removing the failed
		// ones' directories (the usual failure is running out of descriptors).
		var made []*partition
		for _, p := range ps {
			if p != nil {
				made = append(made, p)
			}
		}
		c.discardPartitions(made)
		for i := range ps {
			if errs[i] != nil {
				c.removeDir(dirs[i])
			}
		}
		return nil, err
	}
	if err := syncNewPartitions(ps, syncers); err != nil {
		c.discardPartitions(ps)
		return nil, fmt.Errorf("broker: make new partitions durable: %w", err)
	}
	return ps, nil
}

// placeNewPartitions picks the directories of partitions [from, to) of topic: each goes to the
// log directory holding the fewest partitions so far. adminMu is held.
func (c *cluster) placeNewPartitions(topic string, from, to int32) []string {
	count := make(map[string]int, len(c.cfg.LogDirs))
	if len(c.cfg.LogDirs) > 1 {
		for _, t := range c.allTopics() {
			for _, p := range t.partitions {
				count[filepath.Dir(p.dir)]++
			}
		}
	}
	dirs := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		best := filepath.Clean(c.cfg.LogDirs[0])
		for _, d := range c.cfg.LogDirs[1:] {
			if d = filepath.Clean(d); count[d] < count[best] {
				best = d
			}
		}
		count[best]++
		dirs = append(dirs, filepath.Join(best, topic+"-"+strconv.Itoa(int(i))))
	}
	return dirs
}

// createPartition makes a new partition's directory, metadata file and empty log in dir, without
// fsyncs (syncNewPartitions follows). A directory of that name in any log directory names no
// partition the metadata knows (the index is new), so it is the residue of an interrupted
// operation and is removed first.
func (c *cluster) createPartition(t *topic, index int32, dir string) (*partition, error) {
	name := filepath.Base(dir)
	for _, d := range c.cfg.LogDirs {
		if err := os.RemoveAll(filepath.Join(d, name)); err != nil {
			return nil, fmt.Errorf("broker: remove stale partition dir: %w", err)
		}
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		return nil, fmt.Errorf("broker: partition dir: %w", err)
	}
	if err := fsutil.WriteNew(filepath.Join(dir, partitionMetadataFile), partitionMetadata(t.id), 0o640); err != nil {
		return nil, fmt.Errorf("broker: partition metadata: %w", err)
	}
	lc := c.logConfig(t.cfg)
	lc.Sealing = c.partitionSealing(t, index)
	l, err := plog.Create(dir, lc, 0, c.logLogger)
	if err != nil {
		return nil, fmt.Errorf("broker: create %s: %w", name, err)
	}
	return &partition{topicName: t.name, topicID: t.id, index: index, dir: dir, log: l, counters: t.counters}, nil
}

// openFSSyncs opens, for each log directory among the new partitions' dirs, the descriptor that
// syncNewPartitions syncs its file system through. They are opened before anything is written, so
// a writeback error during the creation cannot slip past the syncfs (see fsutil.FSSync).
func openFSSyncs(dirs []string) (map[string]*fsutil.FSSync, error) {
	syncers := map[string]*fsutil.FSSync{}
	for _, d := range dirs {
		logDir := filepath.Dir(d)
		if syncers[logDir] != nil {
			continue
		}
		s, err := fsutil.OpenFSSync(logDir)
		if err != nil {
			closeFSSyncs(syncers)
			return nil, err
		}
		syncers[logDir] = s
	}
	return syncers, nil
}

func closeFSSyncs(syncers map[string]*fsutil.FSSync) {
	for _, s := range syncers {
		_ = s.Close()
	}
}

// syncNewPartitions makes new partitions' directories and files durable: a syncfs of each log
// directory's file system where the platform has one, else an fsync of every file and directory.
// Then, where a syncfs reports writeback errors, it tells each log its files are durable, so
// that the cache of open files closes them without an fsync each when later partitions need the
// room; elsewhere the cache still fsyncs them, since a lost error would go unseen.
func syncNewPartitions(ps []*partition, syncers map[string]*fsutil.FSSync) error {
	var marks []plog.WriteMark
	for _, p := range ps {
		if syncers[filepath.Dir(p.dir)].ReportsErrors() {
			marks = append(marks, p.log.WriteMark())
		}
	}
	if err := syncLogDirs(ps, syncers); err != nil {
		return err
	}
	for _, m := range marks {
		m.Synced()
	}
	return nil
}

func syncLogDirs(ps []*partition, syncers map[string]*fsutil.FSSync) error {
	unsynced := map[string]bool{}
	for d, s := range syncers {
		err := s.Sync()
		if errors.Is(err, errors.ErrUnsupported) {
			unsynced[d] = true
			continue
		}
		if err != nil {
			return err
		}
	}
	if len(unsynced) == 0 {
		return nil
	}
	for _, p := range ps {
		if err := fsutil.SyncTree(p.dir); err != nil {
			return err
		}
	}
	for d := range unsynced {
		if err := fsutil.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// discardPartitions closes and removes logs that no metadata names.
func (c *cluster) discardPartitions(ps []*partition) {
	for _, p := range ps {
		if err := p.log.Delete(); err != nil {
			c.removeDir(p.dir)
		}
	}
}

// removeDir removes a directory a failed creation left behind. Running out of descriptors is the
// usual cause of such a failure, and removing a directory takes one, so on EMFILE the spare
// descriptor is given up for the retry. What still cannot be removed is logged; it names no topic,
// so it is harmless, and the next start removes it as an orphan. adminMu is held.
func (c *cluster) removeDir(dir string) {
	err := removeFlatDir(dir)
	if (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) && c.spareFD != nil {
		_ = c.spareFD.Close()
		err = removeFlatDir(dir)
		c.spareFD, _ = os.Open(os.DevNull)
	}
	if err != nil {
		c.logger.Error("removing a partition directory left by a failed creation; the next start removes it", "dir", dir, "err", err)
	}
}

// removeFlatDir removes a partition directory (which holds files only) with one descriptor at
// most, for its listing: os.RemoveAll holds two, and when descriptors have run out the spare one
// is all there is.
func removeFlatDir(dir string) error {
	ents, err := fsutil.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return os.RemoveAll(dir) // not flat after all
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (c *cluster) swapTopic(t *topic) {
	c.mu.Lock()
	c.topics[t.name] = t
	c.byID[t.id] = t
	c.mu.Unlock()
}

// deleteRecords moves a partition's log start offset to offset (-1: the high watermark) and
// persists it. It returns the new low watermark.
func (c *cluster) deleteRecords(p *partition, offset int64) (int64, error) {
	if offset == -1 {
		offset = p.log.HighWatermark()
	}
	if offset < 0 || offset > p.log.HighWatermark() {
		return -1, newAPIError(kerr.OffsetOutOfRange, "offset %d is outside [0, %d]", offset, p.log.HighWatermark())
	}
	before := p.log.LogStartOffset()
	low, err := p.log.DeleteRecordsBefore(offset)
	if err != nil {
		c.logger.Error("delete records failed", "topic", p.topicName, "partition", p.index, "err", err)
		return -1, err
	}
	if low != before {
		c.persistLogStart(p)
	}
	return low, nil
}

// now is the broker's clock, one place to change for tests.
var now = time.Now

// updateTopicConfigs computes a topic's new override set from its current one with fn and stores
// it (AlterConfigs and IncrementalAlterConfigs). Reading and writing happen under adminMu, so
// concurrent incremental changes never lose each other's keys. fn must not modify cur.
func (c *cluster) updateTopicConfigs(name string, fn func(cur map[string]string) (map[string]string, error), validateOnly bool) error {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	cur := c.lookupTopic(name)
	if cur == nil {
		return newAPIError(kerr.UnknownTopicOrPartition, "topic '%s' does not exist", name)
	}
	overrides, err := fn(cur.overrides)
	if err != nil {
		return err
	}
	if err := config.ValidateTopicConfigs(overrides); err != nil {
		return newAPIError(kerr.InvalidConfig, "%v", err)
	}
	if validateOnly {
		return nil
	}
	st, err := c.store.Commit(meta.SetTopicConfigs{ID: cur.id, Configs: overrides})
	if err != nil {
		c.logger.Error("alter topic configs: metadata commit failed", "topic", name, "err", err)
		return err
	}
	c.reconfigure(st, cur, st.TopicsByID[cur.id].Configs)
	return nil
}

// updateBrokerConfigs is updateTopicConfigs for a dynamic broker config set: node is "" for the
// cluster default or this node's id. fn receives the set's current contents (nil when empty).
func (c *cluster) updateBrokerConfigs(node string, fn func(cur map[string]string) (map[string]string, error), validateOnly bool) error {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	st := c.store.State()
	cur := st.ClusterBrokerConfigs
	if node != "" {
		cur = st.NodeBrokerConfigs[node]
	}
	configs, err := fn(cur)
	if err != nil {
		return err
	}
	if err := config.ValidateBrokerDynamic(configs); err != nil {
		return newAPIError(kerr.InvalidConfig, "%v", err)
	}
	if validateOnly {
		return nil
	}
	if st, err = c.store.Commit(meta.SetBrokerConfigs{Node: node, Configs: configs}); err != nil {
		c.logger.Error("alter broker configs: metadata commit failed", "err", err)
		return err
	}
	// Topics inherit broker values, so every topic's effective configuration is resolved again.
	for _, t := range c.allTopics() {
		c.reconfigure(st, t, t.overrides)
	}
	return nil
}

// reconfigure replaces t with a copy carrying overrides and the effective configuration they
// resolve to under st, and hands the new settings to its logs. Callers hold adminMu.
func (c *cluster) reconfigure(st *meta.State, t *topic, overrides map[string]string) {
	nt := *t
	nt.overrides = overrides
	nt.cfg = c.effectiveConfig(st, overrides)
	for _, p := range nt.partitions {
		p.log.SetConfig(c.logConfig(nt.cfg))
	}
	c.swapTopic(&nt)
}

// reconfigureAll resolves every topic's effective configuration again, after the broker-level
// values it inherits changed outside the metadata log (a configuration file reload).
func (c *cluster) reconfigureAll() {
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	st := c.store.State()
	for _, t := range c.allTopics() {
		c.reconfigure(st, t, t.overrides)
	}
}
