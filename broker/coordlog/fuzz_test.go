package coordlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// FuzzReplay interprets the input as a program of journal operations (writes of one or more
// entries, tombstones, forced compactions, interrupted compactions, clean and crash reopens,
// torn tails) run against a real Store and a model map.
//
// Invariants:
//   - after every operation the store's live set (Range, Get) equals the model;
//   - every reopen replays exactly the model (Open's fn sees each live key once, sorted),
//     except that a torn tail may drop the last Write as a whole (never part of it);
//   - nothing panics.
func FuzzReplay(f *testing.F) {
	f.Add([]byte{0, 1, 5, 0, 2, 9, 3, 1, 7, 0})
	f.Add([]byte{0, 1, 40, 0, 1, 41, 2, 1, 4, 0, 5, 6, 0})
	f.Add([]byte{3, 0, 3, 1, 9, 3, 2, 200, 5, 6, 8, 1, 7, 2, 0, 4, 4})
	f.Add(bytes.Repeat([]byte{0, 3, 63, 1, 4, 60}, 20))
	f.Add([]byte{6, 0, 1, 2, 8, 5, 4, 0, 3, 9, 6, 0, 7, 1})
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 300 {
			prog = prog[:300] // keep each input fast
		}
		opts := testOptions()
		opts.Config.SegmentBytes = 512
		dir := t.TempDir()
		r := replayRun{t: t, dir: dir, opts: opts, model: map[string]string{}}
		r.reopen(false)
		defer func() { r.s.Close() }()
		for i := 0; i < len(prog); {
			i = r.step(prog, i)
		}
		r.reopen(true)
	})
}

// replayRun is the state of one FuzzReplay program.
type replayRun struct {
	t     *testing.T
	dir   string
	opts  Options
	s     *Store
	model map[string]string
	prev  map[string]string // the model before the last Write, nil if a tear may not drop it
}

// arg returns prog[i] or 0 past the end.
func arg(prog []byte, i int) byte {
	if i < len(prog) {
		return prog[i]
	}
	return 0
}

// step runs the operation at prog[i] and returns the index of the next one.
func (r *replayRun) step(prog []byte, i int) int {
	t := r.t
	op, a, b := arg(prog, i)%10, arg(prog, i+1), arg(prog, i+2)
	key := fmt.Sprintf("k%d", a%12)
	switch op {
	case 0, 1: // put a value of up to 255 bytes
		r.write(Entry{Key: []byte(key), Value: bytesOf('a'+b%26, int(b))})
		return i + 3
	case 2: // tombstone
		r.write(Entry{Key: []byte(key)})
		return i + 2
	case 3: // a multi-entry write mixing puts and a tombstone
		r.write(Entry{Key: []byte(key), Value: []byte{b}}, Entry{Key: []byte(fmt.Sprintf("k%d", b%12)), Value: bytesOf('m', int(a))},
			Entry{Key: []byte(fmt.Sprintf("k%d", (a+b)%12))})
		return i + 3
	case 4: // forced compaction
		if err := r.s.Compact(true); err != nil {
			t.Fatalf("Compact: %v", err)
		}
		r.prev = nil
	case 5: // compaction if the trigger holds
		if err := r.s.Compact(false); err != nil {
			t.Fatalf("Compact: %v", err)
		}
		r.prev = nil
	case 6: // compaction interrupted before DeleteRecordsBefore
		r.s.mu.Lock()
		_, err := r.s.rewriteLocked()
		r.s.mu.Unlock()
		if err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		r.prev = nil
	case 7:
		r.reopen(false)
	case 8:
		r.reopen(true)
	case 9: // crash with a torn tail: the last Write may be lost, as a whole
		r.tear(int64(a%16) + 1)
		return i + 2
	}
	r.check("after op")
	return i + 1
}

// write writes entries to the store and the model.
func (r *replayRun) write(entries ...Entry) {
	if err := r.s.Write(context.Background(), entries...); err != nil {
		r.t.Fatalf("Write: %v", err)
	}
	r.prev = maps.Clone(r.model)
	applyModel(r.model, entries...)
	r.check("after write")
}

// check compares the store's live set with the model.
func (r *replayRun) check(what string) {
	r.t.Helper()
	checkMap(r.t, what, snapshot(r.s), r.model)
	for k, v := range r.model {
		if got, ok := r.s.Get([]byte(k)); !ok || string(got) != v {
			r.t.Fatalf("%s: Get(%q) = %q, %v; want %q", what, k, got, ok, v)
		}
	}
}

