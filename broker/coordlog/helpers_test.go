package coordlog

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	plog "github.com/bulwark-kafka/bulwark/broker/log"
)

// testOptions returns small segments (so the tests see rolls) and a compaction threshold high
// enough that only the tests that want automatic compaction get it.
func testOptions() Options {
	cfg := plog.DefaultConfig()
	cfg.SegmentBytes = 4 << 10
	cfg.SegmentMs = 0
	cfg.IndexIntervalBytes = 512
	cfg.RetentionMs, cfg.RetentionBytes = -1, -1
	cfg.FileDeleteDelay = 0
	return Options{Config: cfg, CompactMinBytes: 1 << 40}
}

// openStore opens the journal in dir and returns it with the map Open's fn was given. It
// checks that fn saw every key once, in sorted order. The store is closed at cleanup.
func openStore(t testing.TB, dir string, opts Options) (*Store, map[string]string) {
	t.Helper()
	got := map[string]string{}
	var order []string
	s, err := Open(dir, opts, func(k, v []byte) error {
		if v == nil {
			t.Errorf("Open fn: key %q with a nil value", k)
		}
		if _, dup := got[string(k)]; dup {
			t.Errorf("Open fn: key %q twice", k)
		}
		got[string(k)] = string(v)
		order = append(order, string(k))
		return nil
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !slices.IsSorted(order) {
		t.Errorf("Open fn: keys not sorted: %q", order)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s, got
}

// mustWrite writes entries and fails the test on error.
func mustWrite(t testing.TB, s *Store, entries ...Entry) {
	t.Helper()
	if err := s.Write(context.Background(), entries...); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// put and del make entries from strings.
func put(k, v string) Entry { return Entry{Key: []byte(k), Value: []byte(v)} }
func del(k string) Entry    { return Entry{Key: []byte(k)} }

// snapshot returns the store's live set through Range.
func snapshot(s *Store) map[string]string {
	m := map[string]string{}
	s.Range(nil, func(k, v []byte) bool {
		m[string(k)] = string(v)
		return true
	})
	return m
}

// applyModel applies entries to a model map the way the store should.
func applyModel(m map[string]string, entries ...Entry) {
	for _, e := range entries {
		if e.Value == nil {
			delete(m, string(e.Key))
		} else {
			m[string(e.Key)] = string(e.Value)
		}
	}
}

// checkMap fails unless got equals want.
func checkMap(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("%s: got %d keys, want %d\n got  %v\n want %v", what, len(got), len(want), abbrev(got), abbrev(want))
	}
}

// abbrev shortens a map for a failure message.
func abbrev(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i == 20 {
			b.WriteString(" …")
			break
		}
		v := m[k]
		if len(v) > 16 {
			v = v[:16] + "…"
		}
		b.WriteString(" " + k + "=" + v)
	}
	return b.String()
}

// crashClose closes s and removes the clean-shutdown marker, so the next Open recovers as
// after a crash.
func crashClose(t testing.TB, s *Store, dir string) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, ".clean-shutdown")); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

// lastSegment returns the path of the *.log file with the highest base offset in dir.
func lastSegment(t testing.TB, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	best, bestBase := "", int64(-1)
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		if base, err := strconv.ParseInt(name, 10, 64); err == nil && base > bestBase {
			best, bestBase = filepath.Join(dir, e.Name()), base
		}
	}
	if best == "" {
		t.Fatalf("no segment in %s", dir)
	}
	return best
}

// truncateBy cuts n bytes off the end of path.
func truncateBy(t testing.TB, path string, n int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()-n); err != nil {
		t.Fatal(err)
	}
}

// value returns a recognisable value of n bytes.
func value(tag string, n int) string {
	return tag + strings.Repeat("x", max(n-len(tag), 0))
}

// bytesOf is a []byte of n copies of c.
func bytesOf(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }
