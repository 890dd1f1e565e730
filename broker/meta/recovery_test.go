package meta

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// populate opens a store in a new directory and commits a few records, one per Commit, so that the
// active log holds several frames. It returns the store and the state after each record.
func populate(t *testing.T, opts Options) (*Store, []*State) {
	t.Helper()
	s := openT(t, t.TempDir(), opts)
	id := NewTopicID()
	states := []*State{s.State()}
	for _, r := range []Record{
		CreateTopic{Name: "a", ID: id, Partitions: 2, Configs: map[string]string{"retention.ms": "1000"}},
		BumpLeaderEpoch{ID: id, Partition: 1},
		SetLogStartOffset{ID: id, Partition: 0, Offset: 42},
		CreateTopic{Name: "b", ID: NewTopicID(), Partitions: 1},
	} {
		states = append(states, commitT(t, s, r))
	}
	return s, states
}

func TestTornTailTruncated(t *testing.T) {
	tests := []struct {
		name   string
		damage func(data []byte, lastFrame int) []byte
	}{
		{"last frame cut short", func(d []byte, last int) []byte { return d[:len(d)-3] }},
		{"only a partial length", func(d []byte, last int) []byte { return d[:last+2] }},
		{"header without body", func(d []byte, last int) []byte { return d[:last+frameHeader] }},
		{"bad CRC in last frame", func(d []byte, last int) []byte { d[len(d)-1] ^= 0xff; return d }},
		{"zeros instead of last frame", func(d []byte, last int) []byte {
			clear(d[last:])
			return d
		}},
		{"zeros appended", func(d []byte, last int) []byte { return append(d, make([]byte, 4096)...) }},
		{"huge length at the end", func(d []byte, last int) []byte { return append(d, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, states := populate(t, Options{NodeID: 1})
			s.abandon()
			path := activeLog(t, s.dir)
			data, _ := os.ReadFile(path)
			last := frameStarts(t, data)[len(states)-1]
			damaged := tc.damage(data, last)
			if err := os.WriteFile(path, damaged, 0o640); err != nil {
				t.Fatal(err)
			}
			want := states[len(states)-1]
			if len(damaged) <= len(data) || strings.Contains(tc.name, "last") { // the last record is gone
				want = states[len(states)-2]
			}
			if strings.Contains(tc.name, "appended") || strings.Contains(tc.name, "huge") {
				want = states[len(states)-1]
			}
			s2 := openT(t, s.dir, Options{NodeID: 1})
			requireSameState(t, s2.State(), want)
			// The log is usable again: a new record lands after the truncation point.
			st := commitT(t, s2, CreateTopic{Name: "c", ID: NewTopicID(), Partitions: 1})
			requireSameState(t, reopenT(t, s2).State(), st)
		})
	}
}

// frameStarts returns the byte position of each frame in a well-formed log.
func frameStarts(t *testing.T, data []byte) []int {
	t.Helper()
	var starts []int
	for p := 0; p < len(data); {
		f, err := parseFrame(data[p:], maxRecordLen)
		if err != nil {
			t.Fatalf("frame at %d: %v", p, err)
		}
		starts = append(starts, p)
		p += f.size
	}
	return starts
}

func TestMidLogCorruptionRefused(t *testing.T) {
	tests := []struct {
		name   string
		damage func(d []byte, at int)
		want   error
	}{
		{"flipped payload byte", func(d []byte, at int) { d[at+frameHeader+2] ^= 1 }, ErrCorrupt},
		{"flipped length", func(d []byte, at int) { d[at+3] ^= 0x40 }, ErrCorrupt},
		{"zeroed frame", func(d []byte, at int) { clear(d[at : at+frameHeader+4]) }, ErrCorrupt},
		{"unknown type", func(d []byte, at int) { reframe(d, at, 99, 0) }, ErrUnsupported},
		{"newer version", func(d []byte, at int) { reframe(d, at, TypeBumpLeaderEpoch, 7) }, ErrUnsupported},
		{"well-formed but wrong type", func(d []byte, at int) { reframe(d, at, TypeCreatePartitions, 0) }, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := populate(t, Options{NodeID: 1})
			s.abandon()
			path := activeLog(t, s.dir)
			data, _ := os.ReadFile(path)
			at := frameStarts(t, data)[2] // the BumpLeaderEpoch record, offset 2
			tc.damage(data, at)
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
			_, err := Open(s.dir, Options{NodeID: 1})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "offset 2") {
				t.Fatalf("Open: %v, want %v at offset 2", err, tc.want)
			}
			if after, _ := os.ReadFile(path); string(after) != string(data) {
				t.Fatal("a refused open modified the log")
			}
		})
	}
}

