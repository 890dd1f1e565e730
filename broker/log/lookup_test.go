package log

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-kafka/bulwark/internal/bufpool"
)

func TestOffsetForTimestampAndMax(t *testing.T) {
	t.Run("plaintext", func(t *testing.T) { testOffsetForTimestamp(t, testConfig()) })
	t.Run("sealed", func(t *testing.T) { testOffsetForTimestamp(t, sealedConfig(t, localProvider(t))) })
}

func testOffsetForTimestamp(t *testing.T, cfg Config) {
	cfg.SegmentBytes = 600
	cfg.IndexIntervalBytes = 150
	l := openTest(t, t.TempDir(), cfg, 0)
	if _, _, ok, _ := l.MaxTimestamp(); ok {
		t.Fatal("MaxTimestamp of an empty log")
	}
	if _, _, ok, err := l.OffsetForTimestamp(0); ok || err != nil {
		t.Fatal("OffsetForTimestamp of an empty log")
	}
	// Batch i holds 2 records at offsets 2i, 2i+1 with timestamps ts[i]-1 and ts[i]; timestamps
	// are not monotonic, as producers' clocks are not. Answers are the first record, in offset
	// order, whose timestamp is >= the target, as Kafka 4 answers.
	ts := []int64{100, 110, 105, 120, 130, 130, 125, 140, 150, 145, 160, 170}
	for i, x := range ts {
		b := testBatch(2, 40, x-1)
		res := mustAppend(t, l, b, AppendOptions{})
		if res.BaseOffset != int64(2*i) {
			t.Fatalf("offset %d", res.BaseOffset)
		}
	}
	if l.NumSegments() < 3 {
		t.Fatalf("only %d segments", l.NumSegments())
	}
	cases := []struct {
		ts       int64
		wantOff  int64
		wantTs   int64
		wantFind bool
	}{
		{0, 0, 99, true},
		{100, 1, 100, true},
		{101, 2, 109, true},
		{106, 2, 109, true},
		{111, 6, 119, true},
		{130, 9, 130, true},
		{131, 14, 139, true},
		{146, 16, 149, true},
		{151, 20, 159, true},
		{170, 23, 170, true},
		{171, -1, -1, false},
	}
	check := func(l *Log) {
		t.Helper()
		for _, c := range cases {
			off, got, ok, err := l.OffsetForTimestamp(c.ts)
			if err != nil || ok != c.wantFind || off != c.wantOff || got != c.wantTs {
				t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d, %d, %v", c.ts, off, got, ok, err, c.wantOff, c.wantTs, c.wantFind)
			}
		}
		off, mts, ok, err := l.MaxTimestamp()
		if err != nil || !ok || off != 23 || mts != 170 {
			t.Errorf("MaxTimestamp = %d, %d, %v; want 23, 170", off, mts, ok)
		}
	}
	check(l)
	// The same answers from indexes loaded from disk after a clean shutdown...
	dir := l.dir
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg, 0)
	check(l)
	// ... and rebuilt after a crash without index files.
	crash(l)
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		m, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
		for _, p := range m {
			_ = os.Remove(p)
		}
	}
	l = openTest(t, dir, cfg, 0)
	check(l)
	// Ties in MaxTimestamp resolve to the first batch carrying the maximum.
	mustAppend(t, l, testBatch(1, 1, 170), AppendOptions{})
	if off, _, _, _ := l.MaxTimestamp(); off != 23 {
		t.Errorf("MaxTimestamp after a tie: offset %d, want 23", off)
	}
}

// TestEndOffsetForEpoch mirrors the cases of Kafka's LeaderEpochFileCacheTest for endOffsetFor.
func TestEndOffsetForEpoch(t *testing.T) {
	entries := []epochEntry{{2, 6}, {4, 11}, {5, 15}}
	const leo = 20
	cases := []struct {
		name      string
		entries   []epochEntry
		requested int32
		wantEpoch int32
		wantEnd   int64
	}{
		{"empty cache", nil, 3, -1, -1},
		{"undefined epoch", entries, -1, -1, -1},
		{"latest epoch: log end", entries, 5, 5, leo},
		{"above all known", entries, 6, -1, -1},
		{"exact middle epoch", entries, 4, 4, 15},
		{"first epoch", entries, 2, 2, 11},
		{"gap: largest below", entries, 3, 2, 11},
		{"older than all known", entries, 1, 1, 6},
		{"epoch zero, older", entries, 0, 0, 6},
		{"single entry, latest", []epochEntry{{7, 0}}, 7, 7, leo},
		{"single entry, older", []epochEntry{{7, 3}}, 6, 6, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ec := epochCache{entries: c.entries}
			e, end := ec.endOffsetFor(c.requested, leo)
			if e != c.wantEpoch || end != c.wantEnd {
				t.Fatalf("endOffsetFor(%d) = %d, %d; want %d, %d", c.requested, e, end, c.wantEpoch, c.wantEnd)
			}
		})
	}
}

