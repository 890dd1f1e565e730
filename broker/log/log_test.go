package log

import (
	"encoding/binary"
	"errors"
	"github.com/bulwark-kafka/bulwark/internal/filecache"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestAppendReadAcrossSegments(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 300
	l := openTest(t, t.TempDir(), cfg, 0)
	var want []AppendResult
	next := int64(0)
	for i := range 200 {
		n := 1 + i%5
		res := mustAppend(t, l, testBatch(n, 10+i%50, int64(1000+i)), AppendOptions{LeaderEpoch: 3})
		if res.BaseOffset != next || res.LastOffset != next+int64(n)-1 || res.LogAppendTime != -1 {
			t.Fatalf("append %d: got %+v, want base %d", i, res, next)
		}
		next = res.LastOffset + 1
		want = append(want, res)
	}
	if l.NumSegments() < 5 {
		t.Fatalf("expected many segments, got %d", l.NumSegments())
	}
	if l.LogEndOffset() != next || l.HighWatermark() != next {
		t.Fatalf("LEO %d, want %d", l.LogEndOffset(), next)
	}
	// Every offset reads back the batch that contains it.
	for i, w := range want {
		for off := w.BaseOffset; off <= w.LastOffset; off++ {
			data, err := l.Read(off, 1, next, true)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			bs := splitBatches(t, data)
			if len(bs) != 1 || bs[0].base != w.BaseOffset || bs[0].last != w.LastOffset || bs[0].epoch != 3 {
				t.Fatalf("Read(%d) of batch %d: got %+v", off, i, bs)
			}
		}
	}
	got := readAll(t, l)
	if len(got) != len(want) {
		t.Fatalf("read %d batches, want %d", len(got), len(want))
	}
	var total int64
	for _, b := range got {
		total += b.size
	}
	if total != l.Size() {
		t.Fatalf("Size %d, batches add up to %d", l.Size(), total)
	}
}

func TestReadLimits(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig(), 0)
	var sizes []int
	for i := range 4 {
		b := testBatch(2, 100, int64(i))
		sizes = append(sizes, len(b))
		mustAppend(t, l, b, AppendOptions{})
	}
	s := sizes[0] // all batches have the same size
	cases := []struct {
		name     string
		offset   int64
		maxBytes int32
		upTo     int64
		minOne   bool
		want     []int64 // base offsets returned
	}{
		{"zero budget", 0, 0, 8, false, nil},
		{"zero budget min one", 0, 0, 8, true, []int64{0}},
		{"one byte short", 0, int32(s - 1), 8, false, nil},
		{"one byte short min one", 0, int32(s - 1), 8, true, []int64{0}},
		{"exact", 0, int32(s), 8, false, []int64{0}},
		{"one over", 0, int32(s + 1), 8, false, []int64{0}},
		{"two minus one", 0, int32(2*s - 1), 8, false, []int64{0}},
		{"two", 0, int32(2 * s), 8, true, []int64{0, 2}},
		{"all", 0, 1 << 20, 8, false, []int64{0, 2, 4, 6}},
		{"mid batch", 3, 1 << 20, 8, false, []int64{2, 4, 6}},
		{"upTo cuts", 0, 1 << 20, 5, false, []int64{0, 2}},
		{"upTo on boundary", 0, 1 << 20, 6, false, []int64{0, 2, 4}},
		{"upTo inside first", 2, 1 << 20, 3, true, nil},
		{"at upTo", 4, 1 << 20, 4, true, nil},
		{"last batch", 7, 1 << 20, 8, false, []int64{6}},
		{"at end", 8, 1 << 20, 8, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := l.Read(c.offset, c.maxBytes, c.upTo, c.minOne)
			if err != nil {
				t.Fatal(err)
			}
			bs := splitBatches(t, data)
			if len(bs) != len(c.want) {
				t.Fatalf("got %d batches %+v, want bases %v", len(bs), bs, c.want)
			}
			for i, b := range bs {
				if b.base != c.want[i] {
					t.Fatalf("batch %d base %d, want %d", i, b.base, c.want[i])
				}
			}
		})
	}
	for _, off := range []int64{-1, 9, 100} {
		if _, err := l.Read(off, 100, 8, true); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(%d): %v, want ErrOffsetOutOfRange", off, err)
		}
	}
}

