package broker

// The coordinators living in this broker: the group coordinator (package group), the
// transaction coordinator (package txn) and the share-group coordinator (package share),
// sharing one durable journal (package coordlog) in
// <first log.dir>/__bulwark_coordinator, sealed like every partition when encryption is on.

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
	"github.com/bulwark-kafka/bulwark/broker/envelope"
	"github.com/bulwark-kafka/bulwark/broker/group"
	"github.com/bulwark-kafka/bulwark/broker/keys"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/share"
)

// coordinatorDirName is the journal's directory under the first log directory. It carries no
// partition.metadata file, so orphan cleanup leaves it alone.
const coordinatorDirName = "__bulwark_coordinator"

// coordinators is the group and transaction coordinator state of this broker.
type coordinators struct {
	journal *coordlog.Store
	groups  *group.Coordinator
	txns    *txnCoordinator
	shares  *share.Coordinator
	// projection keeps __consumer_offsets and __transaction_state in step with the journal.
	projection *projection
}

// openCoordinators rebuilds coordinator state from the journal. Called by New once the
// cluster is open.
func (s *Server) openCoordinators() error {
	gcfg := group.DefaultConfig()
	gcfg.Logger = s.logger.With("component", "group-coordinator")
	gcfg.InitialRebalanceDelay = s.cfg.GroupInitialRebalanceDelay
	gcfg.MinSessionTimeout = s.cfg.GroupMinSessionTimeout
	gcfg.MaxSessionTimeout = s.cfg.GroupMaxSessionTimeout
	gcfg.MaxGroupSize = unlimitedAsZero(s.cfg.GroupMaxSize)
	gcfg.OffsetsRetention = s.cfg.OffsetsRetention
	gcfg.OffsetsCheckInterval = s.cfg.OffsetsRetentionCheckInterval
	gcfg.MaxMetadataBytes = int(s.cfg.OffsetMetadataMaxBytes)
	gcfg.ConsumerHeartbeatInterval = s.cfg.GroupConsumerHeartbeatInterval
	gcfg.ConsumerSessionTimeout = s.cfg.GroupConsumerSessionTimeout
	gcfg.ConsumerMaxSize = unlimitedAsZero(s.cfg.GroupConsumerMaxSize)
	gcfg.ConsumerAssignors = s.cfg.GroupConsumerAssignors
	gcfg.MigrationPolicy = s.cfg.GroupConsumerMigrationPolicy
	gcfg.RegexNeedsAuthorization = s.authz != nil
	gcfg.OtherGroup = func(id string) bool { return s.coord.shares.IsShareGroup(id) }
	s.coord.groups = group.New(gcfg, topicView{s.cluster})
	s.coord.txns = s.newTxnCoordinator()
	s.coord.shares = s.newShareCoordinator()

	lc := plog.DefaultConfig()
	lc.SegmentBytes = int64(s.cfg.OffsetsTopicSegmentBytes)
	lc.RetentionMs, lc.RetentionBytes = -1, -1
	lc.Sealing = s.coordinatorSealing()
	dir := filepath.Join(s.cfg.LogDirs[0], coordinatorDirName)
	s.coord.projection = s.newProjection()
	j, err := coordlog.Open(dir, coordlog.Options{Config: lc, Logger: s.logger.With("component", "coordinator-journal"),
		Changed: s.coord.projection.changed},
		func(key, value []byte) error {
			if group.Owns(key) {
				return s.coord.groups.Restore(key, value)
			}
			if share.Owns(key) {
				return s.coord.shares.Restore(key, value)
			}
			return s.coord.txns.restore(key, value)
		})
	if err != nil {
		return fmt.Errorf("broker: open coordinator journal: %w", err)
	}
	s.coord.journal = j
	s.coord.projection.checkMarker(j)
	s.coord.groups.Attach(j)
	s.coord.txns.attach(j)
	s.coord.shares.Attach(j)
	return nil
}