func TestEpochCacheThroughLog(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, testConfig(), 0)
	if e, end := l.EndOffsetForEpoch(0); e != -1 || end != -1 {
		t.Fatalf("empty log: %d, %d", e, end)
	}
	for i, epoch := range []int32{1, 1, 3, 3, 3, 2, 5} { // a stale epoch (2) is ignored
		mustAppend(t, l, testBatch(2, 1, int64(i)), AppendOptions{LeaderEpoch: epoch})
	}
	want := []struct {
		requested, epoch int32
		end              int64
	}{{0, 0, 0}, {1, 1, 4}, {2, 1, 4}, {3, 3, 12}, {4, 3, 12}, {5, 5, 14}, {6, -1, -1}}
	check := func() {
		t.Helper()
		for _, w := range want {
			if e, end := l.EndOffsetForEpoch(w.requested); e != w.epoch || end != w.end {
				t.Errorf("EndOffsetForEpoch(%d) = %d, %d; want %d, %d", w.requested, e, end, w.epoch, w.end)
			}
		}
		for off, epoch := range map[int64]int32{0: 1, 3: 1, 4: 3, 11: 3, 12: 5, 14: 5} {
			if got := l.EpochForOffset(off); got != epoch {
				t.Errorf("EpochForOffset(%d) = %d, want %d", off, got, epoch)
			}
		}
	}
	check()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, epochCheckpointName))
	if err != nil || string(data) != "0\n3\n1 0\n3 4\n5 12\n" {
		t.Fatalf("checkpoint %q, %v", data, err)
	}
	l = openTest(t, dir, testConfig(), 0)
	check()
	// Raising the log start moves the first surviving epoch's start up, as Kafka does.
	if _, err := l.DeleteRecordsBefore(6); err != nil {
		t.Fatal(err)
	}
	if got := l.epochs.snapshot(); len(got) != 2 || got[0] != (epochEntry{3, 6}) {
		t.Fatalf("epochs after DeleteRecords: %v", got)
	}
}

func TestDecodeEpochCheckpoint(t *testing.T) {
	good := map[string][]epochEntry{
		"0\n0\n":                  {},
		"0\n2\n1 0\n4 10\n":       {{1, 0}, {4, 10}},
		"0\n1\n2147483647 99\n\n": {{2147483647, 99}},
	}
	for in, want := range good {
		got, err := decodeEpochCheckpoint([]byte(in))
		if err != nil || len(got) != len(want) {
			t.Fatalf("%q: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "1\n0\n", "0\n-1\n", "0\n99999999\n", "0\n1\n", "0\n1\n1\n", "0\n1\nx 1\n",
		"0\n2\n4 0\n1 10\n", "0\n2\n1 10\n4 0\n", "0\n1\n1 0\n2 5\n", "0\n1\n-1 0\n"} {
		if _, err := decodeEpochCheckpoint([]byte(in)); err == nil {
			t.Fatalf("%q accepted", in)
		}
	}
}

// A large Read comes back in a buffer bufpool can take back: the Fetch handler returns it once
// the response is written, so a consumer that is behind does not allocate a buffer per fetch.
func TestLargeReadIsPoolable(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig(), 0)
	for range 40 {
		if _, err := l.Append(testBatch(10, 1000, 1), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := l.Read(0, 1<<20, l.HighWatermark(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < bufpool.MinPooled {
		t.Fatalf("read %d bytes; the test needs at least %d", len(data), bufpool.MinPooled)
	}
	if c := cap(data); c&(c-1) != 0 {
		t.Fatalf("capacity %d is not a pool size class: Put would drop the buffer", c)
	}
}
