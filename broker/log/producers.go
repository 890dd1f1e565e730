package log

// Producer state: what the log remembers about each idempotent or transactional producer that
// wrote to it, so that Append can reject duplicates, gaps and fenced epochs exactly as Kafka's
// ProducerStateManager does, and so that read_committed consumers can be given the last stable
// offset and the aborted transactions. It is rebuilt at Open from the newest producer snapshot
// (producersnap.go) plus the batches after it.

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"
	"time"
)

// NumBatchesToRetain is how many recent batches per producer the log remembers for duplicate
// detection: Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN, matching max.in.flight = 5.
const NumBatchesToRetain = 5

// Producer-state errors Append returns; the broker maps them to Kafka error codes.
var (
	// ErrOutOfOrderSequence: the batch's first sequence does not follow the last one stored.
	ErrOutOfOrderSequence = errors.New("log: out of order sequence number")
	// ErrInvalidProducerEpoch: the batch's producer epoch is older than the stored one (fenced).
	ErrInvalidProducerEpoch = errors.New("log: invalid producer epoch")
	// ErrInvalidTxnState: a non-transactional batch from a producer with an open transaction.
	ErrInvalidTxnState = errors.New("log: invalid transaction state")
)

// Control record types (ControlRecordType.java).
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// Batch attribute bits the producer state reads.
const (
	attrTransactional = 1 << 4
	attrControl       = 1 << 5
)

// Producer fields of a batch header.
const (
	offProducerID    = 43
	offProducerEpoch = 51
	offBaseSequence  = 53
)

// batchMeta is one retained batch of a producer.
type batchMeta struct {
	FirstSeq    int32 `json:"first_seq"`
	LastSeq     int32 `json:"last_seq"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
	AppendTime  int64 `json:"append_time"` // -1 unless the topic uses LogAppendTime
}

// producerEntry is the state of one producer id in this log.
type producerEntry struct {
	ID    int64 `json:"id"`
	Epoch int16 `json:"epoch"`
	// Batches are the last NumBatchesToRetain batches of the current epoch, oldest first.
	Batches          []batchMeta `json:"batches,omitempty"`
	CoordinatorEpoch int32       `json:"coordinator_epoch"`
	// TxnFirstOffset is the first offset of the producer's open transaction, -1 for none.
	TxnFirstOffset int64 `json:"txn_first_offset"`
	// LastTimestamp is the max timestamp of the producer's last batch (DescribeProducers).
	LastTimestamp int64 `json:"last_timestamp"`
	// LastWrite is the broker's clock (ms) at the producer's last append, for expiry.
	LastWrite int64 `json:"last_write"`
}

func (e *producerEntry) lastSeq() int32 {
	if len(e.Batches) == 0 {
		return -1
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

// AbortedTxn is one aborted transaction: its producer, its first offset and the offset of its
// abort marker. read_committed consumers drop the producer's batches in [FirstOffset, LastOffset].
type AbortedTxn struct {
	ProducerID  int64 `json:"producer_id"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
}

// ProducerInfo describes one producer for DescribeProducers.
type ProducerInfo struct {
	ProducerID            int64
	ProducerEpoch         int16
	LastSequence          int32
	LastTimestamp         int64
	CoordinatorEpoch      int32
	CurrentTxnStartOffset int64
}

// producerState is the log's producer table. It is changed under Log.mu; the fields readers
// need without Log.mu (lso, aborted) are published under Log.smu.
type producerState struct {
	entries map[int64]*producerEntry
	aborted []AbortedTxn // ordered by LastOffset
}

func newProducerState() producerState {
	return producerState{entries: make(map[int64]*producerEntry)}
}

// producerBatch is the producer view of one batch header.
type producerBatch struct {
	pid           int64
	epoch         int16
	firstSeq      int32
	lastSeq       int32
	transactional bool
	control       bool
	base, last    int64
	maxTs         int64
	appendTime    int64
}

// readProducerBatch decodes the producer fields of a batch (at least headerSize bytes).
func readProducerBatch(b []byte) producerBatch {
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	base := int64(binary.BigEndian.Uint64(b))
	delta := int32(binary.BigEndian.Uint32(b[offLastDelta:]))
	pb := producerBatch{
		pid:           int64(binary.BigEndian.Uint64(b[offProducerID:])),
		epoch:         int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		firstSeq:      int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		transactional: attrs&attrTransactional != 0,
		control:       attrs&attrControl != 0,
		base:          base,
		last:          base + int64(delta),
		maxTs:         int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		appendTime:    -1,
	}
	pb.lastSeq = addSeq(pb.firstSeq, delta)
	if attrs&attrLogAppendTs != 0 {
		pb.appendTime = pb.maxTs
	}
	return pb
}

// addSeq adds to a sequence number with Kafka's wrap-around at Int32.MAX.
func addSeq(seq, delta int32) int32 {
	if int64(seq)+int64(delta) > math.MaxInt32 {
		return int32(int64(seq) + int64(delta) - math.MaxInt32 - 1)
	}
	return seq + delta
}

