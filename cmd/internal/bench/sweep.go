package bench

// The latency–throughput curve (`bulwark bench sweep`): one run per offered rate, from light
// load up to saturation, each on a fresh topic, written as a CSV and an SVG chart so a user sees
// where their broker's knee is.

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// SweepOptions configures a sweep: the base run options and the offered rates.
type SweepOptions struct {
	Run   Options
	Rates []int // records/s, ascending; 0 (unthrottled) only last
	// StopAtSaturation ends the sweep after the first rate whose achieved throughput falls
	// below SaturationRatio of the offered rate (the broker has reached its limit).
	StopAtSaturation bool
	SaturationRatio  float64
}

// ParseRates reads a comma-separated list of records/s.
func ParseRates(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: rate %q is not a non-negative integer", ErrInvalidOptions, f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no rates", ErrInvalidOptions)
	}
	for i := 1; i < len(out); i++ {
		if out[i-1] == 0 || (out[i] != 0 && out[i] <= out[i-1]) {
			return nil, fmt.Errorf("%w: rates must ascend, with 0 (unthrottled) only last", ErrInvalidOptions)
		}
	}
	return out, nil
}

// Sweep runs the benchmark at each rate on its own topic (<topic>-<rate>, "max" for 0) and
// returns the results in order. A run that fails ends the sweep with the results so far.
func Sweep(ctx context.Context, so SweepOptions) ([]*Result, error) {
	if len(so.Rates) == 0 {
		return nil, fmt.Errorf("%w: no rates", ErrInvalidOptions)
	}
	if so.SaturationRatio <= 0 {
		so.SaturationRatio = 0.9
	}
	var out []*Result
	for _, rate := range so.Rates {
		opts := so.Run
		opts.Rate = rate
		suffix := strconv.Itoa(rate)
		if rate == 0 {
			suffix = "max"
		}
		opts.Topic = so.Run.Topic + "-" + suffix
		if opts.Out != nil && !opts.JSON {
			fmt.Fprintf(opts.Out, "== sweep: %s records/s on topic %s\n", rateString(rate), opts.Topic)
		}
		res, err := Run(ctx, opts)
		if res != nil {
			out = append(out, res)
		}
		if err != nil {
			return out, fmt.Errorf("bench: sweep at %s records/s: %w", rateString(rate), err)
		}
		if so.StopAtSaturation && rate > 0 && res.RecordsPerSec < so.SaturationRatio*float64(rate) {
			break
		}
	}
	return out, nil
}

