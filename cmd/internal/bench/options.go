package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrInvalidOptions is wrapped by every error Options.Validate returns.
var ErrInvalidOptions = errors.New("bench: invalid options")

// Option limits. They keep a typo from asking for a million clients or a
// gigabyte record per pool slot.
const (
	maxPartitions = 100_000
	maxClients    = 1024
	maxRecordSize = 64 << 20
	minRecordSize = 8 // the send timestamp
)

// Options configures a benchmark run. DefaultOptions gives the values the
// flags default to.
type Options struct {
	Brokers    []string // seed brokers, host:port
	Topic      string   // created with kadm if missing
	Partitions int32    // partition count when the topic is created

	Producers int // producer goroutines, each with its own kgo client
	Consumers int // group-less consumers splitting the partitions; 0 disables end-to-end latency

	RecordSize  int           // value size in bytes, at least 8 (the send timestamp)
	Acks        int           // -1 (all ISR, idempotent unless MaxInflight > 0), 0 or 1
	Rate        int           // total records/s over all producers; 0 = unthrottled
	Duration    time.Duration // measured period
	Warmup      time.Duration // produced before measuring and excluded from results
	Compression string        // none, gzip, snappy, lz4, zstd

	Linger        time.Duration // kgo ProducerLinger; 0 lets kgo batch while requests are in flight
	BatchMaxBytes int32         // kgo ProducerBatchMaxBytes
	// MaxInflight is produce requests in flight per broker. 0 keeps kgo's
	// default (the idempotent producer's limit for acks=-1, 1 otherwise); a
	// positive value disables idempotent writes, which kgo requires in order
	// to change it.
	MaxInflight int

	// BrokerPID, if positive, is sampled from /proc/PID/status every 100ms
	// and the peak RSS is reported.
	BrokerPID int

	// MetricsURL, if set, is the broker's Prometheus endpoint (http://127.0.0.1:11001/metrics):
	// after the run its Produce and FetchConsumer request-time breakdown is reported beside the
	// client's own latencies.
	MetricsURL string

	// ClientOpts are added to every client: TLS and SASL for a secured listener.
	ClientOpts []kgo.Opt

	// ProgressInterval is how often a progress line is written to Out; 0
	// means every 5s.
	ProgressInterval time.Duration

	Out    io.Writer    // progress lines and the final report; nil = discard
	JSON   bool         // write the final report as one JSON object instead of a table
	Logger *slog.Logger // client logs at warn level and above; nil = discard
}

// DefaultOptions returns the defaults the flags use.
func DefaultOptions() Options {
	return Options{
		Brokers:       []string{"127.0.0.1:9092"},
		Topic:         "bulwark-bench",
		Partitions:    8,
		Producers:     4,
		Consumers:     1,
		RecordSize:    1024,
		Acks:          -1,
		Duration:      30 * time.Second,
		Warmup:        5 * time.Second,
		Compression:   "none",
		BatchMaxBytes: 1 << 20,

		ProgressInterval: 5 * time.Second,
	}
}

