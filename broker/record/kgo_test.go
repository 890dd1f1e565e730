package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// captureBroker is just enough of a Kafka broker, over in-memory pipes, for franz-go's
// producer to send real batches: ApiVersions, Metadata, InitProducerID and Produce. It keeps
// every batch it receives so tests can validate exactly what a real client sends.
type captureBroker struct {
	t       testing.TB
	wg      sync.WaitGroup
	mu      sync.Mutex
	batches [][]byte
}

// maxVersions caps what the fake advertises: Produce v13 and Metadata v13 move to topic ids,
// which this fake does not model.
// ApiVersions is answered at whatever version the client asks, up to kmsg's newest.
var captureVersions = map[int16]int16{0: 12, 3: 12, 18: new(kmsg.ApiVersionsRequest).MaxVersion(), 22: 4}

func (cb *captureBroker) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	cb.wg.Add(1)
	go func() {
		defer cb.wg.Done()
		defer server.Close()
		if err := cb.serve(server); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
			cb.t.Errorf("capture broker: %v", err)
		}
	}()
	return client, nil
}

func (cb *captureBroker) serve(conn net.Conn) error {
	for {
		var size [4]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(size[:])
		if n > 16<<20 {
			return fmt.Errorf("frame of %d bytes", n)
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(conn, frame); err != nil {
			return err
		}
		resp, corr, flexible, err := cb.handle(frame)
		if err != nil {
			return err
		}
		out := binary.BigEndian.AppendUint32(make([]byte, 4), uint32(corr))
		if flexible && resp.Key() != 18 { // ApiVersions responses never carry header tags
			out = append(out, 0)
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := conn.Write(out); err != nil {
			return err
		}
	}
}

func (cb *captureBroker) handle(frame []byte) (kmsg.Response, int32, bool, error) {
	if len(frame) < 10 {
		return nil, 0, false, errors.New("short request header")
	}
	key := int16(binary.BigEndian.Uint16(frame))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	corr := int32(binary.BigEndian.Uint32(frame[4:]))
	clientIDLen := int(int16(binary.BigEndian.Uint16(frame[8:])))
	body := frame[10+max(clientIDLen, 0):]
	req := kmsg.RequestForKey(key)
	if req == nil || captureVersions[key] < version {
		return nil, 0, false, fmt.Errorf("unexpected request key %d v%d", key, version)
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		if len(body) == 0 || body[0] != 0 {
			return nil, 0, false, errors.New("unexpected request header tags")
		}
		body = body[1:]
	}
	if err := req.ReadFrom(body); err != nil {
		return nil, 0, false, err
	}
	return cb.respond(req), corr, req.IsFlexible(), nil
}

func (cb *captureBroker) respond(req kmsg.Request) kmsg.Response {
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		for key, maxV := range captureVersions {
			resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: key, MaxVersion: maxV})
		}
		return resp
	case *kmsg.MetadataRequest:
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 0, Host: "capture", Port: 9092}}
		topic := kmsg.NewMetadataResponseTopic()
		topic.Topic = kmsg.StringPtr("t")
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Replicas, p.ISR = []int32{0}, []int32{0}
		topic.Partitions = append(topic.Partitions, p)
		resp.Topics = append(resp.Topics, topic)
		return resp
	case *kmsg.InitProducerIDRequest:
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = 4242, 7
		return resp
	case *kmsg.ProduceRequest:
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			out := kmsg.NewProduceResponseTopic()
			out.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				cb.mu.Lock()
				cb.batches = append(cb.batches, bytes.Clone(rp.Records))
				cb.mu.Unlock()
				op := kmsg.NewProduceResponseTopicPartition()
				op.Partition = rp.Partition
				out.Partitions = append(out.Partitions, op)
			}
			resp.Topics = append(resp.Topics, out)
		}
		return resp
	}
	panic("unreachable: handle checked the key")
}