func TestAppendStampsBatch(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig(), 0)
	mustAppend(t, l, testBatch(1, 5, 1), AppendOptions{})
	b := testBatch(3, 5, 1000)
	now := time.UnixMilli(5_000_000)
	res := mustAppend(t, l, b, AppendOptions{LogAppendTime: true, Now: now, LeaderEpoch: 7})
	if res.BaseOffset != 1 || res.LastOffset != 3 || res.LogAppendTime != now.UnixMilli() {
		t.Fatalf("result %+v", res)
	}
	if got := int64(binary.BigEndian.Uint64(b)); got != 1 {
		t.Fatalf("caller's slice has base offset %d", got)
	}
	data, err := l.Read(1, 1000, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	bs := splitBatches(t, data) // also checks the recomputed CRC
	if len(bs) != 1 || bs[0].maxTs != now.UnixMilli() || bs[0].epoch != 7 {
		t.Fatalf("stored batch %+v", bs)
	}
	if data[offAttributes+1]&attrLogAppendTs == 0 {
		t.Fatal("timestamp type bit not set")
	}
	for _, bad := range [][]byte{nil, make([]byte, 60), testBatch(1, 5, 1)[:70]} {
		if _, err := l.Append(bad, AppendOptions{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Append(%d bytes): %v", len(bad), err)
		}
	}
}

func TestReopenAfterClose(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 200
	l, err := Open(dir, cfg, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		mustAppend(t, l, testBatch(2, 40, int64(i)), AppendOptions{LeaderEpoch: int32(i / 20)})
	}
	before := readAll(t, l)
	segs, size := l.NumSegments(), l.Size()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownName)); err != nil {
		t.Fatalf("no clean-shutdown marker: %v", err)
	}
	if _, err := l.Append(testBatch(1, 1, 1), AppendOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	l = openTest(t, dir, cfg, 0)
	// The marker stays until the files change: the log opened exactly as it was closed.
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownName)); err != nil {
		t.Fatalf("marker gone after a clean Open, before any change: %v", err)
	}
	if l.NumSegments() != segs || l.Size() != size || l.LogEndOffset() != 100 || l.FlushedOffset() != 100 {
		t.Fatalf("reopened: %d segments, %d bytes, LEO %d", l.NumSegments(), l.Size(), l.LogEndOffset())
	}
	after := readAll(t, l)
	if len(after) != len(before) {
		t.Fatalf("%d batches after reopen, %d before", len(after), len(before))
	}
	for i := range after {
		if after[i] != before[i] {
			t.Fatalf("batch %d: %+v != %+v", i, after[i], before[i])
		}
	}
	if e, end := l.EndOffsetForEpoch(1); e != 1 || end != 80 {
		t.Fatalf("EndOffsetForEpoch(1) = %d, %d", e, end)
	}
	res := mustAppend(t, l, testBatch(1, 1, 1), AppendOptions{LeaderEpoch: 2})
	if res.BaseOffset != 100 {
		t.Fatalf("append after reopen at %d", res.BaseOffset)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownName)); !os.IsNotExist(err) {
		t.Fatalf("marker still present after an append: %v", err)
	}
}

// TestIdleReopenKeepsCleanState: a log closed cleanly, opened and closed again without a change
// writes nothing, stays clean, and a crash after an append that follows it recovers as any crash
// does (the append removed the marker first).
func TestIdleReopenKeepsCleanState(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openTest(t, dir, cfg, 0)
	for i := range 10 {
		mustAppend(t, l, testBatch(1, 40, int64(i)), AppendOptions{})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	stamp := func() map[string]time.Time {
		out := map[string]time.Time{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if info, err := e.Info(); err == nil {
				out[e.Name()] = info.ModTime()
			}
		}
		return out
	}
	before := stamp()
	l = openTest(t, dir, cfg, 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if after := stamp(); !maps.Equal(before, after) {
		t.Fatalf("an idle open and close changed the directory:\n%v\n%v", before, after)
	}
	l = openTest(t, dir, cfg, 0)
	appendThenCrash(t, l, dir, cfg, 11)
}

// appendThenCrash appends one batch to l, which then ends at wantEnd, syncs it and crashes: the
// append must have removed the clean-shutdown marker, and recovery must find the batch.
func appendThenCrash(t *testing.T, l *Log, dir string, cfg Config, wantEnd int64) {
	t.Helper()
	mustAppend(t, l, testBatch(1, 40, wantEnd-1), AppendOptions{}) // timestamps follow offsets here
	mustSync(t, l)
	crash(l)
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownName)); !os.IsNotExist(err) {
		t.Fatalf("marker survived an append: %v", err)
	}
	l = openTest(t, dir, cfg, 0)
	if got := l.LogEndOffset(); got != wantEnd {
		t.Fatalf("after the crash: log end %d, want %d", got, wantEnd)
	}
}

