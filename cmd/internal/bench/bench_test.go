package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// newCluster starts a single-broker kfake cluster, closed with the test.
func newCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// smokeOptions is a short run that keeps the race detector fast.
func smokeOptions(brokers []string) Options {
	o := DefaultOptions()
	o.Brokers = brokers
	o.Partitions = 4
	o.Producers = 2
	o.Consumers = 2
	o.RecordSize = 128
	o.Duration = time.Second
	o.Warmup = 200 * time.Millisecond
	return o
}

func TestRunThrottledAgainstKfake(t *testing.T) {
	opts := smokeOptions(newCluster(t))
	opts.Rate = 2000
	opts.BrokerPID = os.Getpid() // kfake runs in this process
	var out bytes.Buffer
	opts.Out, opts.JSON = &out, true

	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("JSON mode wrote progress: %q", out.String())
	}
	if err := res.Report(&out, true); err != nil {
		t.Fatal(err)
	}
	// 2,000 rec/s for 1s. The limiter's precision is tested with a fake
	// clock; here only its ceiling is checked (the window also holds the
	// final flush, and at most 250ms of catch-up), because on a loaded CI
	// machine under the race detector the producers may get far less CPU
	// than they need and fall short of the rate.
	if res.Records <= 0 || res.Records > 2600 {
		t.Errorf("records %d, want at most about 2000", res.Records)
	}
	if res.ConsumedRecords != res.Records || res.Errors != 0 {
		t.Errorf("consumed %d of %d, errors %d (%s)", res.ConsumedRecords, res.Records, res.Errors, res.FirstError)
	}
	if res.Bytes != res.Records*int64(opts.RecordSize) {
		t.Errorf("bytes %d for %d records", res.Bytes, res.Records)
	}
	if res.ProduceLatency.Count != uint64(res.Records) || res.EndToEndLatency.Count != uint64(res.ConsumedRecords) ||
		res.ProduceLatency.Max <= 0 || res.EndToEndLatency.P50 <= 0 {
		t.Errorf("latencies produce %+v e2e %+v", res.ProduceLatency, res.EndToEndLatency)
	}
	if res.PeakRSSBytes <= 0 {
		t.Errorf("peak RSS %d", res.PeakRSSBytes)
	}
	var decoded Result
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil {
		t.Fatalf("JSON report %q: %v", out.String(), err)
	}
	if decoded.Records != res.Records || decoded.Elapsed != res.Elapsed {
		t.Errorf("JSON round trip %+v vs %+v", decoded, *res)
	}
}

func TestRunUnthrottledExistingTopic(t *testing.T) {
	// The topic exists with 3 partitions; the run must use them, not 4.
	opts := smokeOptions(newCluster(t, kfake.SeedTopics(3, "bulwark-bench")))
	opts.Duration, opts.Warmup = 500*time.Millisecond, 0
	opts.Acks, opts.MaxInflight, opts.Compression = 1, 2, "zstd"
	opts.Consumers = 5 // more consumers than partitions
	opts.ProgressInterval = 100 * time.Millisecond
	var out bytes.Buffer
	opts.Out = &out

	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Report(&out, false); err != nil {
		t.Fatal(err)
	}
	if res.Records == 0 || res.ConsumedRecords != res.Records || res.Errors != 0 || res.Consumers != 3 {
		t.Errorf("records %d consumed %d consumers %d errors %d (%s)",
			res.Records, res.ConsumedRecords, res.Consumers, res.Errors, res.FirstError)
	}
	for _, want := range []string{"latency ms", "end-to-end", "rec/s", "consumed", "e2e max"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunNoConsumers(t *testing.T) {
	opts := smokeOptions(newCluster(t))
	opts.Consumers, opts.Acks, opts.Duration, opts.Warmup = 0, 0, 300*time.Millisecond, 0
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records == 0 || res.ConsumedRecords != 0 || res.EndToEndLatency.Count != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestRunUnreachableBroker(t *testing.T) {
	opts := smokeOptions([]string{"127.0.0.1:1"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := Run(ctx, opts); !errors.Is(err, ErrTopicNotReady) {
		t.Fatalf("err = %v, want ErrTopicNotReady", err)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	opts := DefaultOptions()
	opts.Acks = 5
	if _, err := Run(context.Background(), opts); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("err = %v, want ErrInvalidOptions", err)
	}
	opts = DefaultOptions()
	opts.BrokerPID = 1 << 30
	if _, err := Run(context.Background(), opts); !errors.Is(err, ErrProcStatus) {
		t.Fatalf("err = %v, want ErrProcStatus", err)
	}
}

func TestRunCanceled(t *testing.T) {
	opts := smokeOptions(newCluster(t))
	opts.Duration = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	res, err := Run(ctx, opts)
	if !errors.Is(err, context.Canceled) || res == nil {
		t.Fatalf("res %v err %v, want a partial result and context.Canceled", res, err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("cancel took %v", time.Since(start))
	}
}

func TestAssignPartitions(t *testing.T) {
	starts := map[int32]int64{0: 10, 1: 11, 2: 12, 3: 13, 4: 14}
	got := assignPartitions("t", starts, 2)
	if len(got) != 2 || len(got[0]["t"]) != 3 || len(got[1]["t"]) != 2 {
		t.Fatalf("assignment %v", got)
	}
	if got := assignPartitions("t", starts, 9); len(got) != 5 {
		t.Fatalf("more consumers than partitions: %d assignments", len(got))
	}
}

func TestProducerPool(t *testing.T) {
	p := newProducer(nil, "t", nil, 1000, 7)
	if len(p.free) != poolSize(1000) {
		t.Fatalf("pool %d, want %d", len(p.free), poolSize(1000))
	}
	r := <-p.free
	if bytes.Count(r.Value, []byte{0}) > len(r.Value)/10 || len(r.Value) != 1000 || cap(r.Value) != 1000 {
		t.Fatalf("payload not random or wrong size: len %d cap %d", len(r.Value), cap(r.Value))
	}
	for _, tc := range []struct{ size, want int }{{1024, maxPoolRecords}, {1 << 20, 32}, {64 << 20, minPoolRecords}} {
		if got := poolSize(tc.size); got != tc.want {
			t.Errorf("poolSize(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func TestPrint(t *testing.T) {
	r := &Result{Topic: "t", Partitions: 8, Producers: 4, Consumers: 1, RecordSize: 1024, Acks: -1,
		Compression: "none", Records: 1000, Bytes: 1024000, Elapsed: time.Second, RecordsPerSec: 1000,
		MBPerSec: 0.98, ConsumedRecords: 999, PeakRSSBytes: 100 << 20, HWMBytes: 120 << 20, Errors: 1,
		FirstError: "boom", ProduceLatency: Percentiles{Count: 1000, P50: 1.5, P99: 3, P999: 4, Max: 5}}
	var buf bytes.Buffer
	r.Print(&buf)
	for _, want := range []string{"unthrottled", "produce", "end-to-end", "consumed 999 of 1000 produced (99.90%)",
		"first: boom", "broker peak RSS 100.0 MiB", "1000 records in 1.00s", "errors 1"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}
