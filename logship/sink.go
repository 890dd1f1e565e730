package logship

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Entry is one line of a stream.
type Entry struct {
	// Pos is the entry's position in its stream (the audit trail's seq); a shipper's cursor is
	// the position of the last entry delivered.
	Pos uint64
	// ID identifies the entry across redeliveries (the audit record's eventID).
	ID   string
	Time time.Time
	// Data is the line, without its newline.
	Data []byte
}

// Limits are what one request of a sink may carry.
type Limits struct {
	MaxEntries int
	// MaxBytes bounds a request: the sum of each entry's size plus PerEntryOverhead.
	MaxBytes         int
	PerEntryOverhead int
	// MaxEntryBytes bounds one entry; a longer one is cut to fit, with a marker.
	MaxEntryBytes int
	// MaxSpan bounds the time between a request's first and last entry (0: none).
	MaxSpan time.Duration
	// MinBytes and Linger make the shipper wait for a fuller request: it sends once the pending
	// entries reach MinBytes or the oldest has waited Linger (S3 objects rolled by size and
	// time). Zero: send whatever is there.
	MinBytes int
	Linger   time.Duration
}

// Sink delivers batches to one destination.
type Sink interface {
	// Name identifies the sink in logs, metrics and cursor files ("cloudwatch", "firehose", "s3").
	Name() string
	Limits() Limits
	// Send delivers the entries in order. It returns nil when all were delivered, a
	// *PartialError naming the ones refused when some were, or another error when none were
	// (the whole batch is then retried).
	Send(ctx context.Context, entries []Entry) error
}

// PartialError is a batch some of whose entries were delivered. Failed lists the indexes, in
// the batch, of the entries to send again.
type PartialError struct {
	Failed []int
	Reason string
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("logship: %d entries refused: %s", len(e.Failed), e.Reason)
}

// ErrPermanent marks an error no retry will cure (a missing bucket, a rejected credential);
// the shipper keeps retrying, at its slowest pace, and says so in the log.
var ErrPermanent = errors.New("logship: permanent failure")

// Source reads a stream's entries. A Source that also has End() uint64 (the position of its
// last entry) lets a shipper notice a cursor left by another incarnation of the stream.
type Source interface {
	// Read returns up to max entries after position after, in order; none when the stream has
	// nothing newer.
	Read(after uint64, max int) ([]Entry, error)
	// Wait returns a channel closed when the stream may have entries after position after.
	Wait(after uint64) <-chan struct{}
}

// truncateMarker ends an entry cut to fit a sink's entry limit.
const truncateMarker = "…[truncated]"

// fit cuts an entry to the sink's entry limit.
func fit(e Entry, l Limits) Entry {
	if l.MaxEntryBytes <= 0 || len(e.Data) <= l.MaxEntryBytes {
		return e
	}
	cut := l.MaxEntryBytes - len(truncateMarker)
	e.Data = append(append([]byte(nil), e.Data[:max(cut, 0)]...), truncateMarker...)
	return e
}

// batch returns the longest prefix of entries one request of the sink may carry (at least one).
func batch(entries []Entry, l Limits) []Entry {
	size := 0
	for i, e := range entries {
		n := len(e.Data) + l.PerEntryOverhead
		if i > 0 && ((l.MaxEntries > 0 && i >= l.MaxEntries) || (l.MaxBytes > 0 && size+n > l.MaxBytes) ||
			(l.MaxSpan > 0 && e.Time.Sub(entries[0].Time) > l.MaxSpan)) {
			return entries[:i]
		}
		size += n
	}
	return entries
}
