package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrTopicNotReady means the topic could not be created or did not become
// usable (every partition listing an end offset) in time.
var ErrTopicNotReady = errors.New("bench: topic not ready")

const (
	topicReadyTimeout = 30 * time.Second
	drainTimeout      = 10 * time.Second // consumers catching up after the last ack
	rssInterval       = 100 * time.Millisecond
	pollInterval      = 10 * time.Millisecond
)

// Run creates the topic if needed, produces for Warmup+Duration, waits for the
// consumers to catch up and returns the measured result. Unless opts.JSON is
// set or opts.Out is nil, it writes a progress line to opts.Out every 5s; the
// caller renders the result with Result.Report (or Print). If ctx is canceled
// mid-run, Run returns the partial result together with ctx's error.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	base := baseClientOpts(opts)

	var sampler *rssSampler
	if opts.BrokerPID > 0 {
		sampler = &rssSampler{pid: opts.BrokerPID}
		if err := sampler.sample(); err != nil {
			return nil, fmt.Errorf("bench: broker pid %d: %w", opts.BrokerPID, err)
		}
	}
	starts, err := prepareTopic(ctx, opts, base)
	if err != nil {
		return nil, err
	}
	ps, cs, err := newClients(opts, base, starts)
	defer closeClients(ps, cs)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	measureStart := start.Add(opts.Warmup)
	end := measureStart.Add(opts.Duration)
	for _, p := range ps {
		p.measureStart = measureStart.UnixNano()
	}
	if len(ps) > 0 && ps[0].lim != nil {
		ps[0].lim.restart(start) // shared by all producers
	}
	for _, c := range cs {
		c.measureStart = measureStart.UnixNano()
	}

	bgCtx, stopBg := context.WithCancel(ctx)
	var bg sync.WaitGroup
	goBg := func(fn func()) {
		bg.Add(1)
		go func() { defer bg.Done(); fn() }()
	}
	if sampler != nil {
		goBg(func() { sampler.run(bgCtx, rssInterval) })
	}
	for _, c := range cs {
		goBg(func() { c.run(bgCtx) })
	}
	if !opts.JSON {
		if opts.ProgressInterval == 0 {
			opts.ProgressInterval = DefaultOptions().ProgressInterval
		}
		goBg(func() { reportProgress(bgCtx, out, opts.ProgressInterval, ps, cs, start, measureStart) })
	}

	runProducers(ctx, ps, end)
	flushed := time.Now()
	drainConsumers(ctx, ps, cs)
	stopBg()
	bg.Wait()

	res := buildResult(opts, ps, cs, sampler, flushed.Sub(measureStart))
	if opts.MetricsURL != "" && ctx.Err() == nil {
		stages, err := scrapeBrokerStages(ctx, opts.MetricsURL)
		if err != nil {
			return res, err
		}
		res.BrokerStages = stages
	}
	return res, ctx.Err()
}

// baseClientOpts are the options every client (admin, producer, consumer)
// shares.
func baseClientOpts(opts Options) []kgo.Opt {
	base := append([]kgo.Opt{kgo.SeedBrokers(opts.Brokers...), kgo.ClientID("bulwark-bench")}, opts.ClientOpts...)
	if opts.Logger != nil {
		base = append(base, kgo.WithLogger(kgoLogger{opts.Logger}))
	}
	return base
}

// producerOpts translates Options into kgo producer options.
func producerOpts(opts Options) []kgo.Opt {
	acks := kgo.AllISRAcks()
	switch opts.Acks {
	case 0:
		acks = kgo.NoAck()
	case 1:
		acks = kgo.LeaderAck()
	}
	po := []kgo.Opt{
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(compressionCodecs[opts.Compression]()),
		kgo.ProducerLinger(opts.Linger),
		kgo.ProducerBatchMaxBytes(opts.BatchMaxBytes),
		kgo.MaxBufferedRecords(poolSize(opts.RecordSize)),
	}
	// kgo refuses idempotent writes without acks=all, and refuses a custom
	// in-flight limit with idempotent writes.
	if opts.Acks != -1 || opts.MaxInflight > 0 {
		po = append(po, kgo.DisableIdempotentWrite())
	}
	if opts.MaxInflight > 0 {
		po = append(po, kgo.MaxProduceRequestsInflightPerBroker(opts.MaxInflight))
	}
	return po
}