// inSequence is ProducerAppendInfo.inSequence.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// duplicate returns the retained batch b repeats, if any (same epoch, same sequence range).
func (ps *producerState) duplicate(b producerBatch) (batchMeta, bool) {
	e := ps.entries[b.pid]
	if e == nil || e.Epoch != b.epoch {
		return batchMeta{}, false
	}
	for _, m := range e.Batches {
		if m.FirstSeq == b.firstSeq && m.LastSeq == b.lastSeq {
			return m, true
		}
	}
	return batchMeta{}, false
}

// check applies Kafka's epoch, sequence and transaction rules to a client batch
// (ProducerAppendInfo.checkProducerEpoch and checkSequence).
func (ps *producerState) check(b producerBatch) error {
	e := ps.entries[b.pid]
	if e == nil {
		// No state (new producer, or expired / deleted): any sequence is accepted (KIP-360).
		return nil
	}
	if b.epoch < e.Epoch {
		return ErrInvalidProducerEpoch
	}
	if b.epoch != e.Epoch {
		if b.firstSeq != 0 {
			return ErrOutOfOrderSequence
		}
	} else if !inSequence(e.lastSeq(), b.firstSeq) {
		return ErrOutOfOrderSequence
	}
	if !b.transactional && e.TxnFirstOffset >= 0 {
		return ErrInvalidTxnState
	}
	return nil
}

// applyData records an appended data batch.
func (ps *producerState) applyData(b producerBatch, now int64) {
	e := ps.entries[b.pid]
	if e == nil {
		e = &producerEntry{ID: b.pid, Epoch: b.epoch, TxnFirstOffset: -1, CoordinatorEpoch: -1}
		ps.entries[b.pid] = e
	}
	if b.epoch != e.Epoch {
		e.Epoch, e.Batches = b.epoch, nil
	}
	if len(e.Batches) == NumBatchesToRetain {
		copy(e.Batches, e.Batches[1:])
		e.Batches = e.Batches[:NumBatchesToRetain-1]
	}
	e.Batches = append(e.Batches, batchMeta{FirstSeq: b.firstSeq, LastSeq: b.lastSeq,
		FirstOffset: b.base, LastOffset: b.last, AppendTime: b.appendTime})
	if b.transactional && e.TxnFirstOffset < 0 {
		e.TxnFirstOffset = b.base
	}
	e.LastTimestamp, e.LastWrite = b.maxTs, now
}

// checkMarker validates a transaction marker: a marker from an older producer epoch or an
// older coordinator epoch is refused.
func (ps *producerState) checkMarker(pid int64, epoch int16, coordinatorEpoch int32) error {
	e := ps.entries[pid]
	if e == nil {
		return nil
	}
	if epoch < e.Epoch || coordinatorEpoch < e.CoordinatorEpoch {
		return ErrInvalidProducerEpoch
	}
	return nil
}

// applyMarker records a transaction marker written at offset, ending the producer's open
// transaction; an abort is added to the aborted list.
func (ps *producerState) applyMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32, offset, now int64) {
	e := ps.entries[pid]
	if e == nil {
		e = &producerEntry{ID: pid, Epoch: epoch, TxnFirstOffset: -1}
		ps.entries[pid] = e
	}
	if epoch != e.Epoch {
		e.Epoch, e.Batches = epoch, nil
	}
	e.CoordinatorEpoch = coordinatorEpoch
	if e.TxnFirstOffset >= 0 && !commit {
		ps.aborted = append(ps.aborted, AbortedTxn{ProducerID: pid, FirstOffset: e.TxnFirstOffset, LastOffset: offset})
	}
	e.TxnFirstOffset = -1
	e.LastWrite = now
}

// firstUnstable returns the first offset of the earliest open transaction, or -1.
func (ps *producerState) firstUnstable() int64 {
	first := int64(-1)
	for _, e := range ps.entries {
		if e.TxnFirstOffset >= 0 && (first < 0 || e.TxnFirstOffset < first) {
			first = e.TxnFirstOffset
		}
	}
	return first
}

// truncateAborted drops the aborted transactions that end below the log start offset.
func (ps *producerState) truncateAborted(start int64) {
	i := sort.Search(len(ps.aborted), func(i int) bool { return ps.aborted[i].LastOffset >= start })
	if i > 0 {
		ps.aborted = append([]AbortedTxn(nil), ps.aborted[i:]...)
	}
}

// expire forgets producers idle for longer than expiration (producer.id.expiration.ms), except
// those with an open transaction.
func (ps *producerState) expire(now, expirationMs int64) {
	if expirationMs <= 0 {
		return
	}
	for id, e := range ps.entries {
		if e.TxnFirstOffset < 0 && now-e.LastWrite > expirationMs {
			delete(ps.entries, id)
		}
	}
}

// replay applies one stored batch during Open (no checks: the log already accepted it).
func (ps *producerState) replay(batch []byte, now int64) {
	b := readProducerBatch(batch)
	if b.pid < 0 {
		return
	}
	if !b.control {
		ps.applyData(b, now)
		return
	}
	typ, coordEpoch, ok := parseControl(batch)
	if !ok {
		return
	}
	ps.applyMarker(b.pid, b.epoch, typ == ControlCommit, coordEpoch, b.base, now)
}

