package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseRates(t *testing.T) {
	got, err := ParseRates(" 1000, 5000,0")
	if err != nil || len(got) != 3 || got[0] != 1000 || got[1] != 5000 || got[2] != 0 {
		t.Fatalf("ParseRates: %v %v", got, err)
	}
	for _, bad := range []string{"", "5000,1000", "0,1000", "-1", "x"} {
		if _, err := ParseRates(bad); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("ParseRates(%q): %v, want ErrInvalidOptions", bad, err)
		}
	}
}

// TestSweepAgainstKfake runs a two-rate sweep plus an unthrottled run against a fake broker and
// checks the CSV (one line per run, the offered rates in order) and that the SVG is well-formed
// XML with one line per latency series.
func TestSweepAgainstKfake(t *testing.T) {
	opts := smokeOptions(newCluster(t))
	opts.JSON = true // no progress lines
	results, err := Sweep(context.Background(), SweepOptions{Run: opts, Rates: []int{500, 1000, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || results[0].Topic != opts.Topic+"-500" || results[2].Topic != opts.Topic+"-max" {
		t.Fatalf("results: %d, topics %v", len(results), func() []string {
			var ts []string
			for _, r := range results {
				ts = append(ts, r.Topic)
			}
			return ts
		}())
	}
	var c bytes.Buffer
	if err := WriteCSV(&c, results); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil || len(rows) != 4 || rows[1][0] != "500" || rows[2][0] != "1000" || rows[3][0] != "unthrottled" {
		t.Fatalf("CSV: %v %v", rows, err)
	}
	var s bytes.Buffer
	if err := WriteSVG(&s, results, "smoke <test>"); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(s.String()))
	lines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, s.String())
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != len(latencySeries) {
		t.Errorf("SVG has %d polylines, want %d", lines, len(latencySeries))
	}
	if err := WriteSVG(io.Discard, nil, "empty"); err == nil {
		t.Error("an empty sweep was charted")
	}
}
