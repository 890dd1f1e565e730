package log

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// producerBatch builds an n-record batch from producer pid/epoch starting at sequence seq.
func pidBatch(n int, pid int64, epoch int16, seq int32, transactional bool) []byte {
	b := testBatch(n, 10, time.Now().UnixMilli())
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(seq))
	if transactional {
		binary.BigEndian.PutUint16(b[offAttributes:], attrTransactional)
	}
	binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
	return b
}

func TestIdempotentSequences(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig(), 0)
	first := mustAppend(t, l, pidBatch(3, 7, 0, 0, false), AppendOptions{})
	second := mustAppend(t, l, pidBatch(2, 7, 0, 3, false), AppendOptions{})

	// A retry of either retained batch returns its original offsets and writes nothing.
	for _, want := range []AppendResult{first, second} {
		seq := int32(0)
		n := 3
		if want.BaseOffset == second.BaseOffset {
			seq, n = 3, 2
		}
		res, err := l.Append(pidBatch(n, 7, 0, seq, false), AppendOptions{})
		if err != nil || !res.Duplicate || res.BaseOffset != want.BaseOffset || res.LastOffset != want.LastOffset {
			t.Fatalf("retry of seq %d: %+v, %v; want duplicate of %+v", seq, res, err, want)
		}
	}
	if end := l.LogEndOffset(); end != 5 {
		t.Fatalf("log end %d after duplicates, want 5", end)
	}
	// A gap, a stale epoch, and a new epoch not starting at 0.
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"gap":             {pidBatch(1, 7, 0, 9, false), ErrOutOfOrderSequence},
		"new epoch seq 4": {pidBatch(1, 7, 1, 4, false), ErrOutOfOrderSequence},
	} {
		if _, err := l.Append(tc.b, AppendOptions{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
	}
	mustAppend(t, l, pidBatch(1, 7, 1, 0, false), AppendOptions{}) // epoch bump at sequence 0
	if _, err := l.Append(pidBatch(1, 7, 0, 5, false), AppendOptions{}); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch after bump: %v, want ErrInvalidProducerEpoch", err)
	}
	// An unknown producer may start at any sequence (KIP-360).
	mustAppend(t, l, pidBatch(1, 8, 0, 42, false), AppendOptions{})

	// The state survives a clean close and a crash.
	dir := l.dir
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for i, crashIt := range []bool{false, true} {
		l = openTest(t, dir, testConfig(), 0)
		if _, err := l.Append(pidBatch(1, 7, 1, 0, false), AppendOptions{}); err != nil {
			// After the first reopen this is a duplicate of the epoch-1 batch.
			t.Fatalf("reopen (crash=%v): retry: %v", crashIt, err)
		}
		if _, err := l.Append(pidBatch(1, 8, 0, 44+int32(i), false), AppendOptions{}); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("reopen (crash=%v): gap after reopen: %v", crashIt, err)
		}
		if crashIt {
			crash(l)
		} else {
			mustAppend(t, l, pidBatch(1, 8, 0, 43, false), AppendOptions{})
			mustSync(t, l)
			crash(l)
		}
	}
}

func TestTransactionsLSOAndAborted(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, testConfig(), 0)
	mustAppend(t, l, testBatch(2, 10, 1), AppendOptions{})        // 0-1 plain
	mustAppend(t, l, pidBatch(2, 5, 0, 0, true), AppendOptions{}) // 2-3 txn A (pid 5)
	mustAppend(t, l, pidBatch(1, 6, 0, 0, true), AppendOptions{}) // 4 txn B (pid 6)
	if lso := l.LastStableOffset(); lso != 2 {
		t.Fatalf("LSO %d with open transactions, want 2", lso)
	}
	if _, err := l.Append(pidBatch(1, 5, 0, 2, false), AppendOptions{}); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("non-transactional batch inside a transaction: %v", err)
	}
	abort, err := l.AppendControl(Marker{ProducerID: 5, ProducerEpoch: 0, Commit: false})
	if err != nil || abort.BaseOffset != 5 {
		t.Fatalf("abort marker: %+v %v", abort, err)
	}
	if lso := l.LastStableOffset(); lso != 4 {
		t.Fatalf("LSO %d after abort of A, want 4", lso)
	}
	if _, err := l.AppendControl(Marker{ProducerID: 6, ProducerEpoch: 0, Commit: true}); err != nil {
		t.Fatal(err)
	}
	if lso, end := l.LastStableOffset(), l.LogEndOffset(); lso != end || end != 7 {
		t.Fatalf("LSO %d end %d after both markers, want 7", lso, end)
	}
	want := []AbortedTxn{{ProducerID: 5, FirstOffset: 2, LastOffset: 5}}
	check := func(l *Log, what string) {
		t.Helper()
		got := l.AbortedTxns(0, 100)
		if len(got) != 1 || got[0] != want[0] {
			t.Fatalf("%s: aborted %+v, want %+v", what, got, want)
		}
		if got := l.AbortedTxns(6, 100); len(got) != 0 {
			t.Fatalf("%s: aborted after the marker: %+v", what, got)
		}
		if got := l.AbortedTxns(0, 2); len(got) != 0 {
			t.Fatalf("%s: aborted before the transaction: %+v", what, got)
		}
	}
	check(l, "live")
	// Stale markers are refused.
	if _, err := l.AppendControl(Marker{ProducerID: 5, ProducerEpoch: -1 + 0, Commit: true, CoordinatorEpoch: -5}); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("stale marker: %v", err)
	}
	// An open transaction survives a crash (the LSO stays at its first offset).
	mustAppend(t, l, pidBatch(1, 9, 0, 0, true), AppendOptions{}) // 7
	mustSync(t, l)
	crash(l)
	l = openTest(t, dir, testConfig(), 0)
	check(l, "after crash")
	if lso := l.LastStableOffset(); lso != 7 {
		t.Fatalf("LSO %d after crash, want 7", lso)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, testConfig(), 0)
	check(l, "after clean close")
	if lso := l.LastStableOffset(); lso != 7 {
		t.Fatalf("LSO %d after close, want 7", lso)
	}
	info := l.Producers()
	if len(info) != 3 || info[2].ProducerID != 9 || info[2].CurrentTxnStartOffset != 7 {
		t.Fatalf("producers %+v", info)
	}
}