// parseControl reads a control batch's single record: key (version int16, type int16) and value
// (version int16, coordinator epoch int32). The log has its own parser so that it does not
// depend on package record; control batches are never compressed.
func parseControl(batch []byte) (typ int16, coordinatorEpoch int32, ok bool) {
	p := headerSize
	next := func() (int64, bool) {
		v, n := binary.Varint(batch[min(p, len(batch)):])
		if n <= 0 {
			return 0, false
		}
		p += n
		return v, true
	}
	if _, ok := next(); !ok { // record length
		return 0, 0, false
	}
	p++           // record attributes
	for range 2 { // timestamp delta, offset delta
		if _, ok := next(); !ok {
			return 0, 0, false
		}
	}
	keyLen, ok := next()
	if !ok || keyLen < 4 || p+int(keyLen) > len(batch) {
		return 0, 0, false
	}
	typ = int16(binary.BigEndian.Uint16(batch[p+2:]))
	p += int(keyLen)
	valLen, ok := next()
	if ok && valLen >= 6 && p+int(valLen) <= len(batch) {
		coordinatorEpoch = int32(binary.BigEndian.Uint32(batch[p+2:]))
	}
	return typ, coordinatorEpoch, true
}

// info lists the producers with state, for DescribeProducers.
func (ps *producerState) info() []ProducerInfo {
	out := make([]ProducerInfo, 0, len(ps.entries))
	for _, e := range ps.entries {
		out = append(out, ProducerInfo{ProducerID: e.ID, ProducerEpoch: e.Epoch, LastSequence: e.lastSeq(),
			LastTimestamp: e.LastTimestamp, CoordinatorEpoch: e.CoordinatorEpoch, CurrentTxnStartOffset: e.TxnFirstOffset})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

// buildControlBatch encodes a transaction marker as Kafka does (EndTransactionMarker): one
// record whose key is (version 0, type) and whose value is (version 0, coordinator epoch), in a
// batch with the transactional and control bits, no sequence, and base offset 0 (Append
// assigns the offset).
func buildControlBatch(m Marker) []byte {
	typ := ControlAbort
	if m.Commit {
		typ = ControlCommit
	}
	var body []byte
	body = append(body, 0)              // record attributes
	body = binary.AppendVarint(body, 0) // timestamp delta
	body = binary.AppendVarint(body, 0) // offset delta
	body = binary.AppendVarint(body, 4) // key length
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint16(body, uint16(typ))
	body = binary.AppendVarint(body, 6) // value length
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint32(body, uint32(m.CoordinatorEpoch))
	body = binary.AppendVarint(body, 0) // header count
	b := make([]byte, headerSize, headerSize+binary.MaxVarintLen32+len(body))
	b = binary.AppendVarint(b, int64(len(body)))
	b = append(b, body...)
	ts := uint64(m.Now.UnixMilli())
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-logOverhead))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(m.LeaderEpoch))
	b[offMagic] = currentMagic
	binary.BigEndian.PutUint16(b[offAttributes:], attrTransactional|attrControl)
	binary.BigEndian.PutUint32(b[offLastDelta:], 0)
	binary.BigEndian.PutUint64(b[offLastDelta+4:], ts) // base timestamp
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], ts)
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(m.ProducerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(m.ProducerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], 0xFFFFFFFF)
	binary.BigEndian.PutUint32(b[offBaseSequence+4:], 1) // record count
	binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
	return b
}

// LastStableOffset is the offset read_committed consumers may read up to: the first offset of
// the earliest open transaction, or the high watermark when none is open.
func (l *Log) LastStableOffset() int64 {
	l.smu.RLock()
	defer l.smu.RUnlock()
	if l.firstUnstable >= 0 && l.firstUnstable < l.end {
		return l.firstUnstable
	}
	return l.end
}

// AbortedTxns returns the aborted transactions that overlap [from, upTo): those whose abort
// marker is at or after from and whose first offset is below upTo (Kafka's
// collectAbortedTransactions), for a read_committed Fetch.
func (l *Log) AbortedTxns(from, upTo int64) []AbortedTxn {
	l.smu.RLock()
	defer l.smu.RUnlock()
	ab := l.producers.aborted
	i := sort.Search(len(ab), func(i int) bool { return ab[i].LastOffset >= from })
	var out []AbortedTxn
	for ; i < len(ab); i++ {
		if ab[i].FirstOffset < upTo {
			out = append(out, ab[i])
		}
	}
	return out
}

// ExpireProducers forgets the producers idle for longer than Config.ProducerIDExpirationMs
// (Kafka checks every producer.id.expiration.check.interval.ms; the broker calls this from its
// retention pass).
func (l *Log) ExpireProducers(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.producers.expire(now.UnixMilli(), l.cfg.ProducerIDExpirationMs)
}

// Producers lists the producers this log holds state for (DescribeProducers).
func (l *Log) Producers() []ProducerInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.producers.info()
}
