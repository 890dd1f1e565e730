package logship

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/logship/firehosefake"
)

// TestFirehoseRetriesExactlyTheFailedRecords: with every 7th record of each batch refused
// (FailedPutCount), 1,200 records in 500-record batches all arrive exactly once, and an outage
// in the middle delays them without loss.
func TestFirehoseRetriesExactlyTheFailedRecords(t *testing.T) {
	fake, err := firehosefake.Start("bulwark-audit")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	fake.FailEvery(7)
	src := newMemSource()
	src.add(1_200, 200)
	sh, err := NewShipper(src, NewFirehose(testAWS(), fake.URL(), "bulwark-audit"),
		Options{Stream: "audit", CursorDir: t.TempDir(), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close(context.Background())
	waitDelivered(t, "1,200 records", 30*time.Second, func() bool { return sh.Position() == 1_200 })
	fake.Stop()
	src.add(300, 200)
	time.Sleep(50 * time.Millisecond)
	if err := fake.Restart(); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, "the records sent during the outage", 30*time.Second, func() bool { return sh.Position() == 1_500 })

	recs := fake.Records("bulwark-audit")
	if len(recs) != 1_500 {
		t.Fatalf("%d records arrived, want 1,500 (each exactly once)", len(recs))
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if !strings.HasSuffix(string(r), "\n") {
			t.Fatalf("record without its newline: %.30q", r)
		}
		key := string(r[:len("record 000000")])
		if seen[key] {
			t.Fatalf("%s arrived twice", key)
		}
		seen[key] = true
	}
	for i := 1; i <= 1_500; i++ {
		if !seen[fmt.Sprintf("record %06d", i)] {
			t.Fatalf("record %d never arrived", i)
		}
	}
	if fake.Calls() < 6 {
		t.Errorf("%d PutRecordBatch calls: the refused records were not retried on their own", fake.Calls())
	}
}
