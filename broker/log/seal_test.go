package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/bulwark-kafka/bulwark/broker/envelope"
	"github.com/bulwark-kafka/bulwark/broker/keys"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// flakyProvider is a key provider whose GenerateDataKey can be switched off (a KMS outage).
type flakyProvider struct {
	keys.Provider
	down atomic.Bool
}

func (f *flakyProvider) GenerateDataKey(ctx context.Context, ec keys.EncryptionContext) (keys.DataKey, error) {
	if f.down.Load() {
		return keys.DataKey{}, fmt.Errorf("%w: test outage", keys.ErrUnavailable)
	}
	return f.Provider.GenerateDataKey(ctx, ec)
}

func sealedConfig(t testing.TB, p keys.Provider) Config {
	c := testConfig()
	c.SegmentBytes = 4 << 10
	c.IndexIntervalBytes = 512
	c.Sealing = &Sealing{Provider: p, Context: keys.EncryptionContext{"bulwark:topic": "orders", "bulwark:partition": "0"}}
	return c
}

func localProvider(t testing.TB) *keys.Local {
	t.Helper()
	l, err := keys.OpenLocal(filepath.Join(t.TempDir(), "ring"), keys.LocalOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// secretBatch is a batch whose values are recognisable plaintext.
func secretBatch(i int) []byte {
	recs := make([]record.Record, 3)
	for j := range recs {
		recs[j] = record.Record{Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf("TOP-SECRET-PAYLOAD-%05d-%d", i, j)), TimestampDelta: int64(j)}
	}
	return record.BuildBatch(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: int64(1000 + i)}, recs)
}

// grepDir fails if any file under dir contains needle.
func grepDir(t *testing.T, dir string, needle []byte) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, needle) {
				t.Errorf("%s contains %q", p, needle)
			}
		}
		return nil
	})
}

func TestSealedLogRoundTripAndNoPlaintext(t *testing.T) {
	dir := t.TempDir()
	p := localProvider(t)
	cfg := sealedConfig(t, p)
	l := openTest(t, dir, cfg, 0)
	for i := range 60 {
		mustAppend(t, l, secretBatch(i), AppendOptions{})
	}
	mustSync(t, l)
	if l.NumSegments() < 3 {
		t.Fatalf("only %d segments; the test wants rolls", l.NumSegments())
	}
	check := func(l *Log) {
		t.Helper()
		bs := readAll(t, l)
		if len(bs) != 60 || bs[59].last != 179 {
			t.Fatalf("read %d batches", len(bs))
		}
		data, err := l.Read(90, 1<<20, l.HighWatermark(), true)
		if err != nil || !bytes.Contains(data, []byte("TOP-SECRET-PAYLOAD-00030-0")) {
			t.Fatalf("Read(90): %v", err)
		}
		// Batch i holds offsets 3i..3i+2 with timestamps 1000+i..1002+i: the first record at
		// 1040 or later is the last of batch 38 (the batch is decrypted to find it).
		if off, ts, ok, err := l.OffsetForTimestamp(1040); err != nil || !ok || off != 116 || ts != 1040 {
			t.Fatalf("OffsetForTimestamp = %d %d %v %v", off, ts, ok, err)
		}
	}
	check(l)
	grepDir(t, dir, []byte("TOP-SECRET"))
	grepDir(t, dir, []byte("key-1"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg, 0)
	check(l)
	crash(l)
	l = openTest(t, dir, cfg, 0)
	check(l)
	grepDir(t, dir, []byte("TOP-SECRET"))
}

func TestSealedLogTornTailAndTampering(t *testing.T) {
	dir := t.TempDir()
	p := localProvider(t)
	cfg := sealedConfig(t, p)
	cfg.SegmentBytes = 1 << 20
	l := openTest(t, dir, cfg, 0)
	for i := range 10 {
		mustAppend(t, l, secretBatch(i), AppendOptions{})
	}
	mustSync(t, l)
	crash(l)
	seg := segmentName(dir, 0, logSuffix)
	full, _ := os.ReadFile(seg)

	// A torn tail (half a frame) is cut off after a crash.
	if err := os.WriteFile(seg, full[:len(full)-30], 0o644); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg, 0)
	if l.LogEndOffset() != 27 {
		t.Fatalf("after a torn tail, log end %d, want 27", l.LogEndOffset())
	}
	crash(l)

	// A flipped byte in the middle is tampering: refused, not truncated.
	bad := bytes.Clone(full)
	bad[envelope.HeaderSize+200] ^= 1
	_ = os.WriteFile(seg, bad, 0o644)
	if _, err := Open(dir, cfg, 0, nil); !errors.Is(err, envelope.ErrTampered) {
		t.Fatalf("flipped byte: %v", err)
	}

	// Two frames swapped (all frames have the same size here).
	frameLen, _ := envelope.FrameLen(full[envelope.HeaderSize+sealedPrefix:])
	frameLen += sealedPrefix
	swapped := bytes.Clone(full)
	a, b := envelope.HeaderSize, envelope.HeaderSize+frameLen
	copy(swapped[a:a+frameLen], full[b:b+frameLen])
	copy(swapped[b:b+frameLen], full[a:a+frameLen])
	_ = os.WriteFile(seg, swapped, 0o644)
	if _, err := Open(dir, cfg, 0, nil); !errors.Is(err, envelope.ErrTampered) {
		t.Fatalf("swapped frames: %v", err)
	}

	// A frame cut out of the middle.
	cut := append(bytes.Clone(full[:b]), full[b+frameLen:]...)
	_ = os.WriteFile(seg, cut, 0o644)
	if _, err := Open(dir, cfg, 0, nil); !errors.Is(err, envelope.ErrTampered) {
		t.Fatalf("cut middle: %v", err)
	}

	// Restored, it opens; a wrong key is a clear error, not garbage.
	_ = os.WriteFile(seg, full, 0o644)
	other := sealedConfig(t, localProvider(t))
	other.SegmentBytes = cfg.SegmentBytes
	if _, err := Open(dir, other, 0, nil); !errors.Is(err, keys.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	plainCfg := testConfig()
	if _, err := Open(dir, plainCfg, 0, nil); !errors.Is(err, ErrSealedWithoutKey) {
		t.Fatalf("encryption off on a sealed log: %v", err)
	}
	l = openTest(t, dir, cfg, 0)
	if len(readAll(t, l)) != 10 {
		t.Fatal("restored log does not read back")
	}
}

func TestSealedReadDetectsTamperingOfSealedSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := sealedConfig(t, localProvider(t))
	l := openTest(t, dir, cfg, 0)
	for i := range 30 {
		mustAppend(t, l, secretBatch(i), AppendOptions{})
	}
	mustSync(t, l)
	// Damage the first (sealed, non-active) segment while the log is open: reads fail, never
	// serve the damaged batch.
	seg := segmentName(dir, 0, logSuffix)
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, envelope.HeaderSize+100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := l.Read(0, 1<<20, l.HighWatermark(), true); !errors.Is(err, envelope.ErrTampered) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of a tampered frame: %v", err)
	}
}

