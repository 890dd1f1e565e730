package audit

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/keys"
)

// TestStreamRecoversFromAWriteError: a stream stopped by a write error continues by itself once
// it can write again, without a restart: the chain goes on from the last record on disk, and an
// AuditStreamResumed record counts the records that never reached it.
func TestStreamRecoversFromAWriteError(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		dir, kp := t.TempDir(), testKeys(t)
		w, err := Open(Options{Dir: dir, Keys: kp, Seal: sealed, SyncInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, w, 5)
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		_ = w.f.Close() // the disk goes away under the writer
		w.mu.Unlock()
		appendN(t, w, 3) // buffered: accepted, never written
		if err := w.Sync(); err == nil || w.Err() == nil {
			t.Fatal("a write to a closed file did not stop the stream")
		}
		if err := w.Append(&Record{EventName: "CreateTopics"}); err == nil {
			t.Fatal("a stopped stream took a record")
		}
		deadline := time.Now().Add(10 * time.Second)
		for w.Err() != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if err := w.Err(); err != nil {
			t.Fatalf("sealed=%v: the stream did not recover: %v", sealed, err)
		}
		appendN(t, w, 2)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		rep := verify(t, dir, kp)
		if !rep.OK() || !rep.CleanClose {
			t.Fatalf("sealed=%v: after recovery: %+v", sealed, rep)
		}
		found := false
		for _, r := range readBack(t, dir, kp) {
			if r.EventName == "AuditStreamResumed" {
				found = r.AdditionalEventData["recordsLost"] == 3.0 && r.AdditionalEventData["recordsRefused"] == 1.0 && r.ErrorCode == "EVENTS_LOST"
			}
		}
		if !found {
			t.Fatalf("sealed=%v: no AuditStreamResumed record counting 3 lost records", sealed)
		}
	}
}

// readBack reads a trail's records, sealed or not.
func readBack(t *testing.T, dir string, kp keys.Provider) []Record {
	t.Helper()
	var out []Record
	err := EachLine(dir, "audit", kp, func(line []byte) error {
		r, err := decodeLine(line)
		if err == nil {
			out = append(out, *r)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecoveryAfterAFailedFsyncKeepsOnlyWhatWasFsynced: after a failed fsync the records it
// covered are counted lost and cut from the file, although the page cache still shows them
// (the kernel may have dropped them from the disk).
func TestRecoveryAfterAFailedFsyncKeepsOnlyWhatWasFsynced(t *testing.T) {
	dir, kp := t.TempDir(), testKeys(t)
	w, err := Open(Options{Dir: dir, Keys: kp, Seal: true, SyncInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 5)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	failures := 1 // the next fsync fails, later ones work (the disk is back)
	w.syncFile = func(f *os.File) error {
		if failures > 0 {
			failures--
			return errors.New("EIO")
		}
		return f.Sync()
	}
	w.mu.Unlock()
	appendN(t, w, 3)
	if err := w.Sync(); err == nil {
		t.Fatal("the failed fsync was not reported")
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.Err() != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := w.Err(); err != nil {
		t.Fatalf("no recovery: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, dir, kp); !rep.OK() {
		t.Fatalf("after recovery: %+v", rep.Problems)
	}
	var lost any
	for _, r := range readBack(t, dir, kp) {
		if r.EventName == "AuditStreamResumed" {
			lost = r.AdditionalEventData["recordsLost"]
		}
	}
	if lost != 3.0 {
		t.Fatalf("recordsLost %v, want the 3 records the failed fsync covered", lost)
	}
}
