package meta

import (
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenNewAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{NodeID: 3})
	st := s.State()
	if len(st.ClusterID) != 22 || strings.HasPrefix(st.ClusterID, "-") {
		t.Fatalf("cluster id %q is not Kafka's form", st.ClusterID)
	}
	if st.NodeID != 3 || st.Offset != 0 || len(st.Topics) != 0 {
		t.Fatalf("new state = %+v", st)
	}
	if got := dirFiles(t, dir); !reflect.DeepEqual(got, []string{logName(0)}) {
		t.Fatalf("files = %v", got)
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
	// The cluster id survives snapshots too (the bootstrap record is gone from the log then).
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	s = reopenT(t, s)
	if s.State().ClusterID != st.ClusterID {
		t.Fatalf("cluster id changed: %q -> %q", st.ClusterID, s.State().ClusterID)
	}
	other := openT(t, t.TempDir(), Options{NodeID: 3})
	if other.State().ClusterID == st.ClusterID {
		t.Fatal("two directories got the same cluster id")
	}
}

func TestNodeIDMismatch(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{NodeID: 1})
	commitT(t, s, CreateTopic{Name: "a", ID: NewTopicID(), Partitions: 1})
	_ = s.Snapshot()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{NodeID: 2}); !errors.Is(err, ErrNodeIDMismatch) {
		t.Fatalf("Open with another node id: %v, want ErrNodeIDMismatch", err)
	}
	if _, err := Open(dir, Options{NodeID: -1}); err == nil {
		t.Fatal("negative node id accepted")
	}
	openT(t, dir, Options{NodeID: 1})
}

func TestCommitValidation(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	id := NewTopicID()
	commitT(t, s, CreateTopic{Name: "a", ID: id, Partitions: 2})
	unknown := NewTopicID()
	tests := []struct {
		name string
		rec  Record
		want error
	}{
		{"existing name", CreateTopic{Name: "a", ID: NewTopicID(), Partitions: 1}, ErrTopicExists},
		{"existing id", CreateTopic{Name: "b", ID: id, Partitions: 1}, ErrTopicExists},
		{"zero id", CreateTopic{Name: "b", Partitions: 1}, ErrInvalidRecord},
		{"bad name", CreateTopic{Name: "../x", ID: NewTopicID(), Partitions: 1}, ErrInvalidRecord},
		{"empty name", CreateTopic{ID: NewTopicID(), Partitions: 1}, ErrInvalidRecord},
		{"no partitions", CreateTopic{Name: "b", ID: NewTopicID()}, ErrInvalidRecord},
		{"too many partitions", CreateTopic{Name: "b", ID: NewTopicID(), Partitions: MaxPartitions + 1}, ErrInvalidRecord},
		{"empty config name", CreateTopic{Name: "b", ID: NewTopicID(), Partitions: 1, Configs: map[string]string{"": "x"}}, ErrInvalidRecord},
		{"delete unknown", DeleteTopic{ID: unknown}, ErrUnknownTopic},
		{"partitions unknown", CreatePartitions{ID: unknown, Total: 3}, ErrUnknownTopic},
		{"partitions no increase", CreatePartitions{ID: id, Total: 2}, ErrInvalidRecord},
		{"configs unknown", SetTopicConfigs{ID: unknown}, ErrUnknownTopic},
		{"broker bad node", SetBrokerConfigs{Node: "01"}, ErrInvalidRecord},
		{"broker negative node", SetBrokerConfigs{Node: "-1"}, ErrInvalidRecord},
		{"log start unknown", SetLogStartOffset{ID: unknown}, ErrUnknownTopic},
		{"log start bad partition", SetLogStartOffset{ID: id, Partition: 2}, ErrUnknownPartition},
		{"log start negative", SetLogStartOffset{ID: id, Offset: -1}, ErrInvalidRecord},
		{"epoch bad partition", BumpLeaderEpoch{ID: id, Partition: -1}, ErrUnknownPartition},
		{"bootstrap again", bootstrap{ClusterID: newClusterID(), NodeID: 1}, ErrInvalidRecord},
		{"nil", nil, ErrInvalidRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.State()
			if _, err := s.Commit(tc.rec); !errors.Is(err, tc.want) {
				t.Fatalf("Commit: %v, want %v", err, tc.want)
			}
			if s.State() != before {
				t.Fatal("a rejected record changed the state")
			}
		})
	}
	commitT(t, s, SetLogStartOffset{ID: id, Offset: 10})
	if _, err := s.Commit(SetLogStartOffset{ID: id, Offset: 9}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("log start moving backwards: %v", err)
	}
}

