package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRunPartitionsAgainstKfake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var progress bytes.Buffer
	brokers := newCluster(t)
	res, err := RunPartitions(ctx, PartitionsOptions{Brokers: brokers, Topics: 12, PartitionsPerTopic: 5,
		Prefix: "scale", MetadataRuns: 3, BrokerPID: os.Getpid(), Out: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if res.Partitions != 60 || res.MetadataPartitions != 60 || len(res.Metadata) != 3 || res.Create <= 0 || res.BrokerHWM <= 0 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(progress.String(), "10 topics (50 partitions) created") {
		t.Errorf("progress %q", progress.String())
	}
	var report bytes.Buffer
	if err := res.Report(&report); err != nil || !strings.Contains(report.String(), "created 12 topics, 60 partitions") ||
		!strings.Contains(report.String(), "metadata for all topics (60 partitions)") {
		t.Fatalf("report %q, %v", report.String(), err)
	}
	// A second run with the same names fails at the first topic and says which.
	if _, err := RunPartitions(ctx, PartitionsOptions{Brokers: brokers, Topics: 1, PartitionsPerTopic: 1, Prefix: "scale"}); err == nil ||
		!strings.Contains(err.Error(), "scale-0") {
		t.Fatalf("re-creating scale-0: %v", err)
	}
}

func TestRunPartitionsRefusesNonsense(t *testing.T) {
	for _, o := range []PartitionsOptions{{Topics: 0, PartitionsPerTopic: 1}, {Topics: 1, PartitionsPerTopic: 0}, {Topics: 1 << 20, PartitionsPerTopic: 1 << 20}} {
		if _, err := RunPartitions(context.Background(), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
