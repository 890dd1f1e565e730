package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// BrokerStage is one row of the broker's own request-time breakdown, read from its metrics
// endpoint after the run: Kafka's RequestMetrics for one request type and stage, in
// milliseconds, over the broker's recent window (about the last two minutes).
type BrokerStage struct {
	Request string  `json:"request"`
	Stage   string  `json:"stage"`
	Count   float64 `json:"count"`
	Mean    float64 `json:"mean_ms"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	P999    float64 `json:"p999_ms"`
	Max     float64 `json:"max_ms"`
}

// stageOrder is Kafka's order of the stages, the total first.
var stageOrder = []string{"TotalTimeMs", "RequestQueueTimeMs", "LocalTimeMs", "RemoteTimeMs", "ThrottleTimeMs",
	"ResponseQueueTimeMs", "ResponseSendTimeMs"}

// maxMetricsBody bounds what a scrape may return (a broker at its highest metrics level with
// many partitions serves a few MiB).
const maxMetricsBody = 64 << 20

// scrapeBrokerStages reads the Produce and FetchConsumer request-time breakdown from a
// Prometheus endpoint (bulwark.metrics.listen). The broker must serve PER_BROKER or higher for
// the stages beyond the total.
func scrapeBrokerStages(ctx context.Context, url string) ([]BrokerStage, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: metrics url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, maxMetricsBody))
	if err != nil {
		return nil, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	rows := map[[2]string]*BrokerStage{}
	for attr, set := range map[string]func(*BrokerStage, float64){
		"Count":           func(r *BrokerStage, v float64) { r.Count = v },
		"Mean":            func(r *BrokerStage, v float64) { r.Mean = v },
		"50thPercentile":  func(r *BrokerStage, v float64) { r.P50 = v },
		"99thPercentile":  func(r *BrokerStage, v float64) { r.P99 = v },
		"999thPercentile": func(r *BrokerStage, v float64) { r.P999 = v },
		"Max":             func(r *BrokerStage, v float64) { r.Max = v },
	} {
		f := fams["kafka_network_RequestMetrics_"+attr]
		if f == nil {
			continue
		}
		for _, m := range f.GetMetric() {
			request, stage := label(m, "request"), label(m, "name")
			if (request != "Produce" && request != "FetchConsumer") || !strings.HasSuffix(stage, "TimeMs") {
				continue
			}
			k := [2]string{request, stage}
			if rows[k] == nil {
				rows[k] = &BrokerStage{Request: request, Stage: stage}
			}
			set(rows[k], metricValue(m))
		}
	}
	out := make([]BrokerStage, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	rank := func(s string) int {
		for i, n := range stageOrder {
			if n == s {
				return i
			}
		}
		return len(stageOrder)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Request != out[j].Request {
			return out[i].Request > out[j].Request // Produce first
		}
		return rank(out[i].Stage) < rank(out[j].Stage)
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("bench: %s serves no Produce or FetchConsumer RequestMetrics", url)
	}
	return out, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}
