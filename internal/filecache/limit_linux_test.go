package filecache

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOutOfDescriptorsClosesOneOfOurs: when the process runs out of descriptors below the
// cache's budget (something else took them), an open closes one of the cache's idle files and
// retries instead of failing.
func TestOutOfDescriptorsClosesOneOfOurs(t *testing.T) {
	c := New(1000)
	files := openN(t, c, 20)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	highest := 0
	for _, e := range ents {
		var fd int
		if _, err := fmt.Sscan(e.Name(), &fd); err == nil {
			highest = max(highest, fd)
		}
	}
	lowered := old
	lowered.Cur = uint64(highest) + 1
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Fatal(err)
		}
	}()
	// Take every descriptor left under the limit: the next open needs one of the cache's.
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		defer f.Close()
	}
	extra, err := c.Open(filepath.Join(t.TempDir(), "extra"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("open with every descriptor taken: %v", err)
	}
	defer extra.Close()
	if _, err := files[0].Stat(); err != nil {
		t.Fatalf("reopening an evicted file: %v", err)
	}
	if st := c.Stats(); st.Evictions == 0 || st.Open > 20 {
		t.Fatalf("stats %+v: want an eviction and at most the 20 descriptors the process allows", st)
	}
}