// coordinatorSealing is how the journal's segments are sealed: their own encryption context,
// so a coordinator segment's key opens nothing else.
func (s *Server) coordinatorSealing() *envelope.Config {
	if s.keys == nil {
		return nil
	}
	return &envelope.Config{Provider: s.keys, Timeout: s.cfg.EncryptionKMSTimeout, Context: keys.EncryptionContext{
		"bulwark:cluster": s.cluster.store.State().ClusterID, "bulwark:store": "coordinator",
		"bulwark:node": strconv.Itoa(int(s.cfg.NodeID))}}
}

// startCoordinators starts background work (session timeouts, offset expiry, transaction
// timeouts) and finishes transactions a crash interrupted. Called by Start.
func (s *Server) startCoordinators() {
	// A crash between a topic's deletion and its offsets' removal leaves offsets behind.
	var gone []string
	for _, t := range s.coord.groups.CommittedTopics() {
		if s.cluster.lookupTopic(t) == nil {
			gone = append(gone, t)
		}
	}
	if len(gone) > 0 {
		s.coord.groups.DeleteTopicOffsets(s.ctx, gone...)
	}
	s.coord.groups.Start()
	s.coord.shares.Start()
	if err := s.coord.txns.start(s.ctx); err != nil {
		s.logger.Error("transaction coordinator recovery failed", "err", err)
	}
	s.coord.projection.start()
}

// closeCoordinators stops background work and closes the journal. Called by Shutdown after
// every connection has finished and before the cluster closes.
func (s *Server) closeCoordinators() error {
	if s.coord.groups != nil {
		s.coord.groups.Close()
	}
	if s.coord.txns != nil {
		s.coord.txns.close()
	}
	if s.coord.shares != nil {
		s.coord.shares.Close()
	}
	if s.coord.journal != nil {
		s.coord.projection.close(s.coord.journal)
		return s.coord.journal.Close()
	}
	return nil
}

// coordinatorEntries are the handler-table rows for the coordinator APIs.
func (s *Server) coordinatorEntries() []*apiEntry {
	return append([]*apiEntry{
		{key: 8, min: 2, max: 10, handle: s.handleOffsetCommit},
		{key: 9, min: 1, max: 10, handle: s.handleOffsetFetch},
		{key: 10, min: 0, max: 6, handle: s.handleFindCoordinator},
		{key: 11, min: 2, max: 9, handle: s.handleJoinGroup},
		{key: 12, min: 0, max: 4, handle: s.handleHeartbeat},
		{key: 13, min: 0, max: 5, handle: s.handleLeaveGroup},
		{key: 14, min: 0, max: 5, handle: s.handleSyncGroup},
		{key: 15, min: 0, max: 6, handle: s.handleDescribeGroups},
		{key: 16, min: 0, max: 5, handle: s.handleListGroups},
		{key: 42, min: 0, max: 2, handle: s.handleDeleteGroups},
		{key: 47, min: 0, max: 0, handle: s.handleOffsetDelete},
		{key: 68, min: 0, max: 1, handle: s.handleConsumerGroupHeartbeat},
		{key: 69, min: 0, max: 1, handle: s.handleConsumerGroupDescribe},
	}, append(s.txnEntries(), s.shareEntries()...)...)
}

// unlimitedAsZero maps Kafka's Int.MaxValue "unlimited" to the coordinators' 0.
func unlimitedAsZero(n int32) int {
	if n == maxInt32 {
		return 0
	}
	return int(n)
}

// topicView is the group coordinator's view of the cluster's topics.
type topicView struct{ c *cluster }

func (v topicView) Partitions(name string) ([16]byte, int32, bool) {
	t := v.c.lookupTopic(name)
	if t == nil {
		return [16]byte{}, 0, false
	}
	return [16]byte(t.id), int32(len(t.partitions)), true
}

func (v topicView) Names() []string {
	ts := v.c.allTopics()
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.name)
	}
	sort.Strings(out)
	return out
}
