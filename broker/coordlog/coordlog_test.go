package coordlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-kafka/bulwark/broker/keys"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

func TestWriteOverwriteTombstoneReopen(t *testing.T) {
	dir := t.TempDir()
	s, got := openStore(t, dir, testOptions())
	if len(got) != 0 {
		t.Fatalf("new journal replayed %v", got)
	}
	want := map[string]string{}
	steps := [][]Entry{
		{put("offsets/g1/t/0", "10"), put("offsets/g1/t/1", "20")},
		{put("offsets/g1/t/0", "11")},
		{put("group/g1", "meta-v1"), put("group/g2", "meta")},
		{del("group/g2")},
		{del("never-existed")},
		{put("empty-value", "")},
		{put("", "empty-key")},
		{put("txn/a", "1"), del("txn/a"), put("txn/a", "3")}, // applied in order
		{put("txn/b", "1"), del("txn/b")},
	}
	for _, st := range steps {
		mustWrite(t, s, st...)
		applyModel(want, st...)
	}
	checkMap(t, "before reopen", snapshot(s), want)
	if v, ok := s.Get([]byte("empty-value")); !ok || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty-value) = %q, %v; want a non-nil empty value", v, ok)
	}
	if _, ok := s.Get([]byte("group/g2")); ok {
		t.Fatal("Get found a deleted key")
	}
	v, _ := s.Get([]byte("group/g1"))
	v[0] = 'X' // Get returns a copy
	if v2, _ := s.Get([]byte("group/g1")); string(v2) != "meta-v1" {
		t.Fatalf("modifying Get's result changed the store: %q", v2)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, replayed := openStore(t, dir, testOptions())
	checkMap(t, "replayed", replayed, want)
	checkMap(t, "after reopen", snapshot(s2), want)
	if v, ok := s2.Get([]byte("empty-value")); !ok || v == nil || len(v) != 0 {
		t.Fatalf("after reopen Get(empty-value) = %q, %v", v, ok)
	}
}

func TestRangePrefix(t *testing.T) {
	s, _ := openStore(t, t.TempDir(), testOptions())
	mustWrite(t, s, put("a/1", "x"), put("a/2", "y"), put("ab", "z"), put("b/1", "w"))
	got := map[string]string{}
	s.Range([]byte("a/"), func(k, v []byte) bool {
		got[string(k)] = string(v)
		mustWrite(t, s, put("b/2", "from-range")) // fn runs without the lock
		return true
	})
	checkMap(t, "Range a/", got, map[string]string{"a/1": "x", "a/2": "y"})
	n := 0
	s.Range(nil, func(k, v []byte) bool { n++; return false })
	if n != 1 {
		t.Fatalf("Range did not stop after fn returned false: %d calls", n)
	}
}

