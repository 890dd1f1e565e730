package broker

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/rand"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// produceN produces n records to topic (spread over partitions by key) with acks=all and returns
// them with the offsets the broker assigned.
func produceN(t *testing.T, cl *kgo.Client, topic string, n int) []*kgo.Record {
	t.Helper()
	ctx := testContext(t)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "value-%06d", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return recs
}

// consumeAll reads n records from the start of every partition of topic.
func consumeAll(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t)
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		got = append(got, fs.Records()...)
	}
	return got
}

// byPartitionOffset indexes records for comparison.
func byPartitionOffset(recs []*kgo.Record) map[[2]int64]*kgo.Record {
	m := make(map[[2]int64]*kgo.Record, len(recs))
	for _, r := range recs {
		m[[2]int64{int64(r.Partition), r.Offset}] = r
	}
	return m
}

func assertSameRecords(t *testing.T, produced, consumed []*kgo.Record) {
	t.Helper()
	if len(consumed) != len(produced) {
		t.Fatalf("consumed %d records, produced %d", len(consumed), len(produced))
	}
	got := byPartitionOffset(consumed)
	for _, p := range produced {
		c := got[[2]int64{int64(p.Partition), p.Offset}]
		if c == nil || !bytes.Equal(c.Key, p.Key) || !bytes.Equal(c.Value, p.Value) {
			t.Fatalf("partition %d offset %d: produced %q, consumed %+v", p.Partition, p.Offset, p.Value, c)
		}
	}
	// Offsets within each partition are contiguous from 0.
	next := map[int32]int64{}
	for _, c := range consumed {
		if c.Offset != next[c.Partition] {
			t.Fatalf("partition %d: offset %d, want %d", c.Partition, c.Offset, next[c.Partition])
		}
		next[c.Partition]++
	}
}

func TestProduceConsumeEveryCompression(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.NumPartitions = 3 }))
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "compress-" + name
			cl := b.Client(t, kgo.ProducerBatchCompression(codec), kgo.AllowAutoTopicCreation())
			produced := produceN(t, cl, topic, 500)
			assertSameRecords(t, produced, consumeAll(t, b.Addr, topic, len(produced)))
		})
	}
}

func TestProduceAcksVariants(t *testing.T) {
	b := newTestBroker(t)
	for i, acks := range []kgo.Acks{kgo.NoAck(), kgo.LeaderAck(), kgo.AllISRAcks()} {
		topic := fmt.Sprintf("acks-%d", i)
		cl := b.Client(t, kgo.RequiredAcks(acks), kgo.DisableIdempotentWrite(), kgo.AllowAutoTopicCreation())
		produced := produceN(t, cl, topic, 100)
		consumed := consumeAll(t, b.Addr, topic, 100)
		if acks != kgo.NoAck() {
			assertSameRecords(t, produced, consumed)
		}
	}
}

func TestProduceErrors(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.MessageMaxBytes = 2048 }))
	cl := b.Client(t, kgo.AllowAutoTopicCreation())
	produceN(t, cl, "errs", 1) // creates the topic

	good := record.BuildBatch(record.BuildOptions{ProducerID: -1, BaseSequence: -1, BaseTimestamp: time.Now().UnixMilli()},
		[]record.Record{{Value: []byte("hello")}})
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 0xff
	tooBig := record.BuildBatch(record.BuildOptions{ProducerID: -1, BaseSequence: -1}, []record.Record{{Value: make([]byte, 4096)}})
	twoBatches := append(bytes.Clone(good), good...)
	badCount := bytes.Clone(good)
	badCount[60]++ // recordsCount no longer matches lastOffsetDelta+1
	fixCRC(badCount)

	cases := []struct {
		name  string
		topic string
		part  int32
		acks  int16
		data  []byte
		want  *kerr.Error
	}{
		{"unknown topic", "missing", 0, -1, good, kerr.UnknownTopicOrPartition},
		{"unknown partition", "errs", 7, -1, good, kerr.UnknownTopicOrPartition},
		{"invalid acks", "errs", 0, 2, good, kerr.InvalidRequiredAcks},
		{"corrupt crc", "errs", 0, -1, corrupt, kerr.CorruptMessage},
		{"too large", "errs", 0, -1, tooBig, kerr.MessageTooLarge},
		{"two batches", "errs", 0, -1, twoBatches, kerr.InvalidRecord},
		{"record count", "errs", 0, -1, badCount, kerr.InvalidRecord},
	}
	rc := dialRaw(t, b.Addr)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrProduceRequest()
			req.SetVersion(9)
			req.Acks, req.TimeoutMillis = tc.acks, 5000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = tc.topic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = tc.part, tc.data
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := rc.roundTrip(req).(*kmsg.ProduceResponse)
			got := resp.Topics[0].Partitions[0]
			if got.ErrorCode != tc.want.Code {
				t.Fatalf("error %v, want %v", kerr.ErrorForCode(got.ErrorCode), tc.want)
			}
		})
	}
	// Produce never creates topics.
	if b.cluster.lookupTopic("missing") != nil {
		t.Fatal("produce auto-created a topic")
	}
}