func TestCommitBatchAllOrNothing(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	id := NewTopicID()
	// Records in a batch see the ones before them.
	st := commitT(t, s, CreateTopic{Name: "a", ID: id, Partitions: 1}, CreatePartitions{ID: id, Total: 3},
		BumpLeaderEpoch{ID: id, Partition: 2})
	if got := st.TopicsByID[id].Partitions[2].LeaderEpoch; got != 1 || st.Offset != 3 {
		t.Fatalf("epoch %d offset %d", got, st.Offset)
	}
	size := fileSize(t, activeLog(t, s.dir))
	_, err := s.Commit(SetTopicConfigs{ID: id, Configs: map[string]string{"retention.ms": "1"}}, DeleteTopic{ID: NewTopicID()})
	if !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("Commit: %v", err)
	}
	if s.State() != st || fileSize(t, activeLog(t, s.dir)) != size {
		t.Fatal("a failed batch left a trace")
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestReplayEquality(t *testing.T) {
	for _, every := range []int{-1, 2, 7, 50} {
		t.Run("every="+strconv.Itoa(every), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(every+2), 9))
			s := openT(t, t.TempDir(), Options{NodeID: 1, SnapshotEvery: every})
			for i := range 300 {
				batch := make([]Record, 1+r.IntN(3))
				for j := range batch {
					batch[j] = randomRecord(r, s.State())
				}
				_, _ = s.Commit(batch...) // some batches are invalid on purpose
				if i%97 == 0 {
					if err := s.Snapshot(); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := s.State()
			if want.Offset < 100 {
				t.Fatalf("only %d records committed", want.Offset)
			}
			s = reopenT(t, s)
			requireSameState(t, s.State(), want)
			// And once more, after more records on top of the replayed state.
			want = commitT(t, s, CreateTopic{Name: "late", ID: NewTopicID(), Partitions: 2})
			s = reopenT(t, s)
			requireSameState(t, s.State(), want)
		})
	}
}

func TestSnapshotLayout(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1, SnapshotEvery: 3})
	id := NewTopicID()
	commitT(t, s, CreateTopic{Name: "a", ID: id, Partitions: 1})
	commitT(t, s, SetLogStartOffset{ID: id, Offset: 5}) // third record: automatic snapshot at 2
	want := []string{logName(3), snapshotName(2)}
	if got := dirFiles(t, s.dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	if err := s.Snapshot(); err != nil { // nothing new: no-op
		t.Fatal(err)
	}
	st := commitT(t, s, BumpLeaderEpoch{ID: id})
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	want = []string{logName(4), snapshotName(3)}
	if got := dirFiles(t, s.dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
}

func TestCopyOnWrite(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	id := NewTopicID()
	old := commitT(t, s, CreateTopic{Name: "a", ID: id, Partitions: 2, Configs: map[string]string{"retention.ms": "1"}},
		SetBrokerConfigs{Configs: map[string]string{"log.retention.ms": "5"}})
	frozen, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	topic := old.Topics["a"]
	commitT(t, s, SetTopicConfigs{ID: id, Configs: map[string]string{"retention.ms": "2"}})
	commitT(t, s, BumpLeaderEpoch{ID: id, Partition: 1}, SetLogStartOffset{ID: id, Partition: 0, Offset: 7})
	commitT(t, s, CreatePartitions{ID: id, Total: 4})
	commitT(t, s, SetBrokerConfigs{Configs: map[string]string{"log.retention.ms": "6"}}, SetBrokerConfigs{Node: "1", Configs: map[string]string{"x": "y"}})
	commitT(t, s, DeleteTopic{ID: id}, CreateTopic{Name: "a", ID: NewTopicID(), Partitions: 1})
	now, _ := json.Marshal(old)
	if string(now) != string(frozen) || old.Topics["a"] != topic || old.TopicsByID[id] != topic {
		t.Fatalf("an earlier State changed:\nbefore %s\nafter  %s", frozen, now)
	}
}

func TestBrokerConfigs(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 2})
	st := commitT(t, s,
		SetBrokerConfigs{Configs: map[string]string{"a": "cluster", "b": "cluster"}},
		SetBrokerConfigs{Node: "2", Configs: map[string]string{"b": "node", "c": "node"}},
		SetBrokerConfigs{Node: "7", Configs: map[string]string{"a": "other"}})
	want := map[string]string{"a": "cluster", "b": "node", "c": "node"}
	if !maps.Equal(st.BrokerConfigs, want) {
		t.Fatalf("effective = %v, want %v", st.BrokerConfigs, want)
	}
	st = commitT(t, s, SetBrokerConfigs{Node: "2"}, SetBrokerConfigs{Node: "7"})
	if !maps.Equal(st.BrokerConfigs, map[string]string{"a": "cluster", "b": "cluster"}) || st.NodeBrokerConfigs != nil {
		t.Fatalf("after clearing node sets: %v %v", st.BrokerConfigs, st.NodeBrokerConfigs)
	}
	_ = s.Snapshot()
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
}