func TestOpenCallbackError(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, testOptions())
	mustWrite(t, s, put("k", "v"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := Open(dir, testOptions(), func(k, v []byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Open = %v, want the callback's error", err)
	}
	// The failed Open closed the log, so the directory can be opened again.
	_, got := openStore(t, dir, testOptions())
	checkMap(t, "reopen", got, map[string]string{"k": "v"})
}

// TestTornTailAtomic cuts a few bytes off the last segment after a multi-entry Write and
// checks that replay yields either all of that Write's entries or none.
func TestTornTailAtomic(t *testing.T) {
	for _, cut := range []int64{0, 1, 2, 7, 30, 61} {
		t.Run(fmt.Sprint("cut=", cut), func(t *testing.T) {
			dir := t.TempDir()
			s, _ := openStore(t, dir, testOptions())
			before := map[string]string{}
			for i := range 40 {
				e := put(fmt.Sprintf("k%02d", i%7), value(fmt.Sprint(i), 60))
				mustWrite(t, s, e)
				applyModel(before, e)
			}
			last := []Entry{put("k00", "new0"), put("multi/a", "A"), del("k01"), put("multi/b", "B"), put("k02", "new2")}
			mustWrite(t, s, last...)
			after := maps.Clone(before)
			applyModel(after, last...)
			crashClose(t, s, dir)
			truncateBy(t, lastSegment(t, dir), cut)

			s2, got := openStore(t, dir, testOptions())
			switch {
			case cut == 0:
				checkMap(t, "intact", got, after)
			case maps.Equal(got, before), maps.Equal(got, after):
				if cut > 0 && !maps.Equal(got, before) {
					t.Fatalf("cut %d bytes but the last write survived", cut)
				}
			default:
				t.Fatalf("replay is neither before nor after the last write\n got    %v\n before %v\n after  %v", abbrev(got), abbrev(before), abbrev(after))
			}
			// The journal keeps working after recovery.
			mustWrite(t, s2, put("later", "1"))
			applyModel(got, put("later", "1"))
			crashClose(t, s2, dir)
			_, again := openStore(t, dir, testOptions())
			checkMap(t, "after recovery and a new write", again, got)
		})
	}
}

// overwrite writes rounds of values for a few keys, deleting some, and returns the model.
func overwrite(t testing.TB, s *Store, rounds int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for r := range rounds {
		for k := range 8 {
			e := put(fmt.Sprintf("key-%d", k), value(fmt.Sprintf("r%d-k%d-", r, k), 100))
			if k == 7 && r%2 == 1 {
				e = del(fmt.Sprintf("key-%d", k))
			}
			mustWrite(t, s, e)
			applyModel(want, e)
		}
	}
	mustWrite(t, s, put("gone", "soon"))
	mustWrite(t, s, del("gone"))
	return want
}

func TestCompactShrinksAndReplays(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, testOptions())
	want := overwrite(t, s, 60)
	before, segsBefore := s.Size(), s.log.NumSegments()
	if err := s.Compact(false); err != nil { // the trigger does not hold: nothing happens
		t.Fatal(err)
	}
	if s.Size() != before {
		t.Fatalf("Compact(false) below CompactMinBytes changed the size %d → %d", before, s.Size())
	}
	if err := s.Compact(true); err != nil {
		t.Fatal(err)
	}
	after := s.Size()
	t.Logf("size %d bytes in %d segments → %d bytes in %d segments", before, segsBefore, after, s.log.NumSegments())
	if after >= before/10 || after > 4<<10 {
		t.Fatalf("compaction left %d of %d bytes", after, before)
	}
	checkMap(t, "after compaction", snapshot(s), want)
	// Write after compaction, compact again, reopen after a clean and after a crash close.
	mustWrite(t, s, put("key-0", "post"), del("key-1"))
	applyModel(want, put("key-0", "post"), del("key-1"))
	if err := s.Compact(true); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, got := openStore(t, dir, testOptions())
	checkMap(t, "reopened", got, want)
	crashClose(t, s2, dir)
	_, got = openStore(t, dir, testOptions())
	checkMap(t, "reopened after crash", got, want)
}

func TestCompactEmptyLiveSet(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, testOptions())
	for i := range 50 {
		mustWrite(t, s, put(fmt.Sprint("k", i%5), value("v", 200)))
	}
	for i := range 5 {
		mustWrite(t, s, del(fmt.Sprint("k", i)))
	}
	if err := s.Compact(true); err != nil {
		t.Fatal(err)
	}
	if s.Size() != 0 {
		t.Fatalf("empty live set left %d bytes", s.Size())
	}
	end := s.log.LogEndOffset()
	crashClose(t, s, dir)
	s2, got := openStore(t, dir, testOptions())
	checkMap(t, "reopened", got, map[string]string{})
	if s2.log.LogEndOffset() != end {
		t.Fatalf("log end offset %d after reopen, want %d", s2.log.LogEndOffset(), end)
	}
}

// TestCompactCrashBeforeDelete rewrites the live set without deleting the old segments (a crash
// between the two steps of compaction), also with the rewrite's tail torn, and replays.
func TestCompactCrashBeforeDelete(t *testing.T) {
	for _, cut := range []int64{0, 5} {
		t.Run(fmt.Sprint("cut=", cut), func(t *testing.T) {
			dir := t.TempDir()
			s, _ := openStore(t, dir, testOptions())
			want := overwrite(t, s, 30)
			// Keys deleted long ago must stay deleted although the rewrite does not mention them.
			s.mu.Lock()
			x, err := s.rewriteLocked()
			s.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if x >= s.log.LogEndOffset() {
				t.Fatalf("rewrite appended nothing: X=%d end=%d", x, s.log.LogEndOffset())
			}
			checkMap(t, "after rewrite", snapshot(s), want)
			crashClose(t, s, dir)
			truncateBy(t, lastSegment(t, dir), cut)
			s2, got := openStore(t, dir, testOptions())
			checkMap(t, "replayed after rewrite", got, want)
			if err := s2.Compact(true); err != nil {
				t.Fatal(err)
			}
			crashClose(t, s2, dir)
			_, got = openStore(t, dir, testOptions())
			checkMap(t, "replayed after a full compaction", got, want)
		})
	}
}

