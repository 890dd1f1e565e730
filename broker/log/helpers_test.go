package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"github.com/bulwark-kafka/bulwark/internal/filecache"
	"hash/crc32"
	"os"
	"testing"
	"time"
)

// testBatch builds a valid, uncompressed v2 batch of n records whose values are valueSize
// bytes, with timestamps ts, ts+1, ... (so maxTimestamp = ts+n-1). baseOffset is 0, as a
// producer sends it.
func testBatch(n, valueSize int, ts int64) []byte {
	var recs []byte
	for i := range n {
		var body []byte
		body = append(body, 0) // attributes
		body = binary.AppendVarint(body, int64(i))
		body = binary.AppendVarint(body, int64(i))
		body = binary.AppendVarint(body, -1) // null key
		body = binary.AppendVarint(body, int64(valueSize))
		body = append(body, bytes.Repeat([]byte{byte('a' + i%26)}, valueSize)...)
		body = binary.AppendVarint(body, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	b := make([]byte, headerSize, headerSize+len(recs))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-logOverhead))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 0xffffffff)
	b[offMagic] = currentMagic
	binary.BigEndian.PutUint32(b[offLastDelta:], uint32(n-1))
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts+int64(n)-1))
	binary.BigEndian.PutUint64(b[43:], ^uint64(0)) // producerId -1
	binary.BigEndian.PutUint16(b[51:], 0xffff)
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
	return b
}

// splitBatches splits concatenated batches, failing the test on anything malformed or with a
// bad CRC.
func splitBatches(t testing.TB, data []byte) []batchInfo {
	t.Helper()
	var out []batchInfo
	for pos := 0; pos < len(data); {
		b, err := parseHeader(data[pos:], int64(pos))
		if err != nil {
			t.Fatalf("batch at %d: %v", pos, err)
		}
		if pos+int(b.size) > len(data) {
			t.Fatalf("batch at %d runs past %d bytes", pos, len(data))
		}
		raw := data[pos : pos+int(b.size)]
		if crc32.Checksum(raw[offAttributes:], castagnoli) != binary.BigEndian.Uint32(raw[offCRC:]) {
			t.Fatalf("batch at %d: bad CRC", pos)
		}
		out = append(out, b)
		pos += int(b.size)
	}
	return out
}

func testConfig() Config {
	c := DefaultConfig()
	c.FileDeleteDelay = 0
	c.RetentionMs = -1
	// Test batches carry small timestamps; segment.ms measured from them would roll every batch.
	c.SegmentMs = 0
	return c
}

// openTest opens a log for a test. Unless the test brings its own, the log gets a cache of one
// open file, so that every test also runs with segments closed and reopened between uses.
func openTest(t testing.TB, dir string, cfg Config, start int64) *Log {
	t.Helper()
	if cfg.Files == nil {
		cfg.Files = filecache.New(1)
	}
	l, err := Open(dir, cfg, start, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte, opts AppendOptions) AppendResult {
	t.Helper()
	res, err := l.Append(b, opts)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

func mustSync(t testing.TB, l *Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Sync(ctx, l.LogEndOffset()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// readAll reads every batch from the log start to the log end.
func readAll(t testing.TB, l *Log) []batchInfo {
	t.Helper()
	var out []batchInfo
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		data, err := l.Read(off, 1<<20, l.HighWatermark(), true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		bs := splitBatches(t, data)
		if len(bs) == 0 {
			t.Fatalf("Read(%d) returned nothing before the end %d", off, l.LogEndOffset())
		}
		out = append(out, bs...)
		off = bs[len(bs)-1].last + 1
	}
	return out
}

// crash abandons the log as a killed process would: no final fsync, no marker.
func crash(l *Log) {
	l.stopFlusher()
	l.mu.Lock()
	l.smu.Lock()
	l.closed = true
	l.smu.Unlock()
	l.fmu.Lock()
	l.fclosed = true
	l.fmu.Unlock()
	l.closeSegments()
	l.mu.Unlock()
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
