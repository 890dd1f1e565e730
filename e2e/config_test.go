package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigCheck runs `bulwark config check` on good and bad server.properties files: a good
// file exits 0; a bad one exits 1 and names every bad key; `bulwark serve` refuses a bad file the
// same way before listening.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.properties", strings.Join([]string{
		"# a broker as an MSK user would configure it",
		"listeners=PLAINTEXT://127.0.0.1:9092",
		"log.dirs=" + filepath.Join(dir, "data"),
		"num.partitions=3",
		"auto.create.topics.enable=false",
		"log.segment.bytes=1048576",
		"log.retention.ms=86400000",
		"",
	}, "\n"))
	badKeys := []string{"bulwark.no.such.key", "num.partitions", "auto.create.topics.enable", "log.retention.ms"}
	bad := write("bad.properties", strings.Join([]string{
		"listeners=PLAINTEXT://127.0.0.1:9092",
		"bulwark.no.such.key=1",
		"num.partitions=abc",
		"auto.create.topics.enable=perhaps",
		"log.retention.ms=soon",
		"",
	}, "\n"))

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"good file", []string{"config", "check", good}, 0, []string{"ok"}},
		{"bad file", []string{"config", "check", bad}, 1, badKeys},
		{"missing file", []string{"config", "check", filepath.Join(dir, "nope.properties")}, 1, []string{"nope.properties"}},
		{"no file argument", []string{"config", "check"}, 2, []string{"usage"}},
		{"serve refuses a bad file", []string{"serve", "--config", bad}, 1, badKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runProgram(t, 30*time.Second, "", bulwarkBin, tc.args...)
			out := res.stdout + res.stderr
			if res.code != tc.wantCode {
				t.Fatalf("bulwark %s: exit %d (%v), want %d\noutput:\n%s", strings.Join(tc.args, " "), res.code, res.err, tc.wantCode, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("bulwark %s: output does not mention %q\noutput:\n%s", strings.Join(tc.args, " "), w, out)
				}
			}
			if tc.wantCode == 1 && strings.Contains(out, "msg=listening") {
				t.Errorf("bulwark %s started listening despite a bad configuration", strings.Join(tc.args, " "))
			}
		})
	}
}
