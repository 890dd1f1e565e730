package record

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBuildBatchMatchesKmsg decodes BuildBatch's output with franz-go and compares every field,
// and checks that kmsg encodes the same records to the same bytes.
func TestBuildBatchMatchesKmsg(t *testing.T) {
	recs := sampleRecords(9, 50)
	recs[4].TimestampDelta = 1000
	opts := BuildOptions{ProducerID: 77, ProducerEpoch: 3, BaseSequence: 12, Transactional: true, BaseTimestamp: 1_700_000_000_000}
	b := BuildBatch(opts, recs)

	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if rb.FirstOffset != h.BaseOffset || rb.Length != h.Length || rb.PartitionLeaderEpoch != -1 || h.PartitionLeaderEpoch != -1 ||
		rb.Magic != 2 || uint32(rb.CRC) != h.CRC || rb.Attributes != h.Attributes || rb.LastOffsetDelta != 8 ||
		rb.FirstTimestamp != opts.BaseTimestamp || rb.MaxTimestamp != opts.BaseTimestamp+1000 || h.MaxTimestamp != rb.MaxTimestamp ||
		rb.ProducerID != 77 || rb.ProducerEpoch != 3 || rb.FirstSequence != 12 || rb.NumRecords != 9 {
		t.Fatalf("kmsg %+v vs header %+v", rb, h)
	}
	if !h.Transactional() || h.Control() || h.LogAppendTime() || h.Codec() != CodecNone || h.Size() != len(b) {
		t.Fatalf("attributes of %+v", h)
	}
	if want := encodeKmsgRecords(toKmsg(recs)); string(rb.Records) != string(want) {
		t.Fatalf("records differ from kmsg's encoding:\n%x\n%x", rb.Records, want)
	}
	// And franz-go reads back each record the same way.
	raw := rb.Records
	for i := range recs {
		l, n := binary.Varint(raw)
		var kr kmsg.Record
		if err := kr.ReadFrom(raw[:n+int(l)]); err != nil {
			t.Fatal(err)
		}
		if kr.OffsetDelta != int32(i) || kr.TimestampDelta64 != recs[i].TimestampDelta || !sameBytes(kr.Key, recs[i].Key) ||
			!sameBytes(kr.Value, recs[i].Value) || len(kr.Headers) != len(recs[i].Headers) {
			t.Fatalf("record %d: kmsg read %+v", i, kr)
		}
		raw = raw[n+int(l):]
	}
	equalRecords(t, collect(t, b), recs)
}