// newClients builds producers and consumers. On error, the ones built so far
// are returned so the caller can close them.
func newClients(opts Options, base []kgo.Opt, starts map[int32]int64) ([]*producer, []*consumer, error) {
	var ps []*producer
	var cs []*consumer
	lim := newLimiter(opts.Rate, realClock{})
	po := append(append([]kgo.Opt{}, base...), producerOpts(opts)...)
	for i := 0; i < opts.Producers; i++ {
		cl, err := kgo.NewClient(po...)
		if err != nil {
			return ps, cs, fmt.Errorf("bench: producer client: %w", err)
		}
		ps = append(ps, newProducer(cl, opts.Topic, lim, opts.RecordSize, uint64(i+1)))
	}
	if opts.Consumers == 0 {
		return ps, cs, nil
	}
	for _, assign := range assignPartitions(opts.Topic, starts, opts.Consumers) {
		co := append(append([]kgo.Opt{}, base...), kgo.ConsumePartitions(assign))
		cl, err := kgo.NewClient(co...)
		if err != nil {
			return ps, cs, fmt.Errorf("bench: consumer client: %w", err)
		}
		cs = append(cs, newConsumer(cl))
	}
	return ps, cs, nil
}

func closeClients(ps []*producer, cs []*consumer) {
	for _, p := range ps {
		p.cl.Close()
	}
	for _, c := range cs {
		c.cl.Close()
	}
}

// prepareTopic creates the topic if it is missing and returns the end offset
// of every partition, taken before anything is produced.
func prepareTopic(ctx context.Context, opts Options, base []kgo.Opt) (map[int32]int64, error) {
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("bench: admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	created := true
	_, err = adm.CreateTopic(ctx, opts.Partitions, -1, nil, opts.Topic)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		created = false
	case err != nil:
		// A broker without CreateTopics may still have the topic (created
		// by hand or automatically); the offset listing decides.
		created = false
		if opts.Logger != nil {
			opts.Logger.Warn("bench: create topic failed; trying to use it as is", "topic", opts.Topic, "err", err)
		}
	}

	deadline := time.Now().Add(topicReadyTimeout)
	var lastErr error
	for {
		starts, err := endOffsets(ctx, adm, opts.Topic)
		if err == nil && (!created || int32(len(starts)) == opts.Partitions) {
			return starts, nil
		}
		if err != nil {
			lastErr = err
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %q: %v", ErrTopicNotReady, opts.Topic, lastErr)
		}
		if err := (realClock{}).Sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrTopicNotReady, opts.Topic, err)
		}
	}
}

// endOffsets lists the topic's end offsets, failing unless every partition
// answered.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := listed.Error(); err != nil {
		return nil, err
	}
	parts := listed[topic]
	if len(parts) == 0 {
		return nil, kerr.UnknownTopicOrPartition
	}
	starts := make(map[int32]int64, len(parts))
	for p, o := range parts {
		starts[p] = o.Offset
	}
	return starts, nil
}

// drainConsumers waits until the consumers have read every acknowledged
// record, for at most drainTimeout: with acks=0 or a lossy broker some
// records never arrive, and the report shows the difference.
func drainConsumers(ctx context.Context, ps []*producer, cs []*consumer) {
	if len(cs) == 0 {
		return
	}
	acked := sumProducers(ps).acked
	deadline := time.Now().Add(drainTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var got int64
		for _, c := range cs {
			got += c.total.Load()
		}
		if got >= acked {
			return
		}
		_ = (realClock{}).Sleep(ctx, pollInterval)
	}
}

// reportProgress prints a line every interval until ctx is done: the
// interval's acknowledged rate, the running totals and the worst end-to-end
// latency seen in the interval, so a stall shows when it happened.
func reportProgress(ctx context.Context, w io.Writer, interval time.Duration, ps []*producer, cs []*consumer, start, measureStart time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastAcked int64
	last := start
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			tot := sumProducers(ps)
			var consumed, worst int64
			for _, c := range cs {
				consumed += c.total.Load()
				worst = max(worst, c.worst.Swap(0))
			}
			secs := now.Sub(last).Seconds()
			phase := "measuring"
			if now.Before(measureStart) {
				phase = "warmup"
			}
			fmt.Fprintf(w, "%7.1fs %-9s %10.0f rec/s  acked %d  consumed %d  e2e max %.1f ms  errors %d\n",
				now.Sub(start).Seconds(), phase, float64(tot.acked-lastAcked)/secs, tot.acked, consumed,
				float64(worst)/1e6, tot.errs)
			lastAcked, last = tot.acked, now
		}
	}
}

// kgoLogger adapts a *slog.Logger to kgo.Logger at warn level: the client's
// info and debug logs would swamp a benchmark's output.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	case kgo.LogLevelInfo:
		lvl = slog.LevelInfo
	}
	k.l.Log(context.Background(), lvl, msg, keyvals...)
}
