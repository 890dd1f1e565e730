package audit

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// appendN appends n records of about 300 bytes.
func appendN(t *testing.T, w *Writer, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := w.Append(&Record{EventName: "CreateTopics", EventType: "KafkaApiCall", EventCategory: "Management",
			RequestParameters: &RequestParameters{Resources: []Resource{{"TOPIC", fmt.Sprintf("topic-%04d-with-a-longer-name", i)}}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDiskBudgetRefusesThenFrees: over its budget with a sink behind, the stream keeps every
// file and reports Full; once the sink has caught up the next roll removes the oldest files,
// records it, and Full clears. The trail still verifies.
func TestDiskBudgetRefusesThenFrees(t *testing.T) {
	dir, kp := t.TempDir(), testKeys(t)
	w, err := Open(Options{Dir: dir, Keys: kp, CheckpointRecords: 10, MaxFileBytes: 4 << 10, MaxBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var delivered atomic.Uint64 // a sink that is down: nothing delivered
	w.SetKeep(delivered.Load)
	appendN(t, w, 150) // about 45 KiB
	if !w.Full() {
		t.Fatal("over the budget with a sink behind, the stream is not Full")
	}
	if files, _ := listFiles(dir, "audit"); files[0].firstSeq != 1 {
		t.Fatalf("a file the sink needs was removed: the trail starts at %d", files[0].firstSeq)
	}
	delivered.Store(w.Seq()) // the sink caught up
	appendN(t, w, 20)        // the next roll applies the budget
	if w.Full() {
		t.Fatal("still Full after the sink caught up")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := listFiles(dir, "audit")
	var total int64
	for _, f := range files {
		total += fileSize(t, f.path)
	}
	if files[0].firstSeq == 1 || total > 16<<10+4<<10 {
		t.Fatalf("after the sink caught up: trail starts at %d, %d bytes", files[0].firstSeq, total)
	}
	rep := verify(t, dir, kp)
	if !rep.OK() {
		t.Fatalf("verify after size retention: %+v", rep.Problems)
	}
}

// TestDiskBudgetDropsWhenAllowed: with DropUndelivered the oldest files go even though a sink
// had not taken them; the removal is recorded with the count of records the sink lost, the
// sink's reader resumes after them, and the trail verifies.
func TestDiskBudgetDropsWhenAllowed(t *testing.T) {
	dir, kp := t.TempDir(), testKeys(t)
	w, err := Open(Options{Dir: dir, Keys: kp, CheckpointRecords: 10, MaxFileBytes: 4 << 10, MaxBytes: 16 << 10, DropUndelivered: true})
	if err != nil {
		t.Fatal(err)
	}
	w.SetKeep(func() uint64 { return 0 })
	appendN(t, w, 150)
	if w.Full() {
		t.Fatal("Full although drops are allowed")
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	entries, err := w.Source().Read(0, 10)
	if err != nil || len(entries) == 0 || entries[0].Pos == 1 {
		t.Fatalf("the sink's reader: %d entries, %v", len(entries), err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, dir, kp)
	if !rep.OK() {
		t.Fatalf("verify after drops: %+v", rep.Problems)
	}
	// Every drop is recorded (records of earlier drops may themselves have been dropped since);
	// the last one accounts for everything up to where the sink's reader resumed.
	var lost, through float64
	for _, r := range records(t, dir) {
		if r.EventName == "AuditRetention" && r.ErrorCode == "EVENTS_LOST" {
			lost = r.AdditionalEventData["undeliveredDroppedTotal"].(float64)
			through = r.AdditionalEventData["removedThrough"].(float64)
		}
	}
	if lost < through || uint64(through) < entries[0].Pos-1 {
		t.Fatalf("the last drop record: %v lost through seq %v; the sink resumed at %d", lost, through, entries[0].Pos)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
