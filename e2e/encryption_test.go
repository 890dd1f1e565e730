package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEncryptionAtRest: with the embedded defaults (encryption on, a generated local keyring),
// records kcat produced uncompressed appear in no file under log.dirs — after a SIGKILL and a
// restart too — and still read back; `bulwark keys inspect` accounts for the files; starting with
// a different master key fails with a clear message.
func TestEncryptionAtRest(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b := startBroker(t, nil)
	createTopic(t, b.Addr(), "canary", 1, map[string]*string{"segment.bytes": strPtr("131072")})
	var in strings.Builder
	want := make([]string, 500)
	for i := range want {
		fmt.Fprintf(&in, "k%04d:E2E-PLAINTEXT-CANARY-%05d %s\n", i, i, strings.Repeat("q", 300))
		want[i] = fmt.Sprintf("%d k%04d E2E-PLAINTEXT-CANARY-%05d %s", i, i, i, strings.Repeat("q", 300))
	}
	prod := runProgram(t, 60*time.Second, in.String(), kcat, "-P", "-b", b.Addr(), "-t", "canary", "-p", "0", "-K", ":",
		"-z", "none", "-X", "acks=all", "-X", "batch.num.messages=100")
	if prod.code != 0 {
		t.Fatalf("kcat -P: exit %d\n%s", prod.code, prod.stderr)
	}
	b.kill(t)
	noPlaintext(t, b.dataDir, "E2E-PLAINTEXT-CANARY")
	b.restart(t)
	expectKcatConsumes(t, kcat, b.Addr(), "canary", want)
	b.stop(t)
	noPlaintext(t, b.dataDir, "E2E-PLAINTEXT-CANARY")

	inspect := runProgram(t, 30*time.Second, "", bulwarkBin, "keys", "inspect", "--config", b.props)
	if inspect.code != 0 || !strings.Contains(inspect.stdout, "version 1 fingerprint") || !strings.Contains(inspect.stdout, "files under local:1:") {
		t.Fatalf("keys inspect: exit %d\n%s%s", inspect.code, inspect.stdout, inspect.stderr)
	}

	// A lost keyring: refused with a message naming the problem, not a new key.
	keyring := filepath.Join(filepath.Dir(b.dataDir), "bulwark.keyring")
	saved, err := os.ReadFile(keyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyring); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bulwarkBin, "serve", "--config", b.props)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is missing, but") || !strings.Contains(string(out), "holds encrypted data") {
		t.Fatalf("start without the keyring: %v\n%s", err, out)
	}
	if _, err := os.Stat(keyring); err == nil {
		t.Fatal("a new keyring was created over encrypted data")
	}
	if err := os.WriteFile(keyring, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	expectKcatConsumes(t, kcat, b.Addr(), "canary", want)
}

func strPtr(s string) *string { return &s }

func noPlaintext(t *testing.T, dir, needle string) {
	t.Helper()
	files := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		files++
		if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(needle)) {
			t.Errorf("%s holds the plaintext %q", p, needle)
		}
		return nil
	})
	if files < 5 {
		t.Fatalf("only %d files under %s", files, dir)
	}
}
