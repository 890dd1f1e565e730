package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-kafka/bulwark/broker/keys"
)

// FuzzVerify feeds arbitrary bytes to the verifier as a trail file. Invariants: no panic; the
// report counts at most one record per line; at most maxProblems problems are kept; bytes that
// are not the writer's output never verify clean with a final signed checkpoint, since no one
// without the master key can produce a signature.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	kp := fuzzKeys(f)
	w, err := Open(Options{Dir: dir, Keys: kp, CheckpointRecords: 3})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		_ = w.Append(&Record{EventName: "CreateTopics", EventType: "KafkaApiCall", RequestParameters: &RequestParameters{Resources: []Resource{{"TOPIC", "t"}}}})
	}
	_ = w.Close()
	files, _ := listFiles(dir, "audit")
	valid, _ := os.ReadFile(files[0].path)
	f.Add(valid)
	f.Add([]byte(`{"seq":1,"prevHash":"00"}` + "\n" + `{"seq":3}` + "\n"))
	f.Add([]byte("{\n}\n\x00\xff"))
	var ocsf []byte // the same trail as an OCSF sink receives it
	for _, l := range bytes.Split(bytes.TrimSuffix(valid, []byte("\n")), []byte("\n")) {
		o, _ := ToOCSF(l)
		ocsf = append(append(ocsf, o...), '\n')
	}
	f.Add(ocsf)
	f.Add([]byte(`{"category_uid":6,"raw_data":"{\"seq\":1}"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v := NewVerifier("audit", kp)
		v.DropRedelivered = len(data)%2 == 0 // as for a sink's copy, half the time
		if err := v.Read("fuzz", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		rep := v.Finish(false)
		if lines := bytes.Count(data, []byte("\n")) + 1; rep.Records > uint64(lines) {
			t.Fatalf("%d records from %d lines", rep.Records, lines)
		}
		if len(rep.Problems) > maxProblems {
			t.Fatalf("%d problems kept", len(rep.Problems))
		}
		if rep.OK() && rep.Signed > 0 {
			// Only the writer's own lines (or a prefix ending at one of its checkpoints) carry
			// a signature that verifies, as written or as the OCSF records derived from them.
			var plain []byte
			seen := map[string]bool{}
			for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
				if inner, isOCSF, err := fromOCSF(l); isOCSF && err == nil {
					l = inner
				}
				if v.DropRedelivered && seen[string(l)] {
					continue // a redelivered copy, dropped by the verifier
				}
				seen[string(l)] = true
				plain = append(append(plain, l...), '\n')
			}
			if !bytes.Contains(valid, bytes.TrimSpace(plain)) {
				t.Fatalf("forged trail verified: %q", data)
			}
		}
	})
}

func fuzzKeys(f *testing.F) keys.Provider {
	f.Helper()
	kp, err := keys.OpenLocal(filepath.Join(f.TempDir(), "keyring"), keys.LocalOptions{Create: true})
	if err != nil {
		f.Fatal(err)
	}
	return kp
}