// TestCompactLargeLiveSet makes the rewrite span several batches and segments.
func TestCompactLargeLiveSet(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.Config.SegmentBytes = 256 << 10
	s, _ := openStore(t, dir, opts)
	want := map[string]string{}
	for round := range 2 {
		var batch []Entry
		for i := range 600 {
			e := put(fmt.Sprintf("big/%04d", i), value(fmt.Sprintf("%d-%d-", round, i), 3000))
			batch = append(batch, e)
			if len(batch) == 100 {
				mustWrite(t, s, batch...)
				applyModel(want, batch...)
				batch = nil
			}
		}
	}
	before := s.Size()
	if err := s.Compact(true); err != nil {
		t.Fatal(err)
	}
	if s.Size() >= before*3/4 {
		t.Fatalf("size %d → %d", before, s.Size())
	}
	crashClose(t, s, dir)
	_, got := openStore(t, dir, opts)
	checkMap(t, "reopened", got, want)
}

func TestAutoCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.CompactMinBytes = 16 << 10
	s, _ := openStore(t, dir, opts)
	want := map[string]string{}
	maxSize := int64(0)
	for i := range 2000 {
		e := put(fmt.Sprint("k", i%10), value(fmt.Sprint(i), 120))
		mustWrite(t, s, e)
		applyModel(want, e)
		maxSize = max(maxSize, s.Size())
	}
	t.Logf("largest size %d bytes, final %d", maxSize, s.Size())
	if maxSize > 24<<10 {
		t.Fatalf("log grew to %d bytes with CompactMinBytes %d", maxSize, opts.CompactMinBytes)
	}
	crashClose(t, s, dir)
	_, got := openStore(t, dir, opts)
	checkMap(t, "reopened", got, want)
}

func TestLimits(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, testOptions())
	mustWrite(t, s, put("keep", "1"))
	end := s.log.LogEndOffset()
	cases := map[string][]Entry{
		"key":   {{Key: bytesOf('k', MaxKeyBytes+1), Value: []byte("v")}},
		"value": {{Key: []byte("v"), Value: bytesOf('v', MaxValueBytes+1)}},
		"second entry": {
			put("first", "ok"),
			{Key: []byte("second"), Value: bytesOf('v', MaxValueBytes+1)},
		},
		"write": func() []Entry {
			var es []Entry
			for i := range 9 {
				es = append(es, Entry{Key: []byte(fmt.Sprint("w", i)), Value: bytesOf('w', MaxValueBytes)})
			}
			return es
		}(),
	}
	for name, es := range cases {
		if err := s.Write(context.Background(), es...); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: Write = %v, want ErrTooLarge", name, err)
		}
	}
	if s.log.LogEndOffset() != end {
		t.Fatalf("rejected writes reached the log: end %d → %d", end, s.log.LogEndOffset())
	}
	checkMap(t, "after rejected writes", snapshot(s), map[string]string{"keep": "1"})
	// Exactly at the limits is fine, and a batch larger than the replay chunk replays.
	atLimit := []Entry{
		{Key: bytesOf('k', MaxKeyBytes), Value: []byte("v")},
		{Key: []byte("max-value"), Value: bytesOf('m', MaxValueBytes)},
	}
	for i := range 6 {
		atLimit = append(atLimit, Entry{Key: []byte(fmt.Sprint("mib", i)), Value: bytesOf(byte('0'+i), MaxValueBytes)})
	}
	mustWrite(t, s, atLimit...)
	want := map[string]string{"keep": "1"}
	applyModel(want, atLimit...)
	crashClose(t, s, dir)
	_, got := openStore(t, dir, testOptions())
	checkMap(t, "reopened", got, want)
}

func TestWriteCanceledContext(t *testing.T) {
	s, _ := openStore(t, t.TempDir(), testOptions())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	end := s.log.LogEndOffset()
	if err := s.Write(ctx, put("k", "v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %v, want context.Canceled", err)
	}
	if _, ok := s.Get([]byte("k")); ok || s.log.LogEndOffset() != end {
		t.Fatal("a Write with a canceled context was applied")
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, s, put("k", "v"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), put("k", "w")); !errors.Is(err, plog.ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
	if err := s.Compact(true); !errors.Is(err, ErrClosed) {
		t.Fatalf("Compact after Close = %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	if v, ok := s.Get([]byte("k")); !ok || string(v) != "v" {
		t.Fatalf("Get after Close = %q, %v", v, ok)
	}
}

// TestConcurrentWriters runs writers, readers and compactions at once (run with -race).
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.CompactMinBytes = 64 << 10
	s, _ := openStore(t, dir, opts)
	const writers, writes = 8, 200
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.Range([]byte("w3/"), func(k, v []byte) bool { return len(v) > 0 })
			s.Get([]byte("w0/k0"))
		}
	}()
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Compact(false); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				k := fmt.Sprintf("w%d/k%d", w, i%10)
				var err error
				if i%9 == 8 {
					err = s.Write(context.Background(), del(k))
				} else {
					err = s.Write(context.Background(), put(k, value(fmt.Sprint(i), 50)), put(fmt.Sprintf("w%d/last", w), fmt.Sprint(i)))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := map[string]string{}
	for w := range writers {
		for i := range writes {
			k := fmt.Sprintf("w%d/k%d", w, i%10)
			if i%9 == 8 {
				applyModel(want, del(k))
			} else {
				applyModel(want, put(k, value(fmt.Sprint(i), 50)), put(fmt.Sprintf("w%d/last", w), fmt.Sprint(i)))
			}
		}
	}
	checkMap(t, "in memory", snapshot(s), want)
	if s.Size() > 2*opts.CompactMinBytes {
		t.Fatalf("%d bytes on disk: compaction did not keep up", s.Size())
	}
	crashClose(t, s, dir)
	_, got := openStore(t, dir, opts)
	checkMap(t, "reopened", got, want)
}