func TestSealedRollDuringOutage(t *testing.T) {
	dir := t.TempDir()
	p := &flakyProvider{Provider: localProvider(t)}
	cfg := sealedConfig(t, p)
	l := openTest(t, dir, cfg, 0)
	for l.NumSegments() < 2 {
		mustAppend(t, l, secretBatch(int(l.LogEndOffset())), AppendOptions{})
	}
	end, segs := l.LogEndOffset(), l.NumSegments()
	p.down.Store(true)
	var failed error
	for range 20 {
		if _, failed = l.Append(secretBatch(1), AppendOptions{}); failed != nil {
			break
		}
	}
	if !errors.Is(failed, keys.ErrUnavailable) {
		t.Fatalf("append needing a new key during an outage: %v", failed)
	}
	stuck := l.LogEndOffset()
	grepDir(t, dir, []byte("TOP-SECRET"))
	p.down.Store(false)
	mustAppend(t, l, secretBatch(2), AppendOptions{})
	if l.LogEndOffset() != stuck+3 || l.NumSegments() <= segs || end > stuck {
		t.Fatalf("after recovery: end %d (stuck at %d), %d segments", l.LogEndOffset(), stuck, l.NumSegments())
	}
	mustSync(t, l)
	grepDir(t, dir, []byte("TOP-SECRET"))
}

func TestEncryptionTurnedOnLater(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, testConfig(), 0)
	for i := range 5 {
		mustAppend(t, l, secretBatch(i), AppendOptions{})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := sealedConfig(t, localProvider(t))
	l = openTest(t, dir, cfg, 0)
	for i := 5; i < 10; i++ {
		mustAppend(t, l, secretBatch(i), AppendOptions{})
	}
	if bs := readAll(t, l); len(bs) != 10 {
		t.Fatalf("read %d batches", len(bs))
	}
	// The plaintext segment took no new data: the new batches are in a sealed segment.
	data, _ := os.ReadFile(segmentName(dir, 15, logSuffix))
	if !envelope.IsHeaderPrefix(data[:8]) || bytes.Contains(data, []byte("TOP-SECRET-PAYLOAD-00009")) {
		t.Fatal("new batches were not sealed")
	}
}

func TestDeleteShredsSealedFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "orders-0")
	cfg := sealedConfig(t, localProvider(t))
	l, err := Open(dir, cfg, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, secretBatch(1), AppendOptions{})
	seg := segmentName(dir, 0, logSuffix)
	var opened [8]byte
	f, _ := os.Open(seg)
	_, _ = f.ReadAt(opened[:], 0)
	f.Close()
	// Keep a hard link, as a backup of the blocks would: after Delete its header is zeros.
	keep := filepath.Join(t.TempDir(), "copy")
	if err := os.Link(seg, keep); err != nil {
		t.Skip("hard links unsupported here")
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(keep)
	if _, err := envelope.DecodeHeader(data); err == nil || !bytes.Equal(data[:envelope.HeaderSize], make([]byte, envelope.HeaderSize)) {
		t.Fatalf("header of a deleted segment survived: %v", err)
	}
}

func BenchmarkAppendSealed(b *testing.B) {
	for _, sealed := range []bool{false, true} {
		b.Run(fmt.Sprintf("sealed=%v", sealed), func(b *testing.B) {
			cfg := testConfig()
			if sealed {
				cfg = sealedConfig(b, localProvider(b))
				cfg.SegmentBytes = 1 << 30
			}
			l := openTest(b, b.TempDir(), cfg, 0)
			batch := testBatch(16, 1024, 1)
			b.SetBytes(int64(len(batch)))
			for b.Loop() {
				if _, err := l.Append(batch, AppendOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzRecoverSealed replaces the body of a sealed segment (after its valid header) with
// arbitrary bytes and opens the log as after a crash. Invariants: Open never panics; it either
// refuses (tampering) or recovers to a prefix whose batches all read back, and accepts an append.
func FuzzRecoverSealed(f *testing.F) {
	p := localProvider(f)
	cfg := sealedConfig(f, p)
	cfg.SegmentBytes = 1 << 20
	src := f.TempDir()
	l, err := Open(src, cfg, 0, nil)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 4 {
		if _, err := l.Append(secretBatch(i), AppendOptions{}); err != nil {
			f.Fatal(err)
		}
	}
	crash(l)
	full, _ := os.ReadFile(segmentName(src, 0, logSuffix))
	header, body := full[:envelope.HeaderSize], full[envelope.HeaderSize:]
	f.Add(body)
	f.Add(body[:len(body)-5])
	f.Add(body[:40])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentName(dir, 0, logSuffix), append(bytes.Clone(header), data...), 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, cfg, 0, nil)
		if err != nil {
			return // refused as tampered
		}
		defer crash(l)
		if l.LogEndOffset() > 0 && len(readAll(t, l)) == 0 {
			t.Fatal("nothing readable")
		}
		if _, err := l.Append(secretBatch(9), AppendOptions{}); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
	})
}

// TestSealedReadDetectsMovedFrames: after a clean shutdown nothing is rescanned, so frames swapped
// inside a sealed segment (each still opens: it is in its own file) must be caught by the read.
func TestSealedReadDetectsMovedFrames(t *testing.T) {
	dir := t.TempDir()
	cfg := sealedConfig(t, localProvider(t))
	cfg.SegmentBytes = 1 << 20
	l := openTest(t, dir, cfg, 0)
	for i := range 10 {
		mustAppend(t, l, secretBatch(i), AppendOptions{})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := segmentName(dir, 0, logSuffix)
	full, _ := os.ReadFile(seg)
	n, _ := envelope.FrameLen(full[envelope.HeaderSize+sealedPrefix:])
	n += sealedPrefix
	a, b := envelope.HeaderSize, envelope.HeaderSize+n
	swapped := bytes.Clone(full)
	copy(swapped[a:a+n], full[b:b+n])
	copy(swapped[b:b+n], full[a:a+n])
	_ = os.WriteFile(seg, swapped, 0o644)
	l = openTest(t, dir, cfg, 0)
	if _, err := l.Read(0, 1<<20, l.HighWatermark(), true); !errors.Is(err, envelope.ErrTampered) {
		t.Fatalf("read over swapped frames: %v", err)
	}
}
