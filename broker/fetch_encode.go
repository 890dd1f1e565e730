package broker

// Fetch responses written without copying their record batches. kmsg encodes a response into
// one buffer, so a consumer that is behind gets every megabyte of its batches copied into a
// freshly zeroed buffer before the socket write copies it again; measured while draining a
// backlog, that copy, its zeroing and the garbage it left were over a third of the broker's CPU
// (docs/benchmarks.md, "Where the time goes"). encodeFetchPieces encodes everything around the
// batches itself and returns the response as pieces that reference the batches where the log
// read them, so they are written straight from there and their buffers go back to the pool.
//
// It covers the shape of a normal answer: no tagged fields set (no diverging epoch, current
// leader or snapshot id on any partition, no node endpoints) and no unknown tags. Anything else
// carries no large batches worth the trouble and is encoded by kmsg; the tests check that both
// produce the same bytes for every version served.

import (
	"encoding/binary"
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/internal/bufpool"
)

var (
	defaultDivergingEpoch = kmsg.NewFetchResponseTopicPartitionDivergingEpoch()
	defaultCurrentLeader  = kmsg.NewFetchResponseTopicPartitionCurrentLeader()
	defaultSnapshotID     = kmsg.NewFetchResponseTopicPartitionSnapshotID()
)

// fetchEncoder appends a Fetch response's framing and fields to head and notes, at each
// partition's record batches, where in head they belong.
type fetchEncoder struct {
	flexible bool
	head     []byte
	cuts     []int    // head offsets at which batches[i] is spliced in
	batches  [][]byte // the record batches, in response order
}

// encodeFetchPieces encodes resp (framed with correlationID, as appendResponse does) as pieces
// to be written in order. head, in dst's storage, holds everything but the record batches, which
// the pieces reference. ok is false when the response has a field this encoder does not write;
// the caller then uses appendResponse.
func encodeFetchPieces(dst []byte, correlationID int32, resp *kmsg.FetchResponse) (head []byte, pieces [][]byte, ok bool) {
	if !plainFetchResponse(resp) {
		return dst, nil, false
	}
	e := fetchEncoder{flexible: resp.Version >= 12, head: dst[:0]}
	e.head = append(e.head, 0, 0, 0, 0) // size, filled in below
	e.head = binary.BigEndian.AppendUint32(e.head, uint32(correlationID))
	if e.flexible {
		e.head = append(e.head, 0) // response header tags
	}
	e.response(resp)
	size := len(e.head)
	for _, b := range e.batches {
		size += len(b)
	}
	binary.BigEndian.PutUint32(e.head, uint32(size-4))

	pieces = make([][]byte, 0, 2*len(e.batches)+1)
	from := 0
	for i, b := range e.batches {
		pieces = append(pieces, e.head[from:e.cuts[i]], b)
		from = e.cuts[i]
	}
	return e.head, append(pieces, e.head[from:]), true
}

// plainFetchResponse reports whether resp has only the fields encodeFetchPieces writes.
func plainFetchResponse(resp *kmsg.FetchResponse) bool {
	if resp.Version < 4 || resp.Version > 17 || len(resp.Brokers) > 0 || resp.UnknownTags.Len() > 0 {
		return false
	}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.UnknownTags.Len() > 0 {
			return false
		}
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if p.UnknownTags.Len() > 0 ||
				!reflect.DeepEqual(p.DivergingEpoch, defaultDivergingEpoch) ||
				!reflect.DeepEqual(p.CurrentLeader, defaultCurrentLeader) ||
				!reflect.DeepEqual(p.SnapshotID, defaultSnapshotID) {
				return false
			}
			for k := range p.AbortedTransactions {
				if p.AbortedTransactions[k].UnknownTags.Len() > 0 {
					return false
				}
			}
		}
	}
	return true
}

func (e *fetchEncoder) response(r *kmsg.FetchResponse) {
	v := r.Version
	e.int32(r.ThrottleMillis)
	if v >= 7 {
		e.int16(r.ErrorCode)
		e.int32(r.SessionID)
	}
	e.arrayLen(len(r.Topics))
	for i := range r.Topics {
		t := &r.Topics[i]
		if v <= 12 {
			e.string(t.Topic)
		} else {
			e.head = append(e.head, t.TopicID[:]...)
		}
		e.arrayLen(len(t.Partitions))
		for j := range t.Partitions {
			e.partition(v, &t.Partitions[j])
		}
		e.tags()
	}
	e.tags()
}

func (e *fetchEncoder) partition(v int16, p *kmsg.FetchResponseTopicPartition) {
	e.int32(p.Partition)
	e.int16(p.ErrorCode)
	e.int64(p.HighWatermark)
	e.int64(p.LastStableOffset)
	if v >= 5 {
		e.int64(p.LogStartOffset)
	}
	e.nullableLen(len(p.AbortedTransactions), p.AbortedTransactions == nil)
	for _, a := range p.AbortedTransactions {
		e.int64(a.ProducerID)
		e.int64(a.FirstOffset)
		e.tags()
	}
	if v >= 11 {
		e.int32(p.PreferredReadReplica)
	}
	e.nullableLen(len(p.RecordBatches), p.RecordBatches == nil)
	if len(p.RecordBatches) > 0 {
		e.cuts = append(e.cuts, len(e.head))
		e.batches = append(e.batches, p.RecordBatches)
	}
	e.tags()
}

func (e *fetchEncoder) int16(v int16) { e.head = binary.BigEndian.AppendUint16(e.head, uint16(v)) }
func (e *fetchEncoder) int32(v int32) { e.head = binary.BigEndian.AppendUint32(e.head, uint32(v)) }
func (e *fetchEncoder) int64(v int64) { e.head = binary.BigEndian.AppendUint64(e.head, uint64(v)) }

func (e *fetchEncoder) uvarint(v int) { e.head = binary.AppendUvarint(e.head, uint64(uint32(v))) }

// tags writes an empty tagged-field section (flexible versions only).
func (e *fetchEncoder) tags() {
	if e.flexible {
		e.head = append(e.head, 0)
	}
}

func (e *fetchEncoder) arrayLen(n int) {
	if e.flexible {
		e.uvarint(n + 1)
	} else {
		e.int32(int32(n))
	}
}

// nullableLen writes the length prefix of a nullable array or nullable bytes field (the two are
// encoded alike); for bytes, the data follows as a piece of its own.
func (e *fetchEncoder) nullableLen(n int, null bool) {
	switch {
	case null && e.flexible:
		e.uvarint(0)
	case null:
		e.int32(-1)
	default:
		e.arrayLen(n)
	}
}

func (e *fetchEncoder) string(s string) {
	if e.flexible {
		e.uvarint(len(s) + 1)
	} else {
		e.int16(int16(len(s)))
	}
	e.head = append(e.head, s...)
}

// releaseFetchBatches hands the record batches of a written Fetch response back to the buffer
// pool. Only the Fetch handler's own reads are in the response, each in a buffer of its own, and
// nothing refers to them once the response is written.
func releaseFetchBatches(resp *kmsg.FetchResponse) {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			p := &resp.Topics[i].Partitions[j]
			bufpool.Put(p.RecordBatches)
			p.RecordBatches = nil
		}
	}
}
