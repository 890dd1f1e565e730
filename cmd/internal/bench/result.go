package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// mib is the MB of MB/s, as in kafka-producer-perf-test.
const mib = 1 << 20

// Result is what a run measured. Every count and latency covers only records
// sent after the warmup.
type Result struct {
	// The configuration the figures belong to.
	Topic       string `json:"topic"`
	Partitions  int    `json:"partitions"`
	Producers   int    `json:"producers"`
	Consumers   int    `json:"consumers"`
	RecordSize  int    `json:"record_size"`
	Acks        int    `json:"acks"`
	Rate        int    `json:"rate"`
	Compression string `json:"compression"`

	Records       int64         `json:"records"` // acknowledged records
	Bytes         int64         `json:"bytes"`   // their value bytes
	Elapsed       time.Duration `json:"elapsed_ns"`
	RecordsPerSec float64       `json:"records_per_sec"`
	MBPerSec      float64       `json:"mb_per_sec"` // MiB of values per second

	ProduceLatency  Percentiles `json:"produce_latency"`
	EndToEndLatency Percentiles `json:"end_to_end_latency"`

	// ConsumedRecords is how many of Records the consumers read; less than
	// Records means records were lost or the consumers fell behind by more
	// than the drain timeout.
	ConsumedRecords int64 `json:"consumed_records"`

	PeakRSSBytes int64 `json:"peak_rss_bytes"` // broker's peak VmRSS while running; 0 if not sampled
	HWMBytes     int64 `json:"hwm_bytes"`      // broker's VmHWM at the end (peak since it started)

	// BrokerStages is the broker's own request-time breakdown (Options.MetricsURL).
	BrokerStages []BrokerStage `json:"broker_stages,omitempty"`

	Errors     int64  `json:"errors"` // failed produces plus consumer fetch errors
	FirstError string `json:"first_error,omitempty"`
}

// buildResult gathers the counters of every producer and consumer.
func buildResult(opts Options, ps []*producer, cs []*consumer, s *rssSampler, elapsed time.Duration) *Result {
	if elapsed < 0 {
		elapsed = 0 // canceled during warmup
	}
	tot := sumProducers(ps)
	res := &Result{
		Topic: opts.Topic, Partitions: int(opts.Partitions), Producers: opts.Producers,
		Consumers: len(cs), RecordSize: opts.RecordSize, Acks: opts.Acks, Rate: opts.Rate,
		Compression: opts.Compression,
		Records:     tot.measured, Bytes: tot.bytes, Elapsed: elapsed,
		Errors: tot.errs, FirstError: tot.firstErr,
	}
	if secs := elapsed.Seconds(); secs > 0 {
		res.RecordsPerSec = float64(res.Records) / secs
		res.MBPerSec = float64(res.Bytes) / mib / secs
	}
	prod, e2e := new(Histogram), new(Histogram)
	for _, p := range ps {
		prod.Merge(&p.lat)
	}
	for _, c := range cs {
		e2e.Merge(&c.lat)
		res.ConsumedRecords += c.measured.Load()
		res.Errors += c.errs.Load()
		if e := c.firstErr.Load(); e != nil && res.FirstError == "" {
			res.FirstError = *e
		}
	}
	res.ProduceLatency, res.EndToEndLatency = prod.Percentiles(), e2e.Percentiles()
	if s != nil {
		res.PeakRSSBytes, res.HWMBytes = s.peakRSS.Load(), s.lastHWM.Load()
	}
	return res
}

// Report writes the result as one JSON object on one line when asJSON is set,
// else as Print does.
func (r *Result) Report(w io.Writer, asJSON bool) error {
	if !asJSON {
		r.Print(w)
		return nil
	}
	if err := json.NewEncoder(w).Encode(r); err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	return nil
}

// Print writes a human-readable table followed by a one-line summary.
func (r *Result) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "bulwark bench: topic %s, %d partitions, %d producers, %d consumers, %d-byte records, acks %d, compression %s, rate %s\n",
		r.Topic, r.Partitions, r.Producers, r.Consumers, r.RecordSize, r.Acks, r.Compression, rateString(r.Rate))
	fmt.Fprintf(tw, "records\tbytes\tseconds\trec/s\tMB/s\t\n")
	fmt.Fprintf(tw, "%d\t%d\t%.2f\t%.1f\t%.2f\t\n", r.Records, r.Bytes, r.Elapsed.Seconds(), r.RecordsPerSec, r.MBPerSec)
	fmt.Fprintf(tw, "\t\t\t\t\t\n")
	fmt.Fprintf(tw, "latency ms\tcount\tmean\tp50\tp99\tp99.9\tmax\t\n")
	for _, row := range []struct {
		name string
		p    Percentiles
	}{{"produce", r.ProduceLatency}, {"end-to-end", r.EndToEndLatency}} {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			row.name, row.p.Count, row.p.Mean, row.p.P50, row.p.P99, row.p.P999, row.p.Max)
	}
	if len(r.BrokerStages) > 0 {
		fmt.Fprintf(tw, "\t\t\t\t\t\t\t\n")
		fmt.Fprintf(tw, "broker ms (RequestMetrics)\tcount\tmean\tp50\tp99\tp99.9\tmax\t\n")
		for _, s := range r.BrokerStages {
			fmt.Fprintf(tw, "%s %s\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", s.Request, s.Stage, s.Count, s.Mean, s.P50, s.P99, s.P999, s.Max)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "consumed %d of %d produced%s; errors %d", r.ConsumedRecords, r.Records, consumedNote(r), r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(w, " (first: %s)", r.FirstError)
	}
	fmt.Fprintln(w)
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "broker peak RSS %.1f MiB (VmHWM %.1f MiB)\n", float64(r.PeakRSSBytes)/mib, float64(r.HWMBytes)/mib)
	}
	fmt.Fprintln(w, r.Summary())
}

// Summary is the one-line form of the result, for logs and result tables.
func (r *Result) Summary() string {
	s := fmt.Sprintf("%d records in %.2fs: %.1f rec/s, %.2f MB/s, produce p50/p99/p99.9 %.2f/%.2f/%.2f ms",
		r.Records, r.Elapsed.Seconds(), r.RecordsPerSec, r.MBPerSec,
		r.ProduceLatency.P50, r.ProduceLatency.P99, r.ProduceLatency.P999)
	if r.Consumers > 0 {
		s += fmt.Sprintf(", e2e p50/p99/p99.9 %.2f/%.2f/%.2f ms, consumed %d/%d",
			r.EndToEndLatency.P50, r.EndToEndLatency.P99, r.EndToEndLatency.P999, r.ConsumedRecords, r.Records)
	}
	if r.PeakRSSBytes > 0 {
		s += fmt.Sprintf(", broker peak RSS %.1f MiB", float64(r.PeakRSSBytes)/mib)
	}
	return s + fmt.Sprintf(", errors %d", r.Errors)
}

func rateString(rate int) string {
	if rate <= 0 {
		return "unthrottled"
	}
	return fmt.Sprintf("%d rec/s", rate)
}

func consumedNote(r *Result) string {
	if r.Consumers == 0 {
		return " (no consumers)"
	}
	if r.Records == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.2f%%)", 100*float64(r.ConsumedRecords)/float64(r.Records))
}
