package broker

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/meta"
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
	if err := admitPartitions(c.files, numPartitions); err != nil {
		return nil, err
	}
	if validateOnly {
		return nil, nil
	}
	// Storage first, then the metadata record that makes the topic exist: a failure while
	// creating the logs removes them and leaves no record, and a crash before the record leaves
	// only directories that the next start removes as orphans. Either way the name stays free.
	id := meta.NewTopicID()
	t := &topic{name: name, id: id, overrides: overrides, cfg: c.effectiveConfig(c.store.State(), overrides), counters: c.stats.NewTopic()}
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
	if err := admitPartitions(c.files, total-have); err != nil {
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

// openNewPartitions creates and opens the logs of partitions [from, to) of t, which no metadata
// names yet (new partitions start at offset 0 and leader epoch 0, as the record will say). On
// failure it removes everything it made, the failing partition's directory included.
func (c *cluster) openNewPartitions(t *topic, from, to int32) ([]*partition, error) {
	ps := make([]*partition, 0, to-from)
	for i := from; i < to; i++ {
		p, err := c.openPartition(t, meta.Partition{Index: i})
		if err != nil {
			c.discardPartitions(ps)
			c.removeDir(c.findPartitionDir(t.name + "-" + strconv.Itoa(int(i))))
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
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
	err := os.RemoveAll(dir)
	if (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) && c.spareFD != nil {
		_ = c.spareFD.Close()
		err = os.RemoveAll(dir)
		c.spareFD, _ = os.Open(os.DevNull)
	}
	if err != nil {
		c.logger.Error("removing a partition directory left by a failed creation; the next start removes it", "dir", dir, "err", err)
	}
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