// WriteCSV writes one line per run: offered and achieved load, produce and end-to-end
// percentiles (ms), consumed share, peak RSS and errors.
func WriteCSV(w io.Writer, results []*Result) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"offered_records_per_sec", "achieved_records_per_sec", "achieved_mb_per_sec",
		"produce_p50_ms", "produce_p99_ms", "produce_p99_9_ms", "e2e_p50_ms", "e2e_p99_ms", "e2e_p99_9_ms",
		"consumed_records", "records", "peak_rss_bytes", "errors"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	for _, r := range results {
		offered := strconv.Itoa(r.Rate)
		if r.Rate == 0 {
			offered = "unthrottled"
		}
		_ = cw.Write([]string{offered, f(r.RecordsPerSec), f(r.MBPerSec),
			f(r.ProduceLatency.P50), f(r.ProduceLatency.P99), f(r.ProduceLatency.P999),
			f(r.EndToEndLatency.P50), f(r.EndToEndLatency.P99), f(r.EndToEndLatency.P999),
			strconv.FormatInt(r.ConsumedRecords, 10), strconv.FormatInt(r.Records, 10),
			strconv.FormatInt(r.PeakRSSBytes, 10), strconv.FormatInt(r.Errors, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// series is one line of the chart.
type series struct {
	name, color, dash string
	value             func(*Result) float64
}

var latencySeries = []series{
	{"produce p50", "#1f77b4", "", func(r *Result) float64 { return r.ProduceLatency.P50 }},
	{"produce p99", "#1f77b4", "6,3", func(r *Result) float64 { return r.ProduceLatency.P99 }},
	{"produce p99.9", "#1f77b4", "2,3", func(r *Result) float64 { return r.ProduceLatency.P999 }},
	{"end-to-end p50", "#d62728", "", func(r *Result) float64 { return r.EndToEndLatency.P50 }},
	{"end-to-end p99", "#d62728", "6,3", func(r *Result) float64 { return r.EndToEndLatency.P99 }},
	{"end-to-end p99.9", "#d62728", "2,3", func(r *Result) float64 { return r.EndToEndLatency.P999 }},
}

// WriteSVG draws the curve: latency percentiles (log scale, ms) against achieved throughput,
// one point per run, with the offered rate as each point's label; an unthrottled run is the
// rightmost point. It needs at least one result.
func WriteSVG(w io.Writer, results []*Result, title string) error {
	if len(results) == 0 {
		return errors.New("bench: no results to chart")
	}
	const width, height, left, right, top, bottom = 900.0, 520.0, 80.0, 210.0, 50.0, 60.0
	plotW, plotH := width-left-right, height-top-bottom
	maxX := 0.0
	minY, maxY := math.Inf(1), math.Inf(-1)
	for _, r := range results {
		maxX = max(maxX, r.RecordsPerSec)
		for _, s := range latencySeries {
			if v := s.value(r); v > 0 {
				minY, maxY = min(minY, v), max(maxY, v)
			}
		}
	}
	if maxX <= 0 {
		maxX = 1
	}
	if math.IsInf(minY, 1) {
		minY, maxY = 0.1, 1
	}
	lo, hi := math.Floor(math.Log10(max(minY, 0.01))), math.Ceil(math.Log10(maxY))
	if hi <= lo {
		hi = lo + 1
	}
	xOf := func(v float64) float64 { return left + plotW*v/(maxX*1.05) }
	yOf := func(ms float64) float64 {
		return top + plotH*(1-(math.Log10(max(ms, math.Pow(10, lo)))-lo)/(hi-lo))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="25" font-size="15">%s</text>`+"\n", left, xmlEscape(title))
	// Axes, decades and ticks.
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, top+plotH, left+plotW, top+plotH)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, top, left, top+plotH)
	for d := lo; d <= hi; d++ {
		y := yOf(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+plotW, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, formatMs(math.Pow(10, d)))
	}
	for i := 0; i <= 5; i++ {
		v := maxX * 1.05 * float64(i) / 5
		x := xOf(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x, top+plotH, x, top+plotH+5)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, top+plotH+18, formatRate(v))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">achieved throughput (records/s); points labelled with the offered rate</text>`+"\n", left+plotW/2, height-15)
	fmt.Fprintf(&b, `<text x="18" y="%.1f" transform="rotate(-90 18 %.1f)" text-anchor="middle">latency (ms, log scale)</text>`+"\n", top+plotH/2, top+plotH/2)
	// Lines and points.
	for i, s := range latencySeries {
		var pts []string
		for _, r := range results {
			if v := s.value(r); v > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(r.RecordsPerSec), yOf(v)))
			}
		}
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		ly := top + 10 + float64(i)*20
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", width-right+15, ly, width-right+45, ly, s.color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", width-right+52, ly+4, s.name)
	}
	for _, r := range results {
		x := xOf(r.RecordsPerSec)
		label := "unthrottled"
		if r.Rate > 0 {
			label = formatRate(float64(r.Rate)) + "/s"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#d62728"/>`+"\n", x, yOf(r.EndToEndLatency.P99))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle" fill="#555">%s</text>`+"\n", x, top+plotH-6, xmlEscape(label))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func formatMs(v float64) string {
	if v < 1 {
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func formatRate(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