func TestCreatedAtStamped(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	before := time.Now().Add(-time.Second)
	st := commitT(t, s, CreateTopic{Name: "a", ID: NewTopicID(), Partitions: 1})
	if c := st.Topics["a"].CreatedAt; c.Before(before) || c.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v", c)
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
}

func TestClosed(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(DeleteTopic{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close: %v", err)
	}
	if err := s.Snapshot(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Snapshot after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestTopicID(t *testing.T) {
	id := NewTopicID()
	if id.IsZero() || len(id.String()) != 22 || id[6]>>4 != 4 {
		t.Fatalf("NewTopicID = %v (%x)", id, id[:])
	}
	back, err := ParseTopicID(id.String())
	if err != nil || back != id {
		t.Fatalf("ParseTopicID(%q) = %v, %v", id.String(), back, err)
	}
	b, _ := json.Marshal(DeleteTopic{ID: id})
	if want := `{"id":"` + id.String() + `"}`; string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	for _, bad := range []string{"", "short", strings.Repeat("*", 22), strings.Repeat("A", 21) + "B", strings.Repeat("A", 23)} {
		if _, err := ParseTopicID(bad); err == nil {
			t.Errorf("ParseTopicID(%q) accepted", bad)
		}
	}
	if got := (TopicID{}).String(); got != "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("zero id = %q", got)
	}
	if TypeCreateTopic.String() != "CreateTopic" || RecordType(200).String() != "RecordType(200)" {
		t.Fatal("RecordType.String")
	}
}

// TestConcurrentReaders runs readers against a committing writer; with -race it checks that a
// published State is never written to.
func TestConcurrentReaders(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1, SnapshotEvery: 5})
	id := NewTopicID()
	commitT(t, s, CreateTopic{Name: "a", ID: id, Partitions: 2})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				st := s.State()
				for _, tp := range st.Topics {
					_ = tp.Partitions[0].LeaderEpoch + int32(len(tp.Configs))
				}
				_ = len(st.BrokerConfigs)
			}
		})
	}
	for i := range 30 {
		commitT(t, s, BumpLeaderEpoch{ID: id}, SetTopicConfigs{ID: id, Configs: map[string]string{"k": strconv.Itoa(i)}},
			SetBrokerConfigs{Configs: map[string]string{"k": strconv.Itoa(i)}})
	}
	close(done)
	wg.Wait()
	if got := s.State().Topics["a"].Partitions[0].LeaderEpoch; got != 30 {
		t.Fatalf("epoch %d", got)
	}
}
