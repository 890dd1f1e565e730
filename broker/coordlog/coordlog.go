package coordlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// Limits on what one Write may carry. They bound the memory a Write, a replayed batch and the
// in-memory map can take per entry.
const (
	// MaxKeyBytes is the largest key.
	MaxKeyBytes = 32 << 10
	// MaxValueBytes is the largest value.
	MaxValueBytes = 1 << 20
	// MaxWriteBytes is the largest sum of key and value sizes in one Write.
	MaxWriteBytes = 8 << 20

	// DefaultCompactMinBytes is Options.CompactMinBytes when it is not set.
	DefaultCompactMinBytes = 64 << 20

	// recordOverhead approximates the bytes a record adds to its key and value (length,
	// attributes, deltas, key and value lengths, header count). It only feeds the compaction
	// trigger, so an estimate is enough.
	recordOverhead = 16
)

// Sentinel errors.
var (
	// ErrTooLarge: a key, a value or a whole Write exceeds MaxKeyBytes, MaxValueBytes or
	// MaxWriteBytes. Nothing was written.
	ErrTooLarge = errors.New("coordlog: entry too large")
	// ErrCorrupt: a record in the journal cannot be decoded (a bug or tampering; the log has
	// already dropped torn tails).
	ErrCorrupt = errors.New("coordlog: corrupt journal")
	// ErrClosed: the store was closed. It wraps plog.ErrClosed.
	ErrClosed = fmt.Errorf("coordlog: %w", plog.ErrClosed)
)

// Entry is one key/value write. A nil Value is a tombstone: it deletes the key. An empty,
// non-nil Value is a live empty value.
type Entry struct{ Key, Value []byte }

// Options configures a Store.
type Options struct {
	// Config is the underlying log's configuration (segment size etc.). The caller sets Sealing
	// when encryption at rest is on. Retention settings are not used: the journal never calls
	// EnforceRetention.
	Config plog.Config
	// Logger receives the journal's and the log's diagnostics; nil discards them.
	Logger *slog.Logger
	// CompactMinBytes: compaction runs when the log size exceeds
	// max(CompactMinBytes, 2×live bytes). Zero or negative means DefaultCompactMinBytes.
	CompactMinBytes int64
	// Changed, when set, is called with the key of every entry a Write or Append applies, in
	// journal order, under the store lock (so it must be quick and must not call back into the
	// Store). Replay and compaction do not call it: they change no value.
	Changed func(key []byte)
}

// Store is an open journal. All methods are safe for concurrent use; see the package
// documentation for the locking model.
type Store struct {
	log        *plog.Log
	logger     *slog.Logger
	compactMin int64
	changed    func(key []byte)

	mu        sync.Mutex // guards everything below and every append to log
	m         map[string][]byte
	liveBytes int64 // estimated encoded size of the live set
	closed    bool
}

// Open opens or creates the journal in dir and replays it: fn is called once per live key
// (after replay, in sorted key order) so the owner can rebuild typed state. The slices passed
// to fn are copies it may keep; fn may be nil. An error from fn closes the journal and is
// returned.
func Open(dir string, opts Options, fn func(key, value []byte) error) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	compactMin := opts.CompactMinBytes
	if compactMin <= 0 {
		compactMin = DefaultCompactMinBytes
	}
	l, err := plog.Open(dir, opts.Config, 0, logger)
	if err != nil {
		return nil, fmt.Errorf("coordlog: open %s: %w", dir, err)
	}
	s := &Store{log: l, logger: logger, compactMin: compactMin, changed: opts.Changed, m: make(map[string][]byte)}
	if err := s.replay(); err != nil {
		_ = l.Close()
		return nil, err
	}
	if fn != nil {
		for _, k := range s.sortedKeys() {
			if err := fn([]byte(k), bytes.Clone(s.m[k])); err != nil {
				_ = l.Close()
				return nil, err
			}
		}
	}
	return s, nil
}

