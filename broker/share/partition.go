package share

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/record"
)

// recState is an in-flight record's state, as Kafka's RecordState.
type recState int8

const (
	available recState = iota
	acquired
	acknowledged
	archived
)

// Acknowledgement types of ShareFetch and ShareAcknowledge (AcknowledgeTypes).
const (
	ackGap     int8 = 0
	ackAccept  int8 = 1
	ackRelease int8 = 2
	ackReject  int8 = 3
	ackRenew   int8 = 4 // KIP-1222: keep the record and extend its lock
)

// inflight is one record between the SPSO and the end of what has been handed out.
type inflight struct {
	state      recState
	deliveries int16
	owner      string    // the member holding the acquisition lock
	expires    time.Time // when the lock ends
}

// partition is one share partition: a topic partition as one share group consumes it.
type partition struct {
	group, topic string
	index        int32

	mu    sync.Mutex
	start int64      // the share-partition start offset (SPSO)
	recs  []inflight // offsets start, start+1, …: everything handed out at least once
	// removed is set (under mu) when the state was deleted or replaced (DeleteGroups,
	// Alter/DeleteShareGroupOffsets, topic deletion): a holder of the old value must neither
	// write it to the journal nor acknowledge against it.
	removed bool
}

// snapshot is a copy of a partition's state, to undo a change the journal refused.
type snapshot struct {
	start int64
	recs  []inflight
}

func (p *partition) snapshotLocked() snapshot {
	return snapshot{p.start, append([]inflight(nil), p.recs...)}
}

func (p *partition) restoreLocked(s snapshot) { p.start, p.recs = s.start, s.recs }

// end is the first offset never handed out.
func (p *partition) end() int64 { return p.start + int64(len(p.recs)) }

// limits are the settings acquisition and acknowledgement obey.
type limits struct {
	lock           time.Duration // acquisition lock
	deliveryLimit  int16         // deliveries before a record is archived
	maxLocks       int           // in-flight records at most
	readCommitted  bool          // acquire only committed records (share.isolation.level)
	allowRenewAcks bool          // ShareFetch/ShareAcknowledge v2: ackRenew is allowed
	strict         bool          // ShareFetch v2 record_limit mode: never more than the budget
}

// release ends an acquisition: the record is Available again, or Archived once it has been
// delivered deliveryLimit times.
func (r *inflight) release(l limits) {
	r.owner, r.expires = "", time.Time{}
	if r.deliveries >= l.deliveryLimit {
		r.state = archived
	} else {
		r.state = available
	}
}

// expireLocked releases the records whose acquisition lock has ended; it reports a change.
func (p *partition) expireLocked(now time.Time, l limits) bool {
	changed := false
	for i := range p.recs {
		r := &p.recs[i]
		if r.state == acquired && !now.Before(r.expires) {
			r.release(l)
			changed = true
		}
	}
	if changed {
		p.advanceLocked()
	}
	return changed
}

// releaseMemberLocked releases every record the member holds (it left or was fenced).
func (p *partition) releaseMemberLocked(member string, l limits) bool {
	changed := false
	for i := range p.recs {
		if r := &p.recs[i]; r.state == acquired && r.owner == member {
			r.release(l)
			changed = true
		}
	}
	if changed {
		p.advanceLocked()
	}
	return changed
}

// nextExpiry is the earliest lock expiry, zero when nothing is acquired.
func (p *partition) nextExpiryLocked() time.Time {
	var t time.Time
	for _, r := range p.recs {
		if r.state == acquired && (t.IsZero() || r.expires.Before(t)) {
			t = r.expires
		}
	}
	return t
}

// advanceLocked moves the SPSO past finished records.
func (p *partition) advanceLocked() {
	i := 0
	for i < len(p.recs) && (p.recs[i].state == acknowledged || p.recs[i].state == archived) {
		i++
	}
	if i > 0 {
		p.start += int64(i)
		p.recs = append([]inflight(nil), p.recs[i:]...)
	}
}

// trimLocked drops what retention or DeleteRecords removed from the log.
func (p *partition) trimLocked(logStart int64) bool {
	if logStart <= p.start {
		return false
	}
	drop := logStart - p.start
	if drop >= int64(len(p.recs)) {
		p.recs = nil
	} else {
		p.recs = append([]inflight(nil), p.recs[drop:]...)
	}
	p.start = logStart
	return true
}

// acquisition is what one fetch of one partition got.
type acquisition struct {
	records  []byte
	acquired []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord
	count    int
}