func TestBuildBatchEmpty(t *testing.T) {
	b := BuildBatch(BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, nil)
	h, err := ParseHeader(b)
	if err != nil || len(b) != HeaderSize || h.NumRecords != 0 || h.LastOffsetDelta != -1 || !VerifyCRC(b) {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := ValidateProduced(b, permissive, nil); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("an empty batch from a client: %v", err)
	}
	if err := Records(b, 0, func(Record) error { t.Fatal("no records expected"); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestParseHeader(t *testing.T) {
	b := BuildBatch(BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, sampleRecords(2, 3))
	tests := []struct {
		name string
		edit func([]byte) []byte
		want error
	}{
		{"ok", func(b []byte) []byte { return b }, nil},
		{"header only", func(b []byte) []byte { return b[:HeaderSize] }, nil}, // the rest is not read
		{"short", func(b []byte) []byte { return b[:HeaderSize-1] }, ErrShort},
		{"nil", func([]byte) []byte { return nil }, ErrShort},
		{"magic", func(b []byte) []byte { b[offMagic] = 0; return b }, ErrInvalidRecord},
		{"length", func(b []byte) []byte { binary.BigEndian.PutUint32(b[offLength:], 48); return b }, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHeader(tc.edit(append([]byte(nil), b...)))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNext(t *testing.T) {
	a := BuildBatch(BuildOptions{ProducerID: -1, BaseSequence: -1}, sampleRecords(1, 10))
	b := BuildBatch(BuildOptions{ProducerID: -1, BaseSequence: -1}, sampleRecords(3, 100))
	SetBaseOffset(b, 1)
	stream := append(append(append([]byte(nil), a...), b...), b[:30]...) // a torn third batch

	batch, rest, err := Next(stream)
	if err != nil || string(batch) != string(a) || len(rest) != len(b)+30 {
		t.Fatalf("first: %d bytes, %v", len(batch), err)
	}
	batch, rest, err = Next(rest)
	if err != nil || string(batch) != string(b) || len(rest) != 30 {
		t.Fatalf("second: %d bytes, %v", len(batch), err)
	}
	if cap(batch) != len(batch) {
		t.Fatal("a batch must not expose the bytes after it through its capacity")
	}
	if _, rest, err = Next(rest); !errors.Is(err, ErrShort) || len(rest) != 30 {
		t.Fatalf("torn tail: %v", err)
	}
	for _, short := range [][]byte{nil, a[:11], a[:12], a[:HeaderSize], a[:len(a)-1]} {
		if _, _, err := Next(short); !errors.Is(err, ErrShort) {
			t.Fatalf("%d bytes: %v", len(short), err)
		}
	}
	bad := append([]byte(nil), a...)
	for _, l := range []uint32{0, 48, math.MaxUint32} {
		binary.BigEndian.PutUint32(bad[offLength:], l)
		if _, _, err := Next(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("length %d: %v", l, err)
		}
	}
}

func TestInPlaceEdits(t *testing.T) {
	recs := sampleRecords(4, 30)
	b := BuildBatch(BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: 1000}, recs)
	crc := binary.BigEndian.Uint32(b[offCRC:])

	SetBaseOffset(b, 1<<40)
	SetPartitionLeaderEpoch(b, 42)
	h, _ := ParseHeader(b)
	if h.BaseOffset != 1<<40 || h.PartitionLeaderEpoch != 42 || h.CRC != crc || !VerifyCRC(b) {
		t.Fatalf("offset and epoch edits: %+v", h)
	}
	if h.LastOffset() != 1<<40+3 {
		t.Fatalf("LastOffset %d", h.LastOffset())
	}

	SetLogAppendTime(b, 5555)
	h, _ = ParseHeader(b)
	if !h.LogAppendTime() || h.MaxTimestamp != 5555 || h.BaseTimestamp != 1000 || h.CRC == crc || !VerifyCRC(b) {
		t.Fatalf("log append time: %+v", h)
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil || rb.Attributes&0x08 == 0 || rb.MaxTimestamp != 5555 {
		t.Fatalf("kmsg sees %+v (%v)", rb, err)
	}
	equalRecords(t, collect(t, b), recs)

	// Editors never panic on short input.
	for _, short := range [][]byte{nil, make([]byte, 7), make([]byte, 15), make([]byte, HeaderSize-1)} {
		SetBaseOffset(short, 1)
		SetPartitionLeaderEpoch(short, 1)
		SetLogAppendTime(short, 1)
	}
	// SetLogAppendTime on a batch with a lying length still leaves the bytes present hashed.
	odd := append([]byte(nil), b...)
	binary.BigEndian.PutUint32(odd[offLength:], 1<<30)
	SetLogAppendTime(odd, 1)
}

func TestVerifyCRC(t *testing.T) {
	b := BuildBatch(BuildOptions{ProducerID: -1, BaseSequence: -1}, sampleRecords(3, 10))
	if !VerifyCRC(b) {
		t.Fatal("fresh batch")
	}
	if !VerifyCRC(append(append([]byte(nil), b...), 1, 2, 3)) {
		t.Fatal("bytes after the batch are not part of it")
	}
	for i := offAttributes; i < len(b); i++ {
		c := append([]byte(nil), b...)
		c[i] ^= 0x10
		if VerifyCRC(c) {
			t.Fatalf("flip at byte %d undetected", i)
		}
	}
	c := append([]byte(nil), b...)
	c[offMagic] = 1
	if VerifyCRC(c) || VerifyCRC(b[:len(b)-1]) || VerifyCRC(nil) {
		t.Fatal("bad magic or truncation accepted")
	}
}

func TestVarints(t *testing.T) {
	for _, v := range []int32{0, 1, -1, 63, -64, 64, -65, 1 << 20, math.MaxInt32, math.MinInt32} {
		b := appendVarint(nil, v)
		if len(b) != varintLen(v) {
			t.Fatalf("varintLen(%d)", v)
		}
		if want := binary.AppendVarint(nil, int64(v)); string(b) != string(want) {
			t.Fatalf("appendVarint(%d) = %x, want %x", v, b, want)
		}
		got, n := readVarint(b)
		if got != v || n != len(b) {
			t.Fatalf("readVarint(%x) = %d, %d", b, got, n)
		}
	}
	for _, v := range []int64{0, -1, 1 << 40, math.MaxInt64, math.MinInt64} {
		b := appendVarlong(nil, v)
		if want := binary.AppendVarint(nil, v); string(b) != string(want) || len(b) != varlongLen(v) {
			t.Fatalf("appendVarlong(%d) = %x, want %x", v, b, want)
		}
		if got, n := readVarlong(b); got != v || n != len(b) {
			t.Fatalf("readVarlong(%x) = %d, %d", b, got, n)
		}
	}
	for _, bad := range [][]byte{nil, {0x80}, {0x80, 0x80, 0x80, 0x80, 0x80, 0x00}} {
		if _, n := readVarint(bad); n != 0 {
			t.Fatalf("readVarint(%x) accepted", bad)
		}
	}
	if _, n := readVarlong(append(make([]byte, 10), 0)); n != 1 {
		t.Fatal("readVarlong of a zero byte")
	}
	over := []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}
	if _, n := readVarlong(over); n != 0 {
		t.Fatal("11-byte varlong accepted")
	}
}

func TestCodecString(t *testing.T) {
	for c, want := range map[Codec]string{CodecNone: "none", CodecGzip: "gzip", CodecSnappy: "snappy", CodecLz4: "lz4", CodecZstd: "zstd", 6: "codec(6)"} {
		if c.String() != want {
			t.Errorf("%d: %s", c, c.String())
		}
	}
}