// reopen closes the store (as a crash when crash is set) and opens it again.
func (r *replayRun) reopen(crash bool) {
	r.t.Helper()
	if r.s != nil {
		if crash {
			crashClose(r.t, r.s, r.dir)
		} else if err := r.s.Close(); err != nil {
			r.t.Fatal(err)
		}
	}
	r.s, _ = r.open(r.model)
	r.prev = nil
}

// open opens the journal and checks its replay against want (or prev, when a tear may have
// dropped the last Write); it returns the replayed map.
func (r *replayRun) open(want map[string]string) (*Store, map[string]string) {
	r.t.Helper()
	got := map[string]string{}
	var last string
	s, err := Open(r.dir, r.opts, func(k, v []byte) error {
		if len(got) > 0 && string(k) <= last {
			r.t.Fatalf("Open fn: key %q after %q", k, last)
		}
		last = string(k)
		got[string(k)] = string(v)
		return nil
	})
	if err != nil {
		r.t.Fatalf("Open: %v", err)
	}
	if !maps.Equal(got, want) && (r.prev == nil || !maps.Equal(got, r.prev)) {
		r.t.Fatalf("replayed %v, want %v", abbrev(got), abbrev(want))
	}
	return s, got
}

// tear closes the store, removes the clean-shutdown marker and cuts n bytes off the last
// segment. Only the last Write's batch may be cut: a tear reaching further back (or into a
// compaction's rewrite) is skipped, since the model cannot predict it.
func (r *replayRun) tear(n int64) {
	r.t.Helper()
	crashClose(r.t, r.s, r.dir)
	seg := lastSegment(r.t, r.dir)
	st, err := os.Stat(seg)
	if err != nil {
		r.t.Fatal(err)
	}
	if r.prev != nil && st.Size() > 0 && n <= lastBatchSize(r.t, seg, r.opts) {
		truncateBy(r.t, seg, n)
	}
	r.s, r.model = r.open(r.model)
	r.prev = nil
}

// lastBatchSize returns the stored size of the last batch in a plaintext segment.
func lastBatchSize(t *testing.T, seg string, opts Options) int64 {
	if opts.Config.Sealing != nil {
		return 0
	}
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(0)
	for len(data) > 0 {
		b, rest, err := record.Next(data)
		if err != nil {
			break
		}
		size, data = int64(len(b)), rest
	}
	return size
}

// fuzzLogOpenErrors logs why FuzzOpenSegment's Open refused an input (for debugging seeds).
var fuzzLogOpenErrors = os.Getenv("COORDLOG_FUZZ_LOG") != ""

// FuzzOpenSegment writes the input as the only segment of a journal and opens it. Recovery
// may truncate it and Open may refuse it, but nothing may panic, and a journal that opens must
// accept a Write and replay it.
func FuzzOpenSegment(f *testing.F) {
	for _, seed := range segmentSeeds(f) {
		f.Add(seed)
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 100))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.log", 0)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, testOptions(), func(k, v []byte) error { return nil })
		if err != nil {
			if fuzzLogOpenErrors {
				t.Logf("Open: %v (ErrCorrupt: %v)", err, errors.Is(err, ErrCorrupt) || errors.Is(err, plog.ErrCorrupt))
			}
			return // refusing a damaged journal is fine; panicking is not
		}
		want := snapshot(s)
		if err := s.Write(context.Background(), put("fuzz", "ok")); err != nil {
			t.Fatalf("Write: %v", err)
		}
		want["fuzz"] = "ok"
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s2, err := Open(dir, testOptions(), nil)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer s2.Close()
		checkMap(t, "reopened", snapshot(s2), want)
	})
}

// segmentSeeds returns segment files a Store really writes (with overwrites, tombstones and a
// compaction) and one holding a record the journal refuses.
func segmentSeeds(f *testing.F) [][]byte {
	dir := f.TempDir()
	opts := testOptions()
	opts.Config.SegmentBytes = 1 << 20
	s, err := Open(dir, opts, nil)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10 {
		if err := s.Write(ctx, put(fmt.Sprint("k", i%3), fmt.Sprint(i)), del("k4"), put("", "")); err != nil {
			f.Fatal(err)
		}
	}
	next := s.log.LogEndOffset()
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	written, err := os.ReadFile(lastSegment(f, dir))
	if err != nil {
		f.Fatal(err)
	}
	nullKey := record.BuildBatch(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
		[]record.Record{{Key: []byte("a"), Value: []byte("b")}, {Value: []byte("null key")}})
	record.SetBaseOffset(nullKey, next) // offsets continue the log, so recovery keeps the batch
	record.SetPartitionLeaderEpoch(nullKey, 0)
	return [][]byte{written, append(bytes.Clone(written), nullKey...), written[:len(written)-3]}
}
