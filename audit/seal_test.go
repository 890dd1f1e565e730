package audit

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestSealedTrail: with Seal the files hold no plaintext; the trail verifies, queries, ships
// (Source) and continues after a restart and after a torn write exactly as a plaintext one.
func TestSealedTrail(t *testing.T) {
	dir, kp := t.TempDir(), testKeys(t)
	w, err := Open(Options{Dir: dir, Keys: kp, Seal: true, CheckpointRecords: 10, MaxFileBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 30)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write: half a sealed line at the end of the last file.
	files, _ := listFiles(dir, "audit")
	last := files[len(files)-1].path
	f, _ := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("QUJD")
	_ = f.Close()
	w, err = Open(Options{Dir: dir, Keys: kp, Seal: true, CheckpointRecords: 10, MaxFileBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 5)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	entries, err := w.Source().Read(0, 1000)
	if err != nil || uint64(len(entries)) != w.Seq() || !bytes.Contains(entries[0].Data, []byte(`"eventName":"CreateTopics"`)) {
		t.Fatalf("the shippers' reader: %d entries of %d, %v", len(entries), w.Seq(), err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	files, _ = listFiles(dir, "audit")
	for _, f := range files {
		b, _ := os.ReadFile(f.path)
		if bytes.Contains(b, []byte("CreateTopics")) || bytes.Contains(b, []byte("topic-0001")) {
			t.Fatalf("%s holds plaintext", f.path)
		}
		if !bytes.HasPrefix(b, []byte(sealPrefix)) {
			t.Fatalf("%s has no key header", f.path)
		}
	}
	rep := verify(t, dir, kp)
	if !rep.OK() || rep.Signed == 0 {
		t.Fatalf("sealed trail: %+v", rep)
	}
	var out strings.Builder
	if n, err := Query(dir, "audit", kp, Filter{Event: "AuditStreamRecovered"}, 0, &out); err != nil || n != 1 {
		t.Fatalf("query: %d, %v", n, err)
	}
	if _, err := Query(dir, "audit", nil, Filter{}, 0, &out); err == nil || !strings.Contains(err.Error(), "no key provider") {
		t.Fatalf("query without keys: %v", err)
	}
	if _, err := VerifyDir(dir, "audit", testKeys(t), false); err == nil {
		t.Fatal("a sealed trail opened under another master key")
	}

	// A line moved from one file into another does not open there; verify names it.
	a, _ := os.ReadFile(files[0].path)
	b, _ := os.ReadFile(files[1].path)
	al := bytes.Split(bytes.TrimSuffix(a, []byte("\n")), []byte("\n"))
	bl := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	bl[1] = al[len(al)-1]
	if err := os.WriteFile(files[1].path, append(bytes.Join(bl, []byte("\n")), '\n'), 0o640); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, dir, kp); rep.OK() || firstKind(rep) != "edited" || !strings.Contains(rep.Problems[0].Detail, "does not open") {
		t.Fatalf("a moved line: %+v", rep.Problems)
	}
}
