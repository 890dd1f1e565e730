package broker

// Kafka's internal topics. __consumer_offsets and __transaction_state are projections of the
// coordinator journal (coordinators.go), which stays the source of truth: every journal key a
// coordinator changes is marked dirty, and one goroutine (projection) writes its current value,
// translated into Kafka's record schemas, to the partition Kafka would put it in. Tools that read
// those topics (Burrow, lag exporters, kafka-console-consumer's formatters) see Kafka's records;
// clients can read them as ACLs allow and cannot write them. __bulwark_audit (audit_topic.go) is
// the broker's third internal topic. docs/format/internal-topics.md describes the layout.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
	"github.com/bulwark-kafka/bulwark/broker/group"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/record"
	"github.com/bulwark-kafka/bulwark/broker/txn"
	"github.com/bulwark-kafka/bulwark/internal/fsutil"
)

// The internal topics Kafka's coordinators keep.
const (
	OffsetsTopic          = "__consumer_offsets"
	TransactionStateTopic = "__transaction_state"
)

// isInternalTopic reports whether a topic is the broker's own: Metadata marks it IsInternal and
// clients can neither produce to it nor change it.
func isInternalTopic(name string) bool {
	return name == AuditTopic || name == OffsetsTopic || name == TransactionStateTopic
}

// reservedTopicName reports whether clients may not create a topic of this name: an internal
// topic's, or one that collides with it ('.' and '_' fold together, as in Kafka), which would
// stop the broker from creating its own.
func reservedTopicName(name string) bool {
	k := collisionKey(name)
	return k == collisionKey(AuditTopic) || k == collisionKey(OffsetsTopic) || k == collisionKey(TransactionStateTopic)
}

// refuseInternalChange is the answer to a client's attempt to create, delete, repartition,
// reconfigure or truncate an internal topic. The name is reserved even while the topic does not
// exist, so that nobody can create a look-alike the broker would then adopt.
func refuseInternalChange(name string) error {
	switch name {
	case AuditTopic:
		return newAPIError(kerr.PolicyViolation, "%s is the broker's read-only audit topic: only the broker writes it, and bulwark.audit.topic.retention.ms sets its retention", name)
	case OffsetsTopic, TransactionStateTopic:
		return newAPIError(kerr.PolicyViolation, "%s is an internal topic the broker's coordinators keep: it cannot be deleted, repartitioned, reconfigured or truncated", name)
	}
	return nil
}

