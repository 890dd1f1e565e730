package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/keys"
)

func testKeys(t *testing.T) keys.Provider {
	t.Helper()
	kp, err := keys.OpenLocal(filepath.Join(t.TempDir(), "keyring"), keys.LocalOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// writeTrail writes n records with a checkpoint every 10 and small files, and closes the stream.
func writeTrail(t *testing.T, dir string, kp keys.Provider, n int) {
	t.Helper()
	w, err := Open(Options{Dir: dir, Keys: kp, CheckpointRecords: 10, MaxFileBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := w.Append(&Record{EventName: "CreateTopics", EventType: "KafkaApiCall", EventCategory: "Management",
			RequestID: fmt.Sprintf("req-%d", i), UserIdentity: &UserIdentity{Type: "KafkaPrincipal", Principal: "User:alice"},
			RequestParameters: &RequestParameters{KafkaAPI: "CreateTopics", Resources: []Resource{{"TOPIC", fmt.Sprintf("t%d", i)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, dir string, kp keys.Provider) *Report {
	t.Helper()
	rep, err := VerifyDir(dir, "audit", kp, false)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestTrailVerifiesAcrossFilesAndCheckpoints(t *testing.T) {
	dir, kp := t.TempDir(), testKeys(t)
	writeTrail(t, dir, kp, 95)
	files, _ := listFiles(dir, "audit")
	if len(files) < 3 {
		t.Fatalf("%d files; want the 4 KiB limit to roll several", len(files))
	}
	rep := verify(t, dir, kp)
	if !rep.OK() || !rep.CleanClose || rep.Signed < 9 || rep.Records < 95 || rep.FirstSeq != 1 {
		t.Fatalf("report %+v", rep)
	}
	// Without the key service the signatures cannot be checked, and the report says so.
	if rep := verify(t, dir, nil); rep.OK() || rep.Problems[0].Kind != "unverifiable" {
		t.Errorf("verified without keys: %+v", rep.Problems)
	}
	// Another keyring cannot vouch for the trail.
	if rep := verify(t, dir, testKeys(t)); rep.OK() {
		t.Error("a different master key verified the trail")
	}
}

// lines reads all of a stream's lines in order, and writes them back as one file.
func readAll(t *testing.T, dir string) [][]byte {
	t.Helper()
	files, _ := listFiles(dir, "audit")
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))...)
		_ = os.Remove(f.path)
	}
	return out
}

func writeAll(t *testing.T, dir string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "audit-00000000000000000001.jsonl"), append(bytes.Join(lines, []byte("\n")), '\n'), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	kp := testKeys(t)
	cases := []struct {
		name   string
		tamper func([][]byte) [][]byte
		kind   string
		seq    uint64
	}{
		{"deleted", func(l [][]byte) [][]byte { return append(l[:20:20], l[21:]...) }, "missing", 22},
		{"edited", func(l [][]byte) [][]byte {
			l[30] = bytes.Replace(l[30], []byte("User:alice"), []byte("User:mallory"), 1)
			return l
		}, "edited", 32},
		{"reordered", func(l [][]byte) [][]byte { l[40], l[41] = l[41], l[40]; return l }, "reordered", 41},
		{"truncated", func(l [][]byte) [][]byte { return l[:len(l)-5] }, "truncated", 0},
		{"forged chain", func(l [][]byte) [][]byte {
			// Edit record 5 and recompute every later prevHash: the chain is consistent again,
			// but the next checkpoint's signature gives it away.
			l[4] = bytes.Replace(l[4], []byte("req-4"), []byte("req-X"), 1)
			for i := 5; i < len(l); i++ {
				var r map[string]any
				_ = json.Unmarshal(l[i], &r)
				r["prevHash"] = lineHash(l[i-1])
				l[i], _ = json.Marshal(r)
			}
			return l
		}, "bad-signature", 11},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTrail(t, dir, kp, 60)
			writeAll(t, dir, c.tamper(readAll(t, dir)))
			rep := verify(t, dir, kp)
			if rep.OK() {
				t.Fatal("tampering not detected")
			}
			p := rep.Problems[0]
			if p.Kind != c.kind || (c.seq != 0 && p.Seq != c.seq) {
				t.Errorf("first problem %v; want %s at seq %d", p, c.kind, c.seq)
			}
		})
	}
}

func TestReopenContinuesTheChainAfterATornWrite(t *testing.T) {
	dir, kp := t.TempDir(), testKeys(t)
	w, err := Open(Options{Dir: dir, Keys: kp, CheckpointRecords: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := w.Append(&Record{EventName: "Authenticate", EventType: "Authentication"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	// A crash: no final checkpoint, and half a line at the end.
	files, _ := listFiles(dir, "audit")
	f, _ := os.OpenFile(files[0].path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString(`{"eventName":"Authen`)
	_ = f.Close()
	w.mu.Lock()
	w.closed = true // abandon the writer without its final checkpoint
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	_ = w.lock.Close() // the process is gone: so is its lock

	// A second writer is refused while one holds the stream.
	w3, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: w3.opts.Dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second writer of one stream: %v", err)
	}
	_ = w3.Close()

	w2, err := Open(Options{Dir: dir, Keys: kp})
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Append(&Record{EventName: "BrokerStart", EventType: "BrokerLifecycle"}); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, dir, kp)
	if !rep.OK() || rep.LastSeq != 8 {
		t.Fatalf("after recovery: %+v", rep)
	}
	var b []byte
	all, _ := listFiles(dir, "audit")
	for _, f := range all {
		fb, _ := os.ReadFile(f.path)
		b = append(b, fb...)
	}
	if !strings.Contains(string(b), `"eventName":"AuditStreamRecovered"`) || !strings.Contains(string(b), `"tornBytesRemoved":20`) {
		t.Errorf("no recovery record:\n%s", b)
	}
}

func TestTimedCheckpointsAndLiveVerify(t *testing.T) {
	dir, kp := t.TempDir(), testKeys(t)
	w, err := Open(Options{Dir: dir, Keys: kp, CheckpointInterval: 20 * time.Millisecond, SyncInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Append(&Record{EventName: "BrokerStart", EventType: "BrokerLifecycle"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rep, err := VerifyDir(dir, "audit", kp, true)
		if err == nil && rep.Signed >= 1 && rep.OK() && rep.UnsignedTail == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no timed checkpoint: %+v %v", rep, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
