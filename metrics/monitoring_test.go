package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/metrics/node"
)

// servedNames are every metric name the endpoints serve: the broker collector at the highest
// level (with a key call recorded, so the key families exist), and the host collector.
func servedNames(t *testing.T) map[string]bool {
	t.Helper()
	src := newFakeSource(2, 2, 1)
	keys := NewKeyMetrics()
	keys.OnKeyCall(hook.KeyCall{Provider: "local", Op: "Decrypt", Duration: time.Millisecond})
	reg := NewRegistry(src, New(src, Options{Level: func() Level { return PerTopicPerPartition },
		OPA: func() OPAStats { return OPAStats{} }, Hooks: func() []hook.Stats { return []hook.Stats{{Name: "audit"}} },
		AuditRecords: func() uint64 { return 7 },
		Shipping:     func() []ShippingStats { return []ShippingStats{{Stream: "audit", Sink: "cloudwatch"}} }}), keys)
	reg.MustRegister(node.New([]string{t.TempDir()}, nil))
	src.counters.Decided("acl", false)
	src.counters.Listener("PLAINTEXT").Authenticated("PLAIN", false, false)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\b(kafka|bulwark|node)_[A-Za-z0-9_]+`)

// checkNames fails for every metric name in exprs that no endpoint serves: a dashboard panel or
// an alert on a misspelt name would stay silent for ever.
func checkNames(t *testing.T, what string, exprs []string, served map[string]bool) {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no expressions found", what)
	}
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			if !served[n] {
				t.Errorf("%s: %q uses %s, which no endpoint serves", what, e, n)
			}
		}
	}
}

func TestDashboardQueriesServedMetrics(t *testing.T) {
	b, err := os.ReadFile("../monitoring/grafana/bulwark-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	checkNames(t, "dashboard", exprs, servedNames(t))
}

func TestAlertRulesQueryServedMetrics(t *testing.T) {
	b, err := os.ReadFile("../monitoring/prometheus/bulwark-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	// The expressions are the "expr:" values, single-line or "|" blocks.
	var exprs []string
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "expr:") {
			continue
		}
		e := strings.TrimSpace(strings.TrimPrefix(l, "expr:"))
		if e == "|" {
			e = ""
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "          ") {
				i++
				e += lines[i] + "\n"
			}
		}
		exprs = append(exprs, e)
	}
	checkNames(t, "rules", exprs, servedNames(t))
}