func TestWaitWokenByAppendAndClose(t *testing.T) {
	l, err := Open(t.TempDir(), testConfig(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := l.Wait()
	select {
	case <-w:
		t.Fatal("woken before any append")
	default:
	}
	mustAppend(t, l, testBatch(1, 1, 1), AppendOptions{})
	<-w
	w = l.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-w
	<-l.Wait() // a closed log never blocks pollers
	if _, err := l.Read(0, 100, 1, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

func TestDeleteRemovesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topic-0")
	l, err := Open(dir, testConfig(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, testBatch(1, 1, 1), AppendOptions{})
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory still there: %v", err)
	}
}

// TestConcurrentReadsAppendsRetention runs readers against a log that appends, rolls and
// deletes segments underneath them (meaningful under -race).
func TestConcurrentReadsAppendsRetention(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.RetentionBytes = 3000
	l := openTest(t, t.TempDir(), cfg, 0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				off := l.LogStartOffset()
				data, err := l.Read(off, 800, l.HighWatermark(), true)
				if err != nil && !errors.Is(err, ErrOffsetOutOfRange) {
					t.Errorf("Read: %v", err)
					return
				}
				splitBatches(t, data)
				_, _, _, _ = l.OffsetForTimestamp(50)
			}
		}()
	}
	for i := range 150 {
		mustAppend(t, l, testBatch(1, 50, int64(i)), AppendOptions{})
		if i%10 == 0 {
			if _, err := l.EnforceRetention(time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	if _, err := l.EnforceRetention(time.Now()); err != nil {
		t.Fatal(err)
	}
	if l.Size() > 3000+1000 {
		t.Fatalf("retention.bytes not enforced: %d bytes", l.Size())
	}
}

// TestCreatedLogIsCleanUntilFirstAppend: a log made by Create carries the clean-shutdown marker,
// so closing it writes nothing and reopening it rescans nothing; its first append removes the
// marker before writing, so a crash after it recovers the segment.
func TestCreatedLogIsCleanUntilFirstAppend(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Files = filecache.New(4)
	l, err := Create(dir, cfg, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{cleanShutdownName, "00000000000000000000.log"}; !slices.Equal(names, want) {
		t.Fatalf("after Create and Close: %v, want %v", names, want)
	}
	l = openTest(t, dir, cfg, 0)
	if l.changedAtOpen || !l.cleanOnDisk {
		t.Fatalf("reopening a created log: changed %v, clean %v", l.changedAtOpen, l.cleanOnDisk)
	}
	appendThenCrash(t, l, dir, cfg, 1)
}

// TestWriteThatCouldNotReopenDoesNotFailTheLog: an append whose segment file could not be
// reopened wrote nothing, so it returns an error without marking the log failed.
func TestWriteThatCouldNotReopenDoesNotFailTheLog(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Files = filecache.New(1)
	l := openTest(t, dir, cfg, 0)
	mustAppend(t, l, testBatch(1, 40, 0), AppendOptions{})
	l.segs[0].f.Unlinked() // stands in for a reopen that fails (EMFILE past the retries)
	other, err := cfg.Files.Open(filepath.Join(t.TempDir(), "other"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close() // opening it closed the segment's descriptor (budget 1)
	var reopen *filecache.ReopenError
	if _, err := l.Append(testBatch(1, 40, 1), AppendOptions{}); !errors.As(err, &reopen) {
		t.Fatalf("append without a descriptor: %v", err)
	}
	if l.failed != nil {
		t.Fatalf("the log was failed by a write that never ran: %v", l.failed)
	}
}

// A log's files are not readable by other users (THREAT_MODEL: 0640 files): segments, indexes,
// checkpoints, producer snapshots and the clean-shutdown marker.
func TestLogFilesAreNotWorldReadable(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 300
	l := openTest(t, dir, cfg, 0)
	for i := range 10 {
		mustAppend(t, l, testBatch(1, 40, int64(i)), AppendOptions{LeaderEpoch: int32(i / 5)})
	}
	mustSync(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		kinds[filepath.Ext(e.Name())] = true
		if info.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s has mode %v: others may read it", e.Name(), info.Mode().Perm())
		}
	}
	for _, ext := range []string{".log", ".index", ".timeindex"} {
		if !kinds[ext] {
			t.Errorf("no %s file was written (files: %v): the test did not see every kind", ext, kinds)
		}
	}
}
