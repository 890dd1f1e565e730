package log

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecover writes arbitrary bytes as the only segment of a log that did not shut down
// cleanly. Invariants: Open never panics; the recovered segment file is a prefix of the input;
// every batch in it has a valid header and CRC and contiguous offsets from 0; the log end
// offset follows the last batch; and the log accepts an append at that offset.
func FuzzRecover(f *testing.F) {
	var valid []byte
	off := int64(0)
	for i := range 4 {
		b := testBatch(1+i, 10*i, int64(i))
		stampBatch(b, off, 0, 0, false)
		off += int64(i + 1)
		valid = append(valid, b...)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(valid[:100])
	f.Add([]byte{})
	f.Add(make([]byte, 200))
	f.Add(bytes.Repeat([]byte{0xff}, 80))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := segmentName(dir, 0, logSuffix)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, testConfig(), 0, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer crash(l)
		kept, err := os.ReadFile(filepath.Clean(path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, kept) {
			t.Fatalf("recovered file is not a prefix of the input")
		}
		next := int64(0)
		for _, b := range splitBatches(t, kept) {
			if b.base != next {
				t.Fatalf("batch at %d has base %d, want %d", b.pos, b.base, next)
			}
			next = b.last + 1
		}
		if l.LogEndOffset() != next {
			t.Fatalf("LEO %d, want %d", l.LogEndOffset(), next)
		}
		if next > 0 {
			if got := readAll(t, l); len(got) == 0 {
				t.Fatal("nothing readable")
			}
		}
		if res, err := l.Append(testBatch(1, 1, 1), AppendOptions{LeaderEpoch: -1}); err != nil || res.BaseOffset != next {
			t.Fatalf("append after recovery: %+v, %v", res, err)
		}
	})
}