// TestCorruptRecordFailsOpen puts records the journal never writes into its log (as a bug or
// tampering would) and checks that Open refuses them, naming the offset.
func TestCorruptRecordFailsOpen(t *testing.T) {
	batch := func(recs ...record.Record) []byte {
		return record.BuildBatch(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
	}
	good := batch(record.Record{Key: []byte("a"), Value: []byte("1")}, record.Record{Key: []byte("b"), Value: []byte("2")})
	control := record.BuildBatch(record.BuildOptions{ProducerID: 1, ProducerEpoch: 0, BaseSequence: -1, Transactional: true, Control: true},
		[]record.Record{{Key: []byte{0, 0, 0, 0}, Value: []byte{0, 0, 0, 0, 0, 0}}})
	cases := map[string]struct {
		batch []byte
		at    string // the offset the error must name
	}{
		"null key":   {batch(record.Record{Key: []byte("x"), Value: []byte("y")}, record.Record{Value: []byte("no key")}), "offset 3"},
		"huge value": {batch(record.Record{Key: []byte("x"), Value: bytesOf('v', MaxValueBytes+1)}), "offset 2"},
		"control":    {control, "offset 2"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := plog.Open(dir, testOptions().Config, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range [][]byte{bytes.Clone(good), c.batch} {
				if _, err := l.Append(b, plog.AppendOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, testOptions(), nil)
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a bad record")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.at) {
				t.Fatalf("Open = %v, want ErrCorrupt naming %s", err, c.at)
			}
		})
	}
}

// TestSealed runs writes, a compaction and a crash replay with encryption at rest.
func TestSealed(t *testing.T) {
	p, err := keys.OpenLocal(filepath.Join(t.TempDir(), "ring"), keys.LocalOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	opts := testOptions()
	opts.Config.Sealing = &plog.Sealing{Provider: p, Context: keys.EncryptionContext{"bulwark:topic": "__consumer_offsets"}}
	dir := t.TempDir()
	s, _ := openStore(t, dir, opts)
	want := map[string]string{}
	for i := range 300 {
		e := put(fmt.Sprint("secret-key-", i%6), fmt.Sprintf("PLAINTEXT-VALUE-%05d", i))
		mustWrite(t, s, e)
		applyModel(want, e)
	}
	before := s.Size()
	if err := s.Compact(true); err != nil {
		t.Fatal(err)
	}
	if s.Size() >= before/4 {
		t.Fatalf("sealed compaction: %d → %d bytes", before, s.Size())
	}
	crashClose(t, s, dir)
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("PLAINTEXT-VALUE")) {
				t.Errorf("%s holds plaintext", path)
			}
		}
		return nil
	})
	_, got := openStore(t, dir, opts)
	checkMap(t, "reopened", got, want)
}

// TestAppendThenWait covers the split form of Write the coordinators use: the entries are
// visible as soon as Append returns, durable once wait returns, and replayed after a crash.
func TestAppendThenWait(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, testOptions())
	wait, err := s.Append(put("a", "1"), put("b", "2"), del("a"))
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, "before wait", snapshot(s), map[string]string{"b": "2"})
	if err := wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.log.FlushedOffset() < s.log.LogEndOffset() {
		t.Fatalf("wait returned with offsets %d..%d not durable", s.log.FlushedOffset(), s.log.LogEndOffset())
	}
	if w, err := s.Append(); err != nil || w(context.Background()) != nil {
		t.Fatalf("empty Append: %v", err)
	}
	if _, err := s.Append(Entry{Key: bytesOf('k', MaxKeyBytes+1), Value: []byte("v")}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized Append = %v", err)
	}
	crashClose(t, s, dir)
	if _, err := s.Append(put("c", "3")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	_, got := openStore(t, dir, testOptions())
	checkMap(t, "replayed", got, map[string]string{"b": "2"})
}
