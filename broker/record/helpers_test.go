package record

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/snappy/xerial"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// codecXerial stands for snappy framed the way the Java client (snappy-java) frames it. It is
// a test-only marker; on the wire the codec is still snappy.
const codecXerial Codec = 100

// kgoCodec returns franz-go's compression option for c.
func kgoCodec(t testing.TB, c Codec) kgo.CompressionCodec {
	t.Helper()
	switch c {
	case CodecNone:
		return kgo.NoCompression()
	case CodecGzip:
		return kgo.GzipCompression()
	case CodecSnappy:
		return kgo.SnappyCompression()
	case CodecLz4:
		return kgo.Lz4Compression()
	case CodecZstd:
		return kgo.ZstdCompression()
	}
	t.Fatalf("no kgo codec for %v", c)
	return kgo.NoCompression()
}

// compressLikeClient compresses raw records the way a client would: with franz-go's own
// compressor (the same libraries and settings its producer uses), or snappy-java's xerial
// framing for codecXerial.
func compressLikeClient(t testing.TB, c Codec, raw []byte) ([]byte, Codec) {
	t.Helper()
	switch c {
	case CodecNone:
		return raw, CodecNone
	case codecXerial:
		return xerial.Encode(nil, raw), CodecSnappy
	}
	comp, err := kgo.DefaultCompressor(kgoCodec(t, c))
	if err != nil {
		t.Fatal(err)
	}
	out, used := comp.Compress(new(bytes.Buffer), raw)
	if int8(used) != int8(c) {
		t.Fatalf("compressor used codec %d, want %v", used, c)
	}
	return bytes.Clone(out), c
}

// toKmsg converts records to franz-go's record type with offset deltas = indexes.
func toKmsg(recs []Record) []kmsg.Record {
	out := make([]kmsg.Record, len(recs))
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.TimestampDelta, OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		out[i] = kr
	}
	return out
}

// encodeKmsgRecords encodes records with franz-go's encoder, filling in each Length.
func encodeKmsgRecords(recs []kmsg.Record) []byte {
	var raw []byte
	for i := range recs {
		r := recs[i]
		r.Length = 0
		body := r.AppendTo(nil)[1:] // drop the zero length varint
		r.Length = int32(len(body))
		raw = r.AppendTo(raw)
	}
	return raw
}

// kmsgBatch builds a client-style batch with franz-go's kmsg.RecordBatch, independently of
// BuildBatch, compressing the records with codec c (or codecXerial).
func kmsgBatch(t testing.TB, c Codec, recs []Record, mutate func(*kmsg.RecordBatch)) []byte {
	t.Helper()
	raw := encodeKmsgRecords(toKmsg(recs))
	data, wire := compressLikeClient(t, c, raw)
	maxTS := int64(0)
	for _, r := range recs {
		maxTS = max(maxTS, r.TimestampDelta)
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(wire),
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       1_700_000_000_000,
		MaxTimestamp:         1_700_000_000_000 + maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              data,
	}
	if mutate != nil {
		mutate(&rb)
	}
	return finishKmsgBatch(&rb)
}

// finishKmsgBatch fills in Length and CRC (kmsg leaves both to the caller) and encodes rb.
func finishKmsgBatch(rb *kmsg.RecordBatch) []byte {
	rb.Length = int32(HeaderSize - LogOverhead + len(rb.Records))
	b := rb.AppendTo(nil)
	crc := crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(b[17:], crc)
	rb.CRC = int32(crc)
	return b
}

// sampleRecords returns records exercising null and empty keys and values and headers.
func sampleRecords(n, valueSize int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, valueSize)
		recs[i] = Record{TimestampDelta: int64(i * 3), Key: []byte{byte(i)}, Value: v}
		switch i % 4 {
		case 1:
			recs[i].Key = nil
		case 2:
			recs[i].Key = []byte{}
			recs[i].Headers = []RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "", Value: nil}}
		case 3:
			recs[i].Value = nil
			recs[i].Headers = []RecordHeader{{Key: "trace", Value: []byte{}}}
		}
	}
	return recs
}

// collect returns the records Records yields for batch.
func collect(t testing.TB, batch []byte) []Record {
	t.Helper()
	var out []Record
	if err := Records(batch, 0, func(r Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatalf("Records: %v", err)
	}
	return out
}

// equalRecords compares records field by field, telling null from empty.
func equalRecords(t testing.TB, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.OffsetDelta != int32(i) || g.TimestampDelta != w.TimestampDelta ||
			!sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) || len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d: got %+v, want %+v", i, g, w)
		}
		for j := range w.Headers {
			if g.Headers[j].Key != w.Headers[j].Key || !sameBytes(g.Headers[j].Value, w.Headers[j].Value) {
				t.Fatalf("record %d header %d: got %+v, want %+v", i, j, g.Headers[j], w.Headers[j])
			}
		}
	}
}

// sameBytes is bytes.Equal that also tells nil (null) from empty.
func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// fixCRC recomputes the CRC of b after a test edits a covered field.
func fixCRC(b []byte) []byte {
	if len(b) >= HeaderSize {
		putCRC(b)
	}
	return b
}

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, codecXerial, CodecLz4, CodecZstd}

func codecName(c Codec) string {
	if c == codecXerial {
		return "snappy-xerial"
	}
	return c.String()
}

var permissive = Limits{MaxBatchBytes: 1 << 30, MaxUncompressedBytes: 64 << 20, AllowZstd: true}
