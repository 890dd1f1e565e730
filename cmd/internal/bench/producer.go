package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// compressionCodecs maps the --compression names to kgo codecs.
var compressionCodecs = map[string]func() kgo.CompressionCodec{
	"none":   kgo.NoCompression,
	"gzip":   kgo.GzipCompression,
	"snappy": kgo.SnappyCompression,
	"lz4":    kgo.Lz4Compression,
	"zstd":   kgo.ZstdCompression,
}

const (
	// maxPoolRecords and maxPoolBytes bound each producer's record pool,
	// which is also its bound on records in flight. 10,000 records of 1 KiB
	// is 10 MiB per producer: hundreds of milliseconds of data at the rates
	// we target, enough to keep several batches per partition in flight.
	maxPoolRecords = 10_000
	maxPoolBytes   = 32 << 20
	minPoolRecords = 16
	// unthrottledBurst is how many records an unthrottled producer sends
	// between checks of the deadline.
	unthrottledBurst = 256
)

// poolSize returns how many reusable records a producer keeps.
func poolSize(recordSize int) int {
	n := maxPoolBytes / recordSize
	if n > maxPoolRecords {
		n = maxPoolRecords
	}
	if n < minPoolRecords {
		n = minPoolRecords
	}
	return n
}

// payloadTemplate returns size pseudo-random bytes: values must not be all
// zeros (compression would make the test meaningless) and generating them per
// record would cost more than sending them.
func payloadTemplate(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, size)
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		copy(b[i:], w[:])
	}
	return b
}

// producer drives one kgo client. Its records are allocated once and cycled
// through free: a record is taken before Produce and returned by the promise,
// because kgo owns Record and its Value until the promise fires.
type producer struct {
	cl           *kgo.Client
	topic        string
	lim          *limiter // shared; nil = unthrottled
	free         chan *kgo.Record
	measureStart int64 // unix nanos; records sent earlier are warmup
	promise      func(*kgo.Record, error)

	lat      Histogram    // produce latency of measured records, ns
	acked    atomic.Int64 // all successfully acknowledged records
	measured atomic.Int64 // acknowledged records sent after warmup
	bytes    atomic.Int64 // value bytes of measured records
	errs     atomic.Int64
	firstErr atomic.Pointer[string]
}

// newProducer builds the record pool; cl may be nil in tests that do not
// produce. The caller sets measureStart before starting run.
func newProducer(cl *kgo.Client, topic string, lim *limiter, recordSize int, seed uint64) *producer {
	n := poolSize(recordSize)
	p := &producer{cl: cl, topic: topic, lim: lim, free: make(chan *kgo.Record, n)}
	tmpl := payloadTemplate(recordSize, seed)
	slab := make([]byte, n*recordSize)
	recs := make([]kgo.Record, n)
	for i := range recs {
		v := slab[i*recordSize : (i+1)*recordSize : (i+1)*recordSize]
		copy(v, tmpl)
		recs[i].Value = v
		p.free <- &recs[i]
	}
	p.promise = p.onAck // one method value, not one closure per record
	return p
}

// run produces until end or until ctx is done. It does not wait for
// outstanding records; the caller flushes the client.
func (p *producer) run(ctx context.Context, end time.Time) {
	for {
		n := unthrottledBurst
		if p.lim != nil {
			var err error
			if n, err = p.lim.take(ctx); err != nil {
				return
			}
		}
		if !time.Now().Before(end) {
			return
		}
		for i := 0; i < n; i++ {
			var r *kgo.Record
			select {
			case r = <-p.free:
			case <-ctx.Done():
				return
			}
			now := time.Now()
			v := r.Value
			binary.BigEndian.PutUint64(v, uint64(now.UnixNano()))
			// Reset everything kgo filled in on the record's previous trip;
			// setting Timestamp saves kgo a second clock read.
			*r = kgo.Record{Topic: p.topic, Value: v, Timestamp: now}
			p.cl.Produce(ctx, r, p.promise)
		}
	}
}

// onAck is the promise for every record: it measures and recycles it.
func (p *producer) onAck(r *kgo.Record, err error) {
	now := time.Now().UnixNano()
	sent := int64(binary.BigEndian.Uint64(r.Value))
	if err != nil {
		p.errs.Add(1)
		if p.firstErr.Load() == nil && !errors.Is(err, context.Canceled) {
			msg := err.Error()
			p.firstErr.CompareAndSwap(nil, &msg)
		}
	} else {
		p.acked.Add(1)
		if sent >= p.measureStart {
			p.measured.Add(1)
			p.bytes.Add(int64(len(r.Value)))
			p.lat.Record(now - sent)
		}
	}
	p.free <- r // never blocks: the channel holds the whole pool
}

// producerTotals sums the counters of all producers.
type producerTotals struct {
	acked, measured, bytes, errs int64
	firstErr                     string
}

func sumProducers(ps []*producer) producerTotals {
	var t producerTotals
	for _, p := range ps {
		t.acked += p.acked.Load()
		t.measured += p.measured.Load()
		t.bytes += p.bytes.Load()
		t.errs += p.errs.Load()
		if e := p.firstErr.Load(); e != nil && t.firstErr == "" {
			t.firstErr = *e
		}
	}
	return t
}

// runProducers runs every producer until end and then flushes each client so
// every promise has fired. It returns when all are done.
func runProducers(ctx context.Context, ps []*producer, end time.Time) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(ctx, end)
			// Flush fails only when ctx is done; records then fail
			// through their promises and are counted there.
			_ = p.cl.Flush(ctx)
		}()
	}
	wg.Wait()
}