// RegisterFlags defines the bench flags on fs and returns the Options they
// fill in when fs is parsed.
func RegisterFlags(fs *flag.FlagSet) *Options {
	o := DefaultOptions()
	opts := &o
	fs.Var((*brokerList)(&opts.Brokers), "brokers", "comma-separated seed brokers (host:port)")
	fs.StringVar(&opts.Topic, "topic", opts.Topic, "topic to produce to (created if missing)")
	fs.Var((*int32Value)(&opts.Partitions), "partitions", "partitions when creating the topic")
	fs.IntVar(&opts.Producers, "producers", opts.Producers, "producer clients")
	fs.IntVar(&opts.Consumers, "consumers", opts.Consumers, "consumer clients measuring end-to-end latency (0 = none)")
	fs.IntVar(&opts.RecordSize, "record-size", opts.RecordSize, "record value size in bytes (>= 8)")
	fs.IntVar(&opts.Acks, "acks", opts.Acks, "required acks: -1 (all), 0 or 1")
	fs.IntVar(&opts.Rate, "rate", opts.Rate, "total records per second (0 = unthrottled)")
	fs.DurationVar(&opts.Duration, "duration", opts.Duration, "measured duration")
	fs.DurationVar(&opts.Warmup, "warmup", opts.Warmup, "warmup excluded from results")
	fs.StringVar(&opts.Compression, "compression", opts.Compression, "none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&opts.Linger, "linger", opts.Linger, "producer linger (0 = batch while requests are in flight)")
	fs.Var((*int32Value)(&opts.BatchMaxBytes), "batch-max-bytes", "maximum record batch size in bytes")
	fs.IntVar(&opts.MaxInflight, "max-inflight", opts.MaxInflight,
		"produce requests in flight per broker (0 = client default; > 0 disables idempotence)")
	fs.IntVar(&opts.BrokerPID, "broker-pid", opts.BrokerPID, "broker process id whose peak RSS to report (0 = off)")
	fs.StringVar(&opts.MetricsURL, "metrics-url", opts.MetricsURL,
		"broker metrics endpoint (http://127.0.0.1:11001/metrics) whose request-time breakdown to report after the run")
	fs.DurationVar(&opts.ProgressInterval, "progress", opts.ProgressInterval, "interval between progress lines")
	fs.BoolVar(&opts.JSON, "json", opts.JSON, "print the result as JSON")
	return opts
}

// Validate reports every problem with o, each wrapping ErrInvalidOptions.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if len(o.Brokers) == 0 {
		bad("no brokers")
	}
	for _, b := range o.Brokers {
		if strings.TrimSpace(b) == "" {
			bad("empty broker address")
		}
	}
	if o.Topic == "" || len(o.Topic) > 249 {
		bad("topic name must be 1 to 249 characters")
	}
	if o.Partitions < 1 || o.Partitions > maxPartitions {
		bad("partitions %d not in [1, %d]", o.Partitions, maxPartitions)
	}
	if o.Producers < 1 || o.Producers > maxClients {
		bad("producers %d not in [1, %d]", o.Producers, maxClients)
	}
	if o.Consumers < 0 || o.Consumers > maxClients {
		bad("consumers %d not in [0, %d]", o.Consumers, maxClients)
	}
	if o.RecordSize < minRecordSize || o.RecordSize > maxRecordSize {
		bad("record size %d not in [%d, %d]", o.RecordSize, minRecordSize, maxRecordSize)
	}
	if o.Acks != -1 && o.Acks != 0 && o.Acks != 1 {
		bad("acks %d must be -1, 0 or 1", o.Acks)
	}
	if o.Rate < 0 {
		bad("rate %d is negative", o.Rate)
	}
	if o.Duration <= 0 {
		bad("duration %v must be positive", o.Duration)
	}
	if o.ProgressInterval < 0 {
		bad("progress interval %v is negative", o.ProgressInterval)
	}
	if o.Warmup < 0 {
		bad("warmup %v is negative", o.Warmup)
	}
	if _, ok := compressionCodecs[o.Compression]; !ok {
		bad("compression %q must be none, gzip, snappy, lz4 or zstd", o.Compression)
	}
	if o.Linger < 0 {
		bad("linger %v is negative", o.Linger)
	}
	if o.BatchMaxBytes < 512 || o.BatchMaxBytes > 1<<30 {
		bad("batch max bytes %d not in [512, %d]", o.BatchMaxBytes, 1<<30)
	}
	if o.MaxInflight < 0 {
		bad("max inflight %d is negative", o.MaxInflight)
	}
	if o.MetricsURL != "" && !strings.HasPrefix(o.MetricsURL, "http://") && !strings.HasPrefix(o.MetricsURL, "https://") {
		bad("metrics url %q must be http:// or https://", o.MetricsURL)
	}
	if o.BrokerPID < 0 {
		bad("broker pid %d is negative", o.BrokerPID)
	}
	return errors.Join(errs...)
}

// brokerList is a flag.Value for a comma-separated list of addresses.
type brokerList []string

func (b *brokerList) String() string { return strings.Join(*b, ",") }

func (b *brokerList) Set(s string) error {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return errors.New("no broker addresses")
	}
	*b = out
	return nil
}

// int32Value is a flag.Value for an int32 field.
type int32Value int32

func (v *int32Value) String() string { return strconv.FormatInt(int64(*v), 10) }

func (v *int32Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 32)
	if err != nil {
		return err
	}
	*v = int32Value(n)
	return nil
}
