package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestScrapeBrokerStages(t *testing.T) {
	var body strings.Builder
	body.WriteString("# TYPE kafka_network_RequestMetrics_Mean untyped\n")
	for i, st := range stageOrder {
		fmt.Fprintf(&body, "kafka_network_RequestMetrics_Mean{name=%q,request=\"Produce\",cluster_id=\"c\"} %d\n", st, i+1)
		fmt.Fprintf(&body, "kafka_network_RequestMetrics_Mean{name=%q,request=\"Metadata\"} 99\n", st)
	}
	body.WriteString("# TYPE kafka_network_RequestMetrics_99thPercentile untyped\n")
	body.WriteString(`kafka_network_RequestMetrics_99thPercentile{name="TotalTimeMs",request="FetchConsumer"} 500.5` + "\n")
	body.WriteString("# TYPE kafka_network_RequestMetrics_Count untyped\n")
	body.WriteString(`kafka_network_RequestMetrics_Count{name="RequestsPerSec",request="Produce",version="9"} 7` + "\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body.String()) }))
	defer srv.Close()

	rows, err := scrapeBrokerStages(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(stageOrder)+1 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	for i, st := range stageOrder {
		if rows[i].Request != "Produce" || rows[i].Stage != st || rows[i].Mean != float64(i+1) {
			t.Errorf("row %d = %+v, want Produce %s mean %d", i, rows[i], st, i+1)
		}
	}
	if last := rows[len(rows)-1]; last.Request != "FetchConsumer" || last.P99 != 500.5 {
		t.Errorf("last row %+v", last)
	}

	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "up 1") }))
	defer empty.Close()
	if _, err := scrapeBrokerStages(context.Background(), empty.URL); err == nil {
		t.Error("an endpoint without RequestMetrics gave no error")
	}
}
