package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// rewrite applies fn to each record of the one-file trail in dir (its lines parsed), then
// recomputes every prevHash, as an attacker without the key would.
func rewriteChain(t *testing.T, dir string, fn func(i int, r map[string]any) bool) {
	t.Helper()
	lines := readAll(t, dir)
	var out [][]byte
	prev := zeroHash
	for i, l := range lines {
		var r map[string]any
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		if !fn(i, r) {
			continue
		}
		r["prevHash"] = prev
		b, _ := json.Marshal(r)
		out = append(out, b)
		prev = lineHash(b)
	}
	writeAll(t, dir, out)
}

func firstKind(rep *Report) string {
	if len(rep.Problems) == 0 {
		return ""
	}
	return rep.Problems[0].Kind
}

func TestVerifyRefusesForgeries(t *testing.T) {
	kp := testKeys(t)
	t.Run("signatures stripped", func(t *testing.T) {
		dir := t.TempDir()
		writeTrail(t, dir, kp, 40)
		rewriteChain(t, dir, func(i int, r map[string]any) bool {
			if i == 4 {
				r["requestID"] = "forged"
			}
			if ck, ok := r["checkpoint"].(map[string]any); ok {
				delete(ck, "signature")
				ck["unsigned"] = true
			}
			return true
		})
		if rep := verify(t, dir, kp); rep.OK() || firstKind(rep) != "unsigned" {
			t.Fatalf("stripped signatures verified: %+v", rep.Problems)
		}
	})
	t.Run("tail cut at a checkpoint made final", func(t *testing.T) {
		dir := t.TempDir()
		writeTrail(t, dir, kp, 40)
		lines := readAll(t, dir)
		cut := 22 // the third checkpoint (every 11th line)
		var r map[string]any
		_ = json.Unmarshal(lines[cut-1], &r)
		if r["eventName"] != "AuditCheckpoint" {
			t.Fatalf("line %d is %v", cut, r["eventName"])
		}
		r["checkpoint"].(map[string]any)["final"] = true
		lines[cut-1], _ = json.Marshal(r)
		writeAll(t, dir, lines[:cut])
		if rep := verify(t, dir, kp); rep.OK() || firstKind(rep) != "bad-signature" {
			t.Fatalf("a forged final checkpoint verified: %+v", rep)
		}
	})
	t.Run("start removed", func(t *testing.T) {
		dir := t.TempDir()
		writeTrail(t, dir, kp, 95)
		files, _ := listFiles(dir, "audit")
		_ = os.Remove(files[0].path)
		if rep := verify(t, dir, kp); rep.OK() || !hasKind(rep, "missing") {
			t.Fatalf("a removed first file verified: %+v", rep)
		}
	})
	t.Run("first lines of a file removed", func(t *testing.T) {
		dir := t.TempDir()
		writeTrail(t, dir, kp, 30)
		lines := readAll(t, dir)
		writeAll(t, dir, lines[3:])
		if rep := verify(t, dir, kp); rep.OK() {
			t.Fatalf("a trail without its first records verified: %+v", rep)
		}
	})
	t.Run("another chain spliced in", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		writeTrail(t, a, kp, 25)
		writeTrail(t, b, kp, 25)
		la, lb := readAll(t, a), readAll(t, b)
		// b's records from its second checkpoint on, after a's first two checkpoints: the seqs
		// and hashes line up only if the attacker rewrites them, which the signatures catch; a
		// plain splice of b's later part is caught by the chain id or the hashes.
		writeAll(t, a, append(la[:22:22], lb[22:]...))
		if rep := verify(t, a, kp); rep.OK() {
			t.Fatalf("a splice of another trail verified: %+v", rep)
		}
	})
}

func hasKind(rep *Report, kind string) bool {
	for _, p := range rep.Problems {
		if p.Kind == kind {
			return true
		}
	}
	return false
}

// TestRetentionIsAccountedFor: files removed by retention leave a record that lets the trail
// verify from its new start; the same removal by hand does not.
func TestRetentionIsAccountedFor(t *testing.T) {
	dir, kp := t.TempDir(), testKeys(t)
	now := time.Now()
	w, err := Open(Options{Dir: dir, Keys: kp, CheckpointRecords: 10, MaxFileBytes: 4 << 10, Retention: time.Hour,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		if err := w.Append(&Record{EventName: "CreateTopics", EventType: "KafkaApiCall"}); err != nil {
			t.Fatal(err)
		}
		if i == 30 {
			// The files so far are old now.
			files, _ := listFiles(dir, "audit")
			for _, f := range files {
				_ = os.Chtimes(f.path, now.Add(-2*time.Hour), now.Add(-2*time.Hour))
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, dir, kp)
	if !rep.OK() || rep.FirstSeq == 1 {
		t.Fatalf("after retention: %+v", rep)
	}
	b, _ := os.ReadFile(filepath.Join(dir, mustLastFile(t, dir)))
	if !bytes.Contains(b, []byte("AuditRetention")) && !containsInAny(t, dir, "AuditRetention") {
		t.Error("no AuditRetention record")
	}
}

func mustLastFile(t *testing.T, dir string) string {
	files, _ := listFiles(dir, "audit")
	return filepath.Base(files[len(files)-1].path)
}

func containsInAny(t *testing.T, dir, s string) bool {
	files, _ := listFiles(dir, "audit")
	for _, f := range files {
		b, _ := os.ReadFile(f.path)
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// TestLiveVerifyIgnoresALineBeingWritten: a running broker's last file may end in half a line.
func TestLiveVerifyIgnoresALineBeingWritten(t *testing.T) {
	dir, kp := t.TempDir(), testKeys(t)
	writeTrail(t, dir, kp, 20)
	files, _ := listFiles(dir, "audit")
	last := files[len(files)-1].path
	f, _ := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString(`{"eventName":"Authenti`)
	_ = f.Close()
	rep, err := VerifyDir(dir, "audit", kp, true)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("live verify of a trail with a line in progress: %+v %v", rep, err)
	}
	if rep := verify(t, dir, kp); rep.OK() || !hasKind(rep, "truncated") {
		t.Fatalf("a torn line verified offline: %+v", rep)
	}
}

// TestOversizedRecordsAreShortenedNotDropped: a record naming huge resources is written, cut to
// fit.
func TestOversizedRecordsAreShortenedNotDropped(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{EventName: "CreateAcls", EventType: "KafkaApiCall", RequestParameters: &RequestParameters{}}
	for i := 0; i < 64; i++ {
		r.RequestParameters.Resources = append(r.RequestParameters.Resources, Resource{"GROUP", string(bytes.Repeat([]byte{'g'}, 20_000))})
	}
	if err := w.Append(r); err != nil {
		t.Fatalf("an oversized record was refused: %v", err)
	}
	_ = w.Close()
	for _, l := range readAll(t, dir) {
		if len(l) > maxRecordBytes {
			t.Errorf("a line of %d bytes", len(l))
		}
	}
}