// coordinatorPartition is Kafka's partitionFor: abs(Java String.hashCode(id)) mod n, so a group
// or transactional id lands in the partition Kafka would put it in.
func coordinatorPartition(id string, n int32) int32 {
	var h int32
	for _, c := range utf16.Encode([]rune(id)) {
		h = 31*h + int32(c)
	}
	if h == -1<<31 { // Kafka's Utils.abs maps Integer.MIN_VALUE to 0
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// projectedTopic is one internal topic projected from the journal.
type projectedTopic struct {
	name string
	// translate turns a journal entry into the topic's record; ok is false for keys the topic
	// does not carry.
	translate func(key, value []byte) (partitionKey string, k, v []byte, ok bool, err error)
	// partitions and segmentBytes are read when the broker creates the topic.
	partitions   int32
	segmentBytes int32
	// liveBytes is the size of the topic's live records at its last rewrite; the projection
	// rewrites the topic once it holds more than twice that (and over projectionCompactMin).
	liveBytes int64
}

// projectionCompactMin is the size under which a projected topic is never rewritten.
const projectionCompactMin = 64 << 20

// projectedRecord is one record bound for a projected topic, with the id that picks its partition.
type projectedRecord struct {
	partitionKey string
	rec          record.Record
}

// projectionMarkerName is the file, beside the journal, that a clean shutdown leaves to say the
// projected topics hold exactly the journal's state at the recorded journal end offset.
const projectionMarkerName = coordinatorDirName + ".projected"

type projectionMarker struct {
	Version          int   `json:"version"`
	JournalEndOffset int64 `json:"journal_end_offset"`
}

// projection keeps the projected topics in step with the journal.
type projection struct {
	s      *Server
	topics []*projectedTopic

	mu      sync.Mutex
	dirty   map[string]struct{} // journal keys changed since the last pass
	rebuild bool                // the topics must be rewritten from the journal (after a crash)

	wake    chan struct{} // capacity 1: a pass is due
	stop    chan struct{}
	done    chan struct{}
	started bool
}

func (s *Server) newProjection() *projection {
	return &projection{s: s, dirty: make(map[string]struct{}), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
		topics: []*projectedTopic{
			{name: OffsetsTopic, translate: group.OffsetsTopicRecord,
				partitions: s.cfg.OffsetsTopicNumPartitions, segmentBytes: s.cfg.OffsetsTopicSegmentBytes},
			{name: TransactionStateTopic, translate: txn.StateTopicRecord,
				partitions: s.cfg.TransactionStateNumPartitions, segmentBytes: s.cfg.TransactionStateSegmentBytes},
		}}
}

// changed is coordlog's Options.Changed: called under the journal's lock, so it only records
// the key and wakes the projection goroutine.
func (p *projection) changed(key []byte) {
	p.mu.Lock()
	p.dirty[string(key)] = struct{}{}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// checkMarker runs once the journal is open: unless a clean shutdown left a marker at exactly
// this journal end offset, the topics may miss the last changes before a crash (or predate the
// projection), and are rewritten from the journal before anything else. The marker is removed
// so that a later crash cannot be mistaken for a clean state.
func (p *projection) checkMarker(j *coordlog.Store) {
	path := filepath.Join(p.s.cfg.LogDirs[0], projectionMarkerName)
	b, err := os.ReadFile(path)
	var m projectionMarker
	clean := err == nil && json.Unmarshal(b, &m) == nil && m.Version == 1 && m.JournalEndOffset == j.EndOffset()
	if err == nil {
		if rerr := os.Remove(path); rerr != nil {
			p.s.logger.Warn("cannot remove the projection marker", "path", path, "err", rerr)
		} else {
			_ = fsutil.SyncDir(filepath.Dir(path))
		}
	}
	p.rebuild = !clean
}

// start runs the projection goroutine.
func (p *projection) start() {
	p.started = true
	go p.run()
	p.wakeUp()
}

func (p *projection) wakeUp() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// close finishes the pending pass and, when the topics then match the journal, leaves the
// marker that spares the next start a rewrite. Called before the journal closes.
func (p *projection) close(j *coordlog.Store) {
	if !p.started {
		return // never started: the journal is unchanged and the marker, if any, was removed
	}
	close(p.stop)
	<-p.done
	if err := p.pass(context.Background(), j); err != nil {
		p.s.logger.Error("internal topics: final projection pass failed", "err", err)
		return
	}
	b, _ := json.Marshal(projectionMarker{Version: 1, JournalEndOffset: j.EndOffset()})
	if err := fsutil.WriteFileAtomic(p.s.cfg.LogDirs[0], projectionMarkerName, b); err != nil {
		p.s.logger.Warn("cannot write the projection marker; the next start rewrites the internal topics", "err", err)
	}
}

func (p *projection) run() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		}
		if err := p.pass(p.s.ctx, p.s.coord.journal); err != nil {
			if p.s.ctx.Err() != nil {
				return // shutting down: close runs the last pass
			}
			p.s.logger.Error("internal topics: projection pass failed; retrying", "err", err)
			select {
			case <-p.stop:
				return
			case <-time.After(time.Second):
			}
			p.wakeUp()
		}
	}
}

// pass writes the dirty keys' current values (or rewrites every topic after a crash), fsyncs
// them, and rewrites a topic that has grown past twice its live size. On error the keys stay
// dirty for the next pass.
func (p *projection) pass(ctx context.Context, j *coordlog.Store) error {
	p.mu.Lock()
	dirty, rebuild := p.dirty, p.rebuild
	p.dirty, p.rebuild = make(map[string]struct{}), false
	p.mu.Unlock()
	keep := func() {
		p.mu.Lock()
		for k := range dirty {
			p.dirty[k] = struct{}{}
		}
		p.rebuild = p.rebuild || rebuild
		p.mu.Unlock()
	}
	if rebuild {
		for _, pt := range p.topics {
			if err := p.rewrite(ctx, j, pt); err != nil {
				keep()
				return err
			}
		}
		if j.EndOffset() > 0 {
			p.s.logger.Info("internal topics rewritten from the coordinator journal", "journal_end_offset", j.EndOffset())
		}
	}
	for _, pt := range p.topics {
		var recs []projectedRecord
		for k := range dirty {
			v, _ := j.Get([]byte(k))
			pk, rk, rv, ok, err := pt.translate([]byte(k), v)
			if err != nil {
				p.s.logger.Error("internal topics: journal entry not projected", "topic", pt.name, "key", k, "err", err)
				continue
			}
			if ok {
				recs = append(recs, projectedRecord{pk, record.Record{Key: rk, Value: rv}})
			}
		}
		if len(recs) == 0 {
			continue
		}
		if err := p.appendAll(ctx, pt, recs, false); err != nil {
			keep()
			return err
		}
		if err := p.maybeCompact(ctx, j, pt); err != nil {
			return err
		}
	}
	return nil
}