// fixCRC recomputes a v2 batch's CRC-32C after a test edited it.
func fixCRC(batch []byte) {
	crc := crc32.Checksum(batch[21:], crc32.MakeTable(crc32.Castagnoli))
	batch[17], batch[18], batch[19], batch[20] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
}

func TestProduceOldVersionsAreRefused(t *testing.T) {
	b := newTestBroker(t)
	cl := b.Client(t, kgo.AllowAutoTopicCreation())
	produceN(t, cl, "old", 1)
	rc := dialRaw(t, b.Addr)
	for _, v := range []int16{0, 1, 2} {
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(v)
		req.Acks, req.TimeoutMillis = 1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "old"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = record.BuildBatch(record.BuildOptions{ProducerID: -1, BaseSequence: -1}, []record.Record{{Value: []byte("x")}})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rc.roundTrip(req).(*kmsg.ProduceResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnsupportedVersion.Code {
			t.Fatalf("Produce v%d: error %d, want UNSUPPORTED_VERSION", v, code)
		}
	}
	if end := b.cluster.lookupTopic("old").partition(0).log.LogEndOffset(); end != 1 {
		t.Fatalf("log end %d: an old-version produce was stored", end)
	}
}

func TestAcksZeroFailureClosesConnection(t *testing.T) {
	b := newTestBroker(t)
	rc := dialRaw(t, b.Addr)
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7)
	req.Acks = 0
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "nope"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = record.BuildBatch(record.BuildOptions{ProducerID: -1, BaseSequence: -1}, []record.Record{{Value: []byte("x")}})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rc.send(req)
	rc.expectClosed()
}

func TestLargeMessageWithTopicOverride(t *testing.T) {
	b := newTestBroker(t)
	adm := b.Admin(t)
	ctx := testContext(t)
	big := "12582912" // 12 MiB
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": &big}, "big"); err != nil {
		t.Fatal(err)
	}
	cl := b.Client(t, kgo.ProducerBatchMaxBytes(12<<20), kgo.BrokerMaxWriteBytes(64<<20),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	val := make([]byte, 10<<20)
	rand.Read(val) // incompressible, so the batch really is 10 MiB
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "big", Value: val}).FirstErr(); err != nil {
		t.Fatalf("10 MiB record to a 12 MiB topic: %v", err)
	}
	// The same record to a topic with the 1 MiB default is refused.
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "small"); err != nil {
		t.Fatal(err)
	}
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: val}).FirstErr()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("MESSAGE_TOO_LARGE")) {
		t.Fatalf("10 MiB record to a 1 MiB topic: %v, want MESSAGE_TOO_LARGE", err)
	}
}

func TestFetchLongPollWakesOnProduce(t *testing.T) {
	b := newTestBroker(t)
	cl := b.Client(t, kgo.AllowAutoTopicCreation())
	produceN(t, cl, "poll", 1)

	fetch := kmsg.NewPtrFetchRequest()
	fetch.SetVersion(12)
	fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes = 20000, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "poll"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes = 1, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)

	rc := dialRaw(t, b.Addr)
	corr := rc.send(fetch)
	done := make(chan *kmsg.FetchResponse, 1)
	go func() {
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(fetch.GetVersion())
		rc.recv(corr, resp)
		done <- resp
	}()
	select {
	case <-done:
		t.Fatal("fetch at the log end returned before any data arrived")
	case <-time.After(300 * time.Millisecond):
	}
	produceN(t, cl, "poll", 1)
	select {
	case resp := <-done:
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.HighWatermark != 2 {
			t.Fatalf("fetch after produce: error %d, %d bytes, hwm %d", p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("long poll was not woken by the produce")
	}
}

func TestFetchOffsetOutOfRangeFillsOffsets(t *testing.T) {
	b := newTestBroker(t)
	cl := b.Client(t, kgo.AllowAutoTopicCreation())
	produceN(t, cl, "oor", 5)
	fetch := kmsg.NewPtrFetchRequest()
	fetch.SetVersion(11)
	fetch.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "oor"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes = 99, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	resp := dialRaw(t, b.Addr).roundTrip(fetch).(*kmsg.FetchResponse)
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != kerr.OffsetOutOfRange.Code || p.HighWatermark != 5 || p.LastStableOffset != 5 ||
		p.LogStartOffset != 0 || p.PreferredReadReplica != -1 {
		t.Fatalf("got %+v", p)
	}
}

func TestFetchRespectsMaxBytesButReturnsOneBatch(t *testing.T) {
	b := newTestBroker(t)
	cl := b.Client(t, kgo.AllowAutoTopicCreation())
	ctx := testContext(t)
	for range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "budget", Value: bytes.Repeat([]byte("v"), 4000)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.SetVersion(11)
	fetch.MaxBytes = 10 // far below one batch
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "budget"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 10
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	resp := dialRaw(t, b.Addr).roundTrip(fetch).(*kmsg.FetchResponse)
	data := resp.Topics[0].Partitions[0].RecordBatches
	hdr, err := record.ParseHeader(data)
	if err != nil || hdr.Size() != len(data) || hdr.BaseOffset != 0 {
		t.Fatalf("want exactly the first whole batch, got %d bytes (%v, %+v)", len(data), err, hdr)
	}
}
