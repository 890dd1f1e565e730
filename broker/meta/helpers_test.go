package meta

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// openT opens a store in dir and closes it at the end of the test.
func openT(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// commitT commits recs and fails the test on error.
func commitT(t *testing.T, s *Store, recs ...Record) *State {
	t.Helper()
	st, err := s.Commit(recs...)
	if err != nil {
		t.Fatalf("Commit(%v): %v", recs, err)
	}
	return st
}

// requireSameState fails unless a and b are equal, showing both as JSON if not.
func requireSameState(t *testing.T, got, want *State) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("states differ:\ngot  %s\nwant %s", g, w)
	}
}

// reopenT closes s and opens its directory again.
func reopenT(t *testing.T, s *Store) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openT(t, s.dir, s.opts)
}

// abandon drops a store as a crash would: files closed, nothing else done.
func (s *Store) abandon() { s.closeFile() }

// dirFiles lists the names in dir, sorted.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// activeLog returns the path of the newest log file in dir.
func activeLog(t *testing.T, dir string) string {
	t.Helper()
	var last string
	for _, n := range dirFiles(t, dir) {
		if _, ok := parseName(n, logPrefix, logSuffix); ok {
			last = n
		}
	}
	if last == "" {
		t.Fatal("no log file")
	}
	return filepath.Join(dir, last)
}

// randomRecord returns a record that is valid against st most of the time, and sometimes one
// that is not (which Commit must reject without effect).
func randomRecord(r *rand.Rand, st *State) Record {
	var ids []TopicID
	for _, t := range st.Topics {
		ids = append(ids, t.ID)
	}
	slices.SortFunc(ids, func(a, b TopicID) int { return slices.Compare(a[:], b[:]) }) // map order is random
	if len(ids) == 0 || r.IntN(6) == 0 {
		return CreateTopic{Name: "t" + strconv.Itoa(r.IntN(50)), ID: NewTopicID(), Partitions: int32(1 + r.IntN(4)), Configs: randomConfigs(r)}
	}
	id := ids[r.IntN(len(ids))]
	if r.IntN(20) == 0 {
		id = NewTopicID() // unknown
	}
	var parts int32 = 1
	if t := st.TopicsByID[id]; t != nil {
		parts = int32(len(t.Partitions))
	}
	p := int32(r.IntN(int(parts)))
	switch r.IntN(7) {
	case 0:
		return DeleteTopic{ID: id}
	case 1:
		return CreatePartitions{ID: id, Total: parts + int32(r.IntN(3))}
	case 2:
		return SetTopicConfigs{ID: id, Configs: randomConfigs(r)}
	case 3:
		nodes := []string{"", "0", "1", "2"}
		return SetBrokerConfigs{Node: nodes[r.IntN(len(nodes))], Configs: randomConfigs(r)}
	case 4, 5:
		return SetLogStartOffset{ID: id, Partition: p, Offset: int64(r.IntN(1000))}
	default:
		return BumpLeaderEpoch{ID: id, Partition: p}
	}
}

func randomConfigs(r *rand.Rand) map[string]string {
	m := map[string]string{}
	for range r.IntN(3) {
		m[[]string{"retention.ms", "segment.bytes", "cleanup.policy"}[r.IntN(3)]] = strconv.Itoa(r.IntN(100))
	}
	return m
}