// checkEntries enforces the size limits of one Write.
func checkEntries(entries []Entry) error {
	var total int64
	for i, e := range entries {
		if len(e.Key) > MaxKeyBytes {
			return fmt.Errorf("%w: entry %d: key of %d bytes, at most %d", ErrTooLarge, i, len(e.Key), MaxKeyBytes)
		}
		if len(e.Value) > MaxValueBytes {
			return fmt.Errorf("%w: entry %d: value of %d bytes, at most %d", ErrTooLarge, i, len(e.Value), MaxValueBytes)
		}
		total += int64(len(e.Key) + len(e.Value))
	}
	if total > MaxWriteBytes {
		return fmt.Errorf("%w: write of %d bytes, at most %d", ErrTooLarge, total, MaxWriteBytes)
	}
	return nil
}

// buildBatch encodes entries as one batch of records. Keys are never null; a nil value is a
// null (tombstone) record value.
func buildBatch(entries []Entry) []byte {
	recs := make([]record.Record, len(entries))
	for i, e := range entries {
		key := e.Key
		if key == nil {
			key = []byte{}
		}
		recs[i] = record.Record{Key: key, Value: e.Value}
	}
	opts := record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: time.Now().UnixMilli()}
	return record.BuildBatch(opts, recs)
}

// Write appends the entries as one batch (atomic: after a crash either all or none are
// replayed), updates the in-memory map, and waits (outside the store lock) until the batch is
// fsynced or ctx ends. Entries in one call are applied in order. Once the batch is appended its
// entries are visible to Get and Range even if the wait then fails: an error after that point
// (ctx ended, fsync failed) means the outcome on disk is unknown, not that nothing happened.
// When the compaction trigger holds after the append, Write compacts before waiting.
func (s *Store) Write(ctx context.Context, entries ...Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := checkEntries(entries); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // the caller gave up already: do not write what it will treat as failed
	}
	wait, err := s.Append(entries...)
	if err != nil {
		return err
	}
	return wait(ctx)
}

// applyLocked applies one write to the map (a nil value deletes), keeping liveBytes in step.
// The value is copied: the map never shares memory with a caller or a read buffer.
func (s *Store) applyLocked(key, value []byte) {
	k := string(key)
	if old, ok := s.m[k]; ok {
		s.liveBytes -= entrySize(k, old)
		delete(s.m, k)
	}
	if value == nil {
		return
	}
	v := bytes.Clone(value)
	s.m[k] = v
	s.liveBytes += entrySize(k, v)
}

// entrySize estimates the encoded size of a live entry.
func entrySize(k string, v []byte) int64 { return int64(len(k) + len(v) + recordOverhead) }

// Get returns a copy of the current value of key; ok is false when the key is absent.
func (s *Store) Get(key []byte) (value []byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[string(key)]
	if !ok {
		return nil, false
	}
	return bytes.Clone(v), true
}

// Range calls fn for every live key with the given prefix, in no particular order, until fn
// returns false. It works on a snapshot taken under the lock and calls fn without it, so fn
// may call back into the Store; the slices passed to fn are copies it may keep.
func (s *Store) Range(prefix []byte, fn func(key, value []byte) bool) {
	type kv struct {
		k string
		v []byte
	}
	p := string(prefix)
	var snap []kv
	s.mu.Lock()
	for k, v := range s.m {
		if strings.HasPrefix(k, p) {
			snap = append(snap, kv{k, v}) // map values are never modified in place
		}
	}
	s.mu.Unlock()
	for _, e := range snap {
		if !fn([]byte(e.k), bytes.Clone(e.v)) {
			return
		}
	}
}

// EndOffset returns the offset the journal's next record will take: it changes with every
// Write, Append and compaction, so equal end offsets mean an unchanged journal.
func (s *Store) EndOffset() int64 { return s.log.LogEndOffset() }

// Size returns the bytes of the log's segments on disk.
func (s *Store) Size() int64 { return s.log.Size() }

// Close closes the log (fsyncing it and marking the shutdown clean). Later calls return
// ErrClosed, and so do Write and Compact; Writes already waiting for their fsync succeed if
// Close made them durable. Get and Range keep answering from memory.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if err := s.log.Close(); err != nil {
		return fmt.Errorf("coordlog: close: %w", err)
	}
	return nil
}
