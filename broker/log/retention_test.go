package log

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRollTriggers(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	t.Run("size", func(t *testing.T) {
		cfg := testConfig()
		b := testBatch(1, 100, base.UnixMilli())
		cfg.SegmentBytes = int64(3 * len(b))
		l := openTest(t, t.TempDir(), cfg, 0)
		for range 7 {
			mustAppend(t, l, testBatch(1, 100, base.UnixMilli()), AppendOptions{})
		}
		if l.NumSegments() != 3 {
			t.Fatalf("%d segments, want 3 (3+3+1 batches)", l.NumSegments())
		}
	})
	t.Run("batch larger than a segment", func(t *testing.T) {
		cfg := testConfig()
		cfg.SegmentBytes = 100
		l := openTest(t, t.TempDir(), cfg, 0)
		for range 3 {
			mustAppend(t, l, testBatch(1, 200, 1), AppendOptions{})
		}
		if l.NumSegments() != 3 {
			t.Fatalf("%d segments, want one batch per segment", l.NumSegments())
		}
	})
	t.Run("time", func(t *testing.T) {
		cfg := testConfig()
		cfg.SegmentMs = time.Hour
		l := openTest(t, t.TempDir(), cfg, 0)
		ts := base.UnixMilli()
		mustAppend(t, l, testBatch(1, 10, ts), AppendOptions{Now: base})
		mustAppend(t, l, testBatch(1, 10, ts), AppendOptions{Now: base.Add(time.Hour)})
		if l.NumSegments() != 1 {
			t.Fatalf("rolled before segment.ms passed")
		}
		mustAppend(t, l, testBatch(1, 10, ts), AppendOptions{Now: base.Add(time.Hour + time.Millisecond)})
		if l.NumSegments() != 2 {
			t.Fatalf("%d segments, want 2", l.NumSegments())
		}
		// EnforceRetention rolls an aged active segment too, and never rolls an empty one.
		if _, err := l.EnforceRetention(base.Add(3 * time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.EnforceRetention(base.Add(9 * time.Hour)); err != nil {
			t.Fatal(err)
		}
		if l.NumSegments() != 3 || l.LogEndOffset() != 3 {
			t.Fatalf("%d segments, LEO %d", l.NumSegments(), l.LogEndOffset())
		}
	})
	t.Run("index full", func(t *testing.T) {
		cfg := testConfig()
		cfg.IndexIntervalBytes = 0 // an entry for every batch after the first
		cfg.SegmentIndexBytes = 36 // 4 offset entries, 3 time entries: the time index fills first
		l := openTest(t, t.TempDir(), cfg, 0)
		for i := range 8 {
			mustAppend(t, l, testBatch(1, 10, int64(i)), AppendOptions{})
		}
		// A segment holds 4 batches: the first (no entry) and three indexed ones.
		if l.NumSegments() != 2 {
			t.Fatalf("%d segments, want 2", l.NumSegments())
		}
	})
}

// appendSegments builds a log of `segs` full segments of `per` batches each plus an active
// segment with one batch; batch i has timestamp base+i.
func appendSegments(t *testing.T, cfg Config, segs, per int, base int64) *Log {
	t.Helper()
	b := testBatch(1, 50, 0)
	cfg.SegmentBytes = int64(per * len(b))
	l := openTest(t, t.TempDir(), cfg, 0)
	for i := range segs*per + 1 {
		mustAppend(t, l, testBatch(1, 50, base+int64(i)), AppendOptions{})
	}
	if l.NumSegments() != segs+1 {
		t.Fatalf("%d segments, want %d", l.NumSegments(), segs+1)
	}
	return l
}

func TestRetentionByTime(t *testing.T) {
	cfg := testConfig()
	cfg.RetentionMs = 1000
	const base = 1_700_000_000_000
	l := appendSegments(t, cfg, 4, 5, base)
	// Segment k's largest timestamp is base+5k+4. At now = base+1000+9 segments 0 and 1 have
	// timestamps exactly 1000 or more old: only "more than retention.ms" deletes, so only 0.
	n, err := l.EnforceRetention(time.UnixMilli(base + 1000 + 9))
	if err != nil || n != 1 || l.LogStartOffset() != 5 {
		t.Fatalf("deleted %d (%v), start %d", n, err, l.LogStartOffset())
	}
	if _, err := l.Read(4, 100, 100, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read below start: %v", err)
	}
	// Much later everything is old: the active segment is rolled and all old data goes, but the
	// log end offset stays.
	n, err = l.EnforceRetention(time.UnixMilli(base + 100000))
	if err != nil || n != 4 || l.NumSegments() != 1 || l.LogEndOffset() != 21 || l.LogStartOffset() != 21 || l.Size() != 0 {
		t.Fatalf("deleted %d (%v): %d segments, LEO %d, start %d, size %d", n, err, l.NumSegments(), l.LogEndOffset(), l.LogStartOffset(), l.Size())
	}
	res := mustAppend(t, l, testBatch(1, 1, base), AppendOptions{})
	if res.BaseOffset != 21 || res.LogStartOffset != 21 {
		t.Fatalf("append after full retention: %+v", res)
	}
	files, _ := filepath.Glob(filepath.Join(l.dir, "*"))
	for _, f := range files {
		if filepath.Ext(f) == deletedSuffix {
			t.Fatalf("leftover %s with FileDeleteDelay 0", f)
		}
	}
}

func TestRetentionByBytes(t *testing.T) {
	cfg := testConfig()
	one := int64(len(testBatch(1, 50, 0)))
	cases := []struct {
		retention   int64
		wantDeleted int
	}{
		{-1, 0},
		{100 * one, 0},
		{17 * one, 0}, // 21 batches: deleting 5 would leave 16, below the limit
		{16 * one, 1}, // ... exactly the limit: Kafka deletes (diff - size >= 0)
		{15 * one, 1},
		{11 * one, 2},  // leaves 11
		{6 * one, 3},   // leaves 6
		{1 * one, 4},   // leaves only the active segment's batch
		{0, 5},         // everything, by rolling the active segment first
		{one / 2, 4},   // the active batch alone is above the limit but removing it leaves 0 < half
		{3 * one, 3},   // leaves 6: removing another segment would leave 1 < 3
		{6*one - 1, 3}, // leaves 6 >= limit; another would leave 1
	}
	for _, c := range cases {
		l := appendSegments(t, DefaultConfigForBytes(cfg, c.retention), 4, 5, 1)
		n, err := l.EnforceRetention(time.Now())
		if err != nil || n != c.wantDeleted {
			t.Fatalf("retention.bytes %d: deleted %d (%v), want %d", c.retention, n, err, c.wantDeleted)
		}
		if n > 0 && n < 5 && l.Size() < c.retention {
			t.Fatalf("retention.bytes %d: deleted too much, %d left", c.retention, l.Size())
		}
		if l.LogEndOffset() != 21 {
			t.Fatalf("LEO %d", l.LogEndOffset())
		}
	}
}

// DefaultConfigForBytes returns cfg with retention.bytes set (a tiny test helper).
func DefaultConfigForBytes(cfg Config, b int64) Config {
	cfg.RetentionBytes = b
	return cfg
}

func TestDeleteRecordsBefore(t *testing.T) {
	l := appendSegments(t, testConfig(), 3, 5, 1)
	if _, err := l.DeleteRecordsBefore(-1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("negative offset: %v", err)
	}
	if _, err := l.DeleteRecordsBefore(17); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond HWM: %v", err)
	}
	start, err := l.DeleteRecordsBefore(7) // middle of segment 1
	if err != nil || start != 7 || l.NumSegments() != 3 || l.LogStartOffset() != 7 {
		t.Fatalf("start %d (%v), %d segments", start, err, l.NumSegments())
	}
	if start, _ := l.DeleteRecordsBefore(3); start != 7 {
		t.Fatalf("lowering the start moved it to %d", start)
	}
	if _, err := l.Read(6, 1000, 16, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read below start: %v", err)
	}
	data, err := l.Read(7, 1000, 16, true)
	if err != nil || splitBatches(t, data)[0].base != 7 {
		t.Fatalf("Read at start: %v", err)
	}
	if off, _, ok, _ := l.OffsetForTimestamp(0); !ok || off != 7 {
		t.Fatalf("OffsetForTimestamp(0) = %d, %v; want the log start", off, ok)
	}
	// Up to the HWM: everything goes, the end stays.
	if start, err := l.DeleteRecordsBefore(16); err != nil || start != 16 || l.NumSegments() != 1 || l.Size() != 0 {
		t.Fatalf("start %d (%v), %d segments, %d bytes", start, err, l.NumSegments(), l.Size())
	}
	if got, err := l.Read(16, 1000, 16, true); err != nil || len(got) != 0 {
		t.Fatalf("Read at end: %d bytes, %v", len(got), err)
	}
	// The start offset persisted by the broker is honoured on reopen.
	dir := l.dir
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, testConfig(), 16)
	if l.LogStartOffset() != 16 || l.LogEndOffset() != 16 {
		t.Fatalf("reopen: start %d, end %d", l.LogStartOffset(), l.LogEndOffset())
	}
}

func TestDelayedFileDeletion(t *testing.T) {
	cfg := testConfig()
	cfg.FileDeleteDelay = time.Hour
	l := appendSegments(t, cfg, 2, 3, 1)
	if _, err := l.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	deleted, _ := filepath.Glob(filepath.Join(l.dir, "*"+deletedSuffix))
	if len(deleted) != 3 {
		t.Fatalf("want 3 *.deleted files, got %v", deleted)
	}
	dir := l.dir
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg, 3) // Open clears leftovers of interrupted deletions
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+deletedSuffix)); len(left) != 0 {
		t.Fatalf("leftovers after Open: %v", left)
	}
	if _, err := os.Stat(segmentName(dir, 3, logSuffix)); err != nil {
		t.Fatal(err)
	}
}
