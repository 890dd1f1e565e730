package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		release string
		want    bool
	}{
		{"6.18.44-fc-v1272", true},
		{"5.8.0", true},
		{"5.10.0-28-amd64", true},
		{"5.7.19", false},
		{"4.19.0-26-amd64", false},
		{"garbage", false},
		{"", false},
	} {
		if got := kernelAtLeast(c.release, 5, 8); got != c.want {
			t.Errorf("kernelAtLeast(%q, 5, 8) = %v, want %v", c.release, got, c.want)
		}
	}
}

func TestFSSyncSucceedsOnATempDir(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFSSync(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := WriteNew(filepath.Join(dir, "f"), []byte("data"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "data" {
		t.Fatalf("read back %q, %v", b, err)
	}
	t.Logf("syncfs reports writeback errors here: %v", s.ReportsErrors())
}