// acquireLocked hands records to member: Available in-flight records first, then records
// never handed out, whole batches at a time (Kafka's batch-optimized mode: budget is a soft
// limit checked at batch boundaries) until the budget or maxBytes is used or the in-flight limit
// is reached. It returns the batches holding the acquired records and their ranges. changed
// reports a state change that must be written (records archived without delivery).
func (p *partition) acquireLocked(logs Logs, member string, now time.Time, budget int, maxBytes int32, l limits) (a acquisition, changed bool, err error) {
	bounds, ok := logs.Bounds(p.topic, p.index)
	if !ok {
		return a, false, errUnknownPartition
	}
	changed = p.trimLocked(bounds.Start)
	upTo := bounds.HighWatermark
	if l.readCommitted {
		upTo = bounds.LastStable
	}
	from := int64(-1)
	for i, r := range p.recs {
		if r.state == available {
			from = p.start + int64(i)
			break
		}
	}
	if from < 0 {
		if p.end() >= upTo || len(p.recs) >= l.maxLocks {
			return a, changed, nil
		}
		from = p.end()
	}
	if from >= upTo {
		return a, changed, nil
	}
	data, err := logs.Read(p.topic, p.index, from, maxBytes, upTo)
	if errors.Is(err, ErrOffsetOutOfRange) {
		// Retention or DeleteRecords moved the log start since Bounds: trim and let the next
		// fetch read from the new start.
		if b, ok := logs.Bounds(p.topic, p.index); ok && p.trimLocked(b.Start) {
			changed = true
		}
		return a, changed, nil
	}
	if err != nil {
		return a, changed, err
	}
	var aborted []AbortedTxn
	if l.readCommitted {
		aborted = logs.AbortedTxns(p.topic, p.index, from, upTo)
	}
	var got []offsetDelivery
	for len(data) > 0 && budget > 0 {
		batch, rest, nerr := record.Next(data)
		if nerr != nil {
			break // a batch cut at maxBytes: the rest comes next time
		}
		data = rest
		h, herr := record.ParseHeader(batch)
		if herr != nil {
			return a, changed, fmt.Errorf("share: reading %s-%d: %w", p.topic, p.index, herr)
		}
		first, last := h.BaseOffset, h.BaseOffset+int64(h.LastOffsetDelta)
		if last < from || last < p.start {
			continue
		}
		if first > p.end() {
			break // never happens in a log without gaps; stop rather than leave holes
		}
		skip := h.Control() || (l.readCommitted && h.Transactional() && isAborted(aborted, h.ProducerID, first))
		n := 0
		for off := max(first, p.start); off <= last; off++ {
			if off >= upTo || (l.strict && n >= budget) {
				break
			}
			if off == p.end() {
				if len(p.recs) >= l.maxLocks {
					break
				}
				p.recs = append(p.recs, inflight{state: available})
			}
			r := &p.recs[off-p.start]
			if r.state != available {
				continue
			}
			if r.deliveries >= l.deliveryLimit {
				// Delivered as often as allowed already (its last delivery's lock was lost in
				// a restart): given up on, as a release would have done.
				r.state, changed = archived, true
				continue
			}
			if skip {
				// Transaction markers and aborted records are never delivered.
				r.state, changed = archived, true
				continue
			}
			r.state, r.owner, r.expires = acquired, member, now.Add(l.lock)
			r.deliveries++
			got = append(got, offsetDelivery{off, r.deliveries})
			n++
		}
		if n > 0 {
			a.records = append(a.records, batch...)
			budget -= n
			a.count += n
			if int32(len(a.records)) >= maxBytes {
				break
			}
		}
		if len(p.recs) >= l.maxLocks && p.end() <= last {
			break
		}
	}
	p.advanceLocked()
	a.acquired = ranges(got)
	return a, changed, nil
}

type offsetDelivery struct {
	offset     int64
	deliveries int16
}

// ranges coalesces consecutive offsets with the same delivery count.
func ranges(got []offsetDelivery) []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
	var out []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord
	for _, g := range got {
		if n := len(out); n > 0 && out[n-1].LastOffset+1 == g.offset && out[n-1].DeliveryCount == g.deliveries {
			out[n-1].LastOffset = g.offset
			continue
		}
		out = append(out, kmsg.ShareFetchResponseTopicPartitionAcquiredRecord{FirstOffset: g.offset, LastOffset: g.offset, DeliveryCount: g.deliveries})
	}
	return out
}

func isAborted(aborted []AbortedTxn, pid, offset int64) bool {
	for _, t := range aborted {
		if t.ProducerID == pid && offset >= t.FirstOffset && offset <= t.LastOffset {
			return true
		}
	}
	return false
}