// produceWithKgo sends recs through a real franz-go producer with the given codec and
// returns the batches the producer wrote.
func produceWithKgo(t *testing.T, c Codec, idempotent bool, recs []Record) [][]byte {
	t.Helper()
	cb := &captureBroker{t: t}
	opts := []kgo.Opt{
		kgo.SeedBrokers("capture:9092"),
		kgo.Dialer(cb.dial),
		kgo.DefaultProduceTopic("t"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgoCodec(t, c)),
		kgo.ProducerLinger(time.Minute), // everything goes out in one batch on Flush
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range recs {
		kr := &kgo.Record{Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(1_700_000_000_000 + r.TimestampDelta)}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		wg.Add(1)
		cl.Produce(ctx, kr, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	flushErr := cl.Flush(ctx)
	cl.Close() // fails anything still buffered, so every promise has run once Close returns
	wg.Wait()
	cb.wg.Wait()
	if flushErr != nil {
		t.Fatalf("flush: %v", flushErr)
	}
	return cb.batches
}

// TestRealClientBatches validates batches written by franz-go's producer for every codec,
// idempotent or not, and cross-checks decompression with franz-go's own decompressor.
func TestRealClientBatches(t *testing.T) {
	recs := sampleRecords(20, 200)
	for i := range recs {
		if recs[i].Value == nil {
			recs[i].Value = []byte{} // kgo cannot send a null value through kgo.Record
		}
		if recs[i].Key != nil && len(recs[i].Key) == 0 {
			recs[i].Key = nil // nor tell an empty key from a null one
		}
		for j := range recs[i].Headers {
			if recs[i].Headers[j].Value == nil {
				recs[i].Headers[j].Value = []byte{}
			}
		}
	}
	for _, c := range allCodecs {
		if c == codecXerial {
			continue // franz-go sends raw snappy; xerial is covered with kmsg-built batches
		}
		for _, idem := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/idempotent=%v", codecName(c), idem), func(t *testing.T) {
				// Usually one batch; the producer may split them if it drains before all
				// records are buffered, so every batch is checked and the records joined.
				var got []Record
				wantSeq, withCodec := int32(0), 0
				for _, b := range produceWithKgo(t, c, idem, recs) {
					h, err := ValidateProduced(b, permissive, new(Scratch))
					if err != nil {
						t.Fatalf("ValidateProduced on a franz-go batch: %v", err)
					}
					// franz-go sends a batch uncompressed when compressing does not shrink it.
					if (h.Codec() != c && h.Codec() != CodecNone) || h.Size() != len(b) {
						t.Fatalf("header %+v", h)
					}
					if h.Codec() == c {
						withCodec++
					}
					if idem && (h.ProducerID != 4242 || h.ProducerEpoch != 7 || h.BaseSequence != wantSeq) {
						t.Fatalf("idempotent header %+v, want sequence %d", h, wantSeq)
					}
					if !idem && h.ProducerID != -1 {
						t.Fatalf("plain header %+v", h)
					}
					wantSeq += h.NumRecords
					for _, r := range collect(t, b) {
						// As if all were one batch based at the first record's timestamp.
						r.OffsetDelta = int32(len(got))
						r.TimestampDelta += h.BaseTimestamp - 1_700_000_000_000
						got = append(got, r)
					}
					crossCheckDecompress(t, b, h)
				}
				if withCodec == 0 {
					t.Fatalf("no batch used %v", c)
				}
				normalizeKgo(got)
				equalRecords(t, got, recs)
			})
		}
	}
}

// normalizeKgo maps franz-go's empty-but-non-nil encodings back to what the test produced.
func normalizeKgo(recs []Record) {
	for i := range recs {
		if recs[i].Key != nil && len(recs[i].Key) == 0 {
			recs[i].Key = nil
		}
	}
}

// crossCheckDecompress compares this package's decompression with franz-go's.
func crossCheckDecompress(t *testing.T, b []byte, h Header) {
	t.Helper()
	if h.Codec() == CodecNone {
		return
	}
	want, err := kgo.DefaultDecompressor().Decompress(b[HeaderSize:], kgo.CompressionCodecType(h.Codec()))
	if err != nil {
		t.Fatalf("franz-go cannot decompress: %v", err)
	}
	var s Scratch
	got, err := s.decompress(h.Codec(), b[HeaderSize:], 0)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("decompressed %d bytes (%v), franz-go %d", len(got), err, len(want))
	}
}