// reframe rewrites the type and version of the frame at d[at:] and fixes its CRC, giving a
// well-formed frame that does not decode or apply.
func reframe(d []byte, at int, typ RecordType, version uint16) {
	f, _ := parseFrame(d[at:], maxRecordLen)
	copy(d[at:], appendFrame(nil, typ, version, f.payload))
}

func TestSnapshotCrashAtEveryStep(t *testing.T) {
	steps := []string{"log-temp", "log-renamed", "rolled", "snapshot-temp", "snapshot-renamed", "snapshot-durable", "cleanup-logs"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			// A first snapshot, so that there is an older snapshot to supersede.
			s, _ := populate(t, Options{NodeID: 1, SnapshotEvery: -1})
			if err := s.Snapshot(); err != nil {
				t.Fatal(err)
			}
			id := s.State().Topics["a"].ID
			want := commitT(t, s, BumpLeaderEpoch{ID: id}, SetTopicConfigs{ID: id})
			s.crash = func(at string) bool { return at == step }
			if err := s.Snapshot(); step != "cleanup-logs" && !errors.Is(err, errCrash) {
				t.Fatalf("Snapshot: %v, want the simulated crash", err)
			}
			s.abandon()
			s2 := openT(t, s.dir, Options{NodeID: 1, SnapshotEvery: -1})
			requireSameState(t, s2.State(), want)
			// Recovery leaves a directory that keeps working: commit, snapshot, reopen.
			want = commitT(t, s2, SetLogStartOffset{ID: id, Offset: 100})
			s3 := reopenT(t, s2)
			requireSameState(t, s3.State(), want)
			if err := s3.Snapshot(); err != nil {
				t.Fatal(err)
			}
			want = commitT(t, s3, BumpLeaderEpoch{ID: id, Partition: 1})
			requireSameState(t, reopenT(t, s3).State(), want)
		})
	}
}

func TestLeftoverTempFiles(t *testing.T) {
	s, states := populate(t, Options{NodeID: 1})
	s.abandon()
	want := states[len(states)-1]
	snap, _ := encodeSnapshot(want)
	for name, data := range map[string][]byte{
		snapshotName(want.Offset) + tmpSuffix: snap[:len(snap)/2], // half-written snapshot
		logName(want.Offset+1) + tmpSuffix:    nil,                // new log never renamed
		logName(want.Offset+1) + ".xyz":       []byte("ignored"),  // not ours
	} {
		if err := os.WriteFile(filepath.Join(s.dir, name), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s2 := openT(t, s.dir, Options{NodeID: 1})
	requireSameState(t, s2.State(), want)
	for _, n := range dirFiles(t, s.dir) {
		if strings.HasSuffix(n, tmpSuffix) {
			t.Fatalf("temporary file %s left behind", n)
		}
	}
}

func TestCorruptSnapshotRefused(t *testing.T) {
	s, _ := populate(t, Options{NodeID: 1})
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	s.abandon()
	path := filepath.Join(s.dir, snapshotName(s.State().Offset))
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 1
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.dir, Options{NodeID: 1}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
}

func TestMissingRecordsRefused(t *testing.T) {
	// A crash after the new log was created but before the snapshot leaves two logs and no
	// snapshot; losing the first of them loses records, which Open must notice.
	s, _ := populate(t, Options{NodeID: 1})
	s.crash = func(step string) bool { return step == "rolled" }
	if err := s.Snapshot(); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	s.abandon()
	if err := os.Remove(filepath.Join(s.dir, logName(0))); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.dir, Options{NodeID: 1}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
}

func TestTornWriteInOlderLogRefused(t *testing.T) {
	s, _ := populate(t, Options{NodeID: 1})
	s.crash = func(step string) bool { return step == "rolled" }
	_ = s.Snapshot()
	s.abandon()
	path := filepath.Join(s.dir, logName(0))
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, data[:len(data)-1], 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.dir, Options{NodeID: 1}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
}