// ackBatch is one acknowledgement batch of ShareFetch or ShareAcknowledge.
type ackBatch struct {
	first, last int64
	types       []int8
}

// acknowledgeLocked applies a member's acknowledgements, all or none: every offset named must be
// acquired by this member under a live lock. It returns the partition's acknowledgement error.
func (p *partition) acknowledgeLocked(member string, batches []ackBatch, now time.Time, l limits) (int16, string) {
	p.expireLocked(now, l)
	prev := int64(-1)
	for i, b := range batches {
		n := b.last - b.first + 1
		switch {
		case b.first > b.last || b.first < 0:
			return kerr.InvalidRequest.Code, "acknowledgement batch with first offset after last offset"
		case i > 0 && b.first <= prev:
			// Kafka's rule: batches ascend and never overlap, so every offset is acknowledged once.
			return kerr.InvalidRequest.Code, "acknowledgement batches must be in offset order and not overlap"
		case len(b.types) == 0 || (len(b.types) != 1 && int64(len(b.types)) != n):
			return kerr.InvalidRequest.Code, "acknowledge types must be one type or one per offset"
		}
		prev = b.last
		for _, t := range b.types {
			if t < ackGap || t > ackRenew || (t == ackRenew && !l.allowRenewAcks) {
				return kerr.InvalidRequest.Code, fmt.Sprintf("unknown acknowledge type %d", t)
			}
		}
		for off := b.first; off <= b.last; off++ {
			if off < p.start || off >= p.end() {
				return kerr.InvalidRecordState.Code, fmt.Sprintf("offset %d is not acquired", off)
			}
			if r := p.recs[off-p.start]; r.state != acquired || r.owner != member {
				return kerr.InvalidRecordState.Code, fmt.Sprintf("offset %d is not acquired by this member (its lock may have expired)", off)
			}
		}
	}
	for _, b := range batches {
		for off := b.first; off <= b.last; off++ {
			t := b.types[0]
			if len(b.types) > 1 {
				t = b.types[off-b.first]
			}
			r := &p.recs[off-p.start]
			switch t {
			case ackAccept:
				r.state, r.owner, r.expires = acknowledged, "", time.Time{}
			case ackGap, ackReject:
				r.state, r.owner, r.expires = archived, "", time.Time{}
			case ackRelease:
				r.release(l)
			case ackRenew:
				r.expires = now.Add(l.lock)
			}
		}
	}
	p.advanceLocked()
	return 0, ""
}

// stateDoc is a share partition's journal value (docs/format/coordinator.md): the SPSO and the
// in-flight records as runs of [first offset, last offset, state, delivery count]. Acquired
// records are written as Available: a lock does not survive a restart.
type stateDoc struct {
	Version int        `json:"version"`
	Start   int64      `json:"start"`
	Runs    [][4]int64 `json:"runs,omitempty"`
}

const stateDocVersion = 1

func (p *partition) docLocked() stateDoc {
	d := stateDoc{Version: stateDocVersion, Start: p.start}
	for i, r := range p.recs {
		off, st := p.start+int64(i), r.state
		if st == acquired {
			st = available
		}
		if n := len(d.Runs); n > 0 && d.Runs[n-1][1]+1 == off && d.Runs[n-1][2] == int64(st) && d.Runs[n-1][3] == int64(r.deliveries) {
			d.Runs[n-1][1] = off
			continue
		}
		d.Runs = append(d.Runs, [4]int64{off, off, int64(st), int64(r.deliveries)})
	}
	return d
}

func (p *partition) encodeLocked() []byte {
	b, _ := json.Marshal(p.docLocked())
	return b
}

// restore loads a journal value; the runs must cover [start, end) without gaps.
func (p *partition) restore(value []byte, maxLocks int) error {
	var d stateDoc
	if err := json.Unmarshal(value, &d); err != nil {
		return err
	}
	if d.Version != stateDocVersion || d.Start < 0 {
		return fmt.Errorf("unsupported share partition state (version %d, start %d)", d.Version, d.Start)
	}
	p.start, p.recs = d.Start, nil
	next := d.Start
	for _, r := range d.Runs {
		if r[0] != next || r[1] < r[0] || r[2] < int64(available) || r[2] > int64(archived) || r[3] < 0 || r[3] > 1<<15-1 ||
			r[1]-d.Start >= int64(max(maxLocks, 1<<16)) {
			return fmt.Errorf("bad share partition state run %v", r)
		}
		for off := r[0]; off <= r[1]; off++ {
			p.recs = append(p.recs, inflight{state: recState(r[2]), deliveries: int16(r[3])})
		}
		next = r[1] + 1
	}
	p.advanceLocked()
	return nil
}