// appendAll writes records to their partitions in batches of about 1 MiB, creating the topic
// first if need be, and waits for them to be fsynced. With roll, each partition's first batch
// starts a new segment.
func (p *projection) appendAll(ctx context.Context, pt *projectedTopic, recs []projectedRecord, roll bool) error {
	t, err := p.ensureTopic(pt)
	if err != nil || t == nil {
		return err
	}
	n := int32(len(t.partitions))
	byPart := make([][]record.Record, n)
	for _, r := range recs {
		i := coordinatorPartition(r.partitionKey, n)
		byPart[i] = append(byPart[i], r.rec)
	}
	type pending struct {
		part *partition
		end  int64
	}
	var synced []pending
	for i, rs := range byPart {
		part := t.partition(int32(i))
		first := true
		for len(rs) > 0 {
			cut, size := 0, 0
			for cut < len(rs) && (cut == 0 || size+len(rs[cut].Key)+len(rs[cut].Value)+recordOverheadBytes <= projectionBatchBytes) {
				size += len(rs[cut].Key) + len(rs[cut].Value) + recordOverheadBytes
				cut++
			}
			ts := now()
			batch := record.BuildBatch(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: ts.UnixMilli()}, rs[:cut])
			res, err := part.log.Append(batch, plog.AppendOptions{Now: ts, LeaderEpoch: part.leaderEpoch, Roll: roll && first})
			if err != nil {
				return fmt.Errorf("appending to %s-%d: %w", pt.name, i, err)
			}
			first = false
			rs = rs[cut:]
			if len(synced) == 0 || synced[len(synced)-1].part != part {
				synced = append(synced, pending{part, 0})
			}
			synced[len(synced)-1].end = res.LastOffset + 1
		}
	}
	for _, w := range synced {
		if err := w.part.log.Sync(ctx, w.end); err != nil {
			return fmt.Errorf("syncing %s-%d: %w", pt.name, w.part.index, err)
		}
	}
	return nil
}

// Batch shaping for the projected topics.
const (
	projectionBatchBytes = 1 << 20
	recordOverheadBytes  = 16
)

// ensureTopic returns the topic, creating it (as Kafka does on first use) when it does not
// exist yet. A nil topic and nil error means there is nothing to create it for.
func (p *projection) ensureTopic(pt *projectedTopic) (*topic, error) {
	if t := p.s.cluster.lookupTopic(pt.name); t != nil {
		return t, nil
	}
	configs := map[string]string{"cleanup.policy": "compact", "compression.type": "producer",
		"segment.bytes": strconv.Itoa(int(pt.segmentBytes))}
	t, err := p.s.cluster.createTopic(pt.name, pt.partitions, configs, false)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.code == kerr.TopicAlreadyExists {
			return p.s.cluster.lookupTopic(pt.name), nil
		}
		return nil, fmt.Errorf("creating internal topic %s: %w", pt.name, err)
	}
	return t, nil
}

// rewrite writes the topic's live records again from the journal and then deletes everything
// before them, as compaction would leave the topic: readers from the start see the current
// state once, and one rewrite bounds the topic to about its live size. Offsets keep growing;
// a reader positioned before the rewrite gets OFFSET_OUT_OF_RANGE and resets.
func (p *projection) rewrite(ctx context.Context, j *coordlog.Store, pt *projectedTopic) error {
	var recs []projectedRecord
	var live int64
	var bad error
	j.Range(nil, func(key, value []byte) bool {
		pk, rk, rv, ok, err := pt.translate(key, value)
		if err != nil {
			bad = err
			return true
		}
		if ok && rv != nil {
			recs = append(recs, projectedRecord{pk, record.Record{Key: rk, Value: rv}})
			live += int64(len(rk) + len(rv) + recordOverheadBytes)
		}
		return true
	})
	if bad != nil {
		p.s.logger.Error("internal topics: journal entries not projected", "topic", pt.name, "err", bad)
	}
	t := p.s.cluster.lookupTopic(pt.name)
	if t == nil && len(recs) == 0 {
		return nil
	}
	var before []int64
	if t != nil {
		for _, part := range t.partitions {
			before = append(before, part.log.LogEndOffset())
		}
	}
	if err := p.appendAll(ctx, pt, recs, true); err != nil {
		return err
	}
	for i, x := range before {
		if _, err := p.s.cluster.deleteRecords(t.partition(int32(i)), x); err != nil {
			return fmt.Errorf("truncating %s-%d after its rewrite: %w", pt.name, i, err)
		}
	}
	pt.liveBytes = live
	return nil
}

// maybeCompact rewrites a topic that has grown past max(projectionCompactMin, 2×live bytes).
func (p *projection) maybeCompact(ctx context.Context, j *coordlog.Store, pt *projectedTopic) error {
	t := p.s.cluster.lookupTopic(pt.name)
	if t == nil {
		return nil
	}
	var size int64
	for _, part := range t.partitions {
		size += part.log.Size()
	}
	if size <= max(projectionCompactMin, 2*pt.liveBytes) {
		return nil
	}
	if err := p.rewrite(ctx, j, pt); err != nil {
		return err
	}
	p.s.logger.Info("internal topic compacted", "topic", pt.name, "before_bytes", size, "live_bytes", pt.liveBytes)
	return nil
}