func TestControlBatchRoundTrip(t *testing.T) {
	b := buildControlBatch(Marker{ProducerID: 3, ProducerEpoch: 2, Commit: true, CoordinatorEpoch: 11, Now: time.UnixMilli(5)})
	if err := checkBatch(b); err != nil {
		t.Fatal(err)
	}
	typ, ce, ok := parseControl(b)
	if !ok || typ != ControlCommit || ce != 11 {
		t.Fatalf("parseControl = %d %d %v", typ, ce, ok)
	}
	if batchCRC(b) != binary.BigEndian.Uint32(b[offCRC:]) {
		t.Fatal("bad CRC")
	}
}

// FuzzProducerSnapshot decodes arbitrary bytes as a producer snapshot and, when they decode,
// loads them as Open would: a damaged or hostile snapshot is refused (Open then rebuilds the
// state from the batches, see TestDamagedProducerSnapshotIsIgnored), never a panic or an
// unbounded allocation.
func FuzzProducerSnapshot(f *testing.F) {
	body := []byte(`{"version":1,"offset":3,"producers":[{"id":3,"epoch":0,"batches":[{"first_seq":0,` +
		`"last_seq":1,"first_offset":0,"last_offset":1,"append_time":-1}],"coordinator_epoch":0,` +
		`"txn_first_offset":-1,"last_timestamp":1,"last_write":1}],"aborted":[{"producer_id":3,"first_offset":0,"last_offset":2}]}`)
	good := binary.BigEndian.AppendUint32(nil, crc32.Checksum(body, castagnoli))
	f.Add(append(good, body...))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := decodeProducerSnapshot(data)
		if err != nil {
			return
		}
		ps := newProducerState()
		for _, e := range doc.Producers {
			ps.entries[e.ID] = e
		}
		ps.aborted = doc.Aborted
		ps.truncateAborted(0)
		_ = ps.firstUnstable()
		_ = ps.info()
		ps.expire(time.Now().UnixMilli(), 1)
	})
}

// TestDamagedProducerSnapshotIsIgnored corrupts the newest producer snapshot: Open ignores it
// and rebuilds the same state from the batches.
func TestDamagedProducerSnapshotIsIgnored(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, testConfig(), 0)
	mustAppend(t, l, pidBatch(2, 3, 0, 0, true), AppendOptions{})
	if _, err := l.AppendControl(Marker{ProducerID: 3, Commit: false}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, pidBatch(1, 3, 0, 2, true), AppendOptions{}) // an open transaction at 3
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, producerSnapshotName(4)), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, testConfig(), 0)
	if lso := l.LastStableOffset(); lso != 3 {
		t.Fatalf("LSO %d after ignoring a damaged snapshot, want 3", lso)
	}
	if ab := l.AbortedTxns(0, 10); len(ab) != 1 || ab[0].LastOffset != 2 {
		t.Fatalf("aborted %+v", ab)
	}
	if _, err := l.Append(pidBatch(1, 3, 0, 2, true), AppendOptions{}); err != nil {
		t.Fatalf("retry of the last batch after reopening: %v", err)
	}
}

// FuzzParseControl runs the control-record parser on arbitrary batch bodies.
func FuzzParseControl(f *testing.F) {
	f.Add(buildControlBatch(Marker{ProducerID: 1, Commit: true, Now: time.UnixMilli(1)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < headerSize {
			return
		}
		typ, _, ok := parseControl(b)
		if ok && typ != ControlAbort && typ != ControlCommit {
			// Any int16 may be stored; the parser must only not panic or read out of bounds.
			_ = typ
		}
	})
}

func TestExpireProducers(t *testing.T) {
	cfg := testConfig()
	cfg.ProducerIDExpirationMs = 60_000
	l := openTest(t, t.TempDir(), cfg, 0)
	mustAppend(t, l, pidBatch(1, 4, 0, 0, false), AppendOptions{})
	mustAppend(t, l, pidBatch(1, 5, 0, 0, true), AppendOptions{}) // open transaction: kept
	l.ExpireProducers(time.Now())
	if n := len(l.Producers()); n != 2 {
		t.Fatalf("%d producers right after writing, want 2", n)
	}
	l.ExpireProducers(time.Now().Add(2 * time.Minute))
	info := l.Producers()
	if len(info) != 1 || info[0].ProducerID != 5 {
		t.Fatalf("after expiry: %+v, want only the producer with an open transaction", info)
	}
	// An expired producer may continue at any sequence (KIP-360).
	mustAppend(t, l, pidBatch(1, 4, 0, 17, false), AppendOptions{})
}
