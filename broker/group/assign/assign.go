package assign

import (
	"bytes"
	"cmp"
	"slices"
)

// TopicID is a Kafka topic id (a UUID).
type TopicID [16]byte

// compareTopicIDs orders topic ids bytewise, the order every assignor walks topics in.
func compareTopicIDs(a, b TopicID) int { return bytes.Compare(a[:], b[:]) }

// Partitions maps a topic to a sorted list of its partition numbers.
type Partitions map[TopicID][]int32

// Member is one group member as the assignor sees it.
type Member struct {
	// ID is the member id; it keys the result.
	ID string
	// InstanceID is the static member id, "" if none. The assignors do not use it: a static
	// member rejoining keeps its member id's place through Current.
	InstanceID string
	// Rack is the client rack, possibly "". The assignors do not use it.
	Rack string
	// Topics are the subscribed topic ids, already resolved from names or a regex.
	Topics []TopicID
	// Current is the member's current target assignment, the input to stickiness.
	Current Partitions
}

// Topic is the metadata of one subscribed topic.
type Topic struct {
	ID         TopicID
	Name       string
	Partitions int32
}

// Spec is the input of one assignment.
type Spec struct {
	// Members in any order; the result does not depend on it.
	Members []Member
	// Topics holds the metadata of every subscribed topic that exists, keyed by topic id.
	Topics map[TopicID]Topic
}

// Assignor computes a target assignment.
type Assignor interface {
	// Name is the assignor's name in ConsumerGroupHeartbeat ServerAssignor: "uniform" or "range".
	Name() string
	// Assign maps every member id in spec to its new assignment (possibly empty).
	Assign(spec Spec) map[string]Partitions
}

// Names of the assignors, as clients send them and as group.consumer.assignors lists them.
const (
	UniformName = "uniform"
	RangeName   = "range"
)

// Lookup returns the assignor with the given name.
func Lookup(name string) (Assignor, bool) {
	switch name {
	case UniformName:
		return Uniform(), true
	case RangeName:
		return Range(), true
	}
	return nil, false
}

// tp is one topic partition.
type tp struct {
	topic TopicID
	part  int32
}

func compareTPs(a, b tp) int {
	if c := compareTopicIDs(a.topic, b.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.part, b.part)
}

// member is a normalized Member: subscriptions limited to existing topics, and current
// partitions limited to valid, subscribed, unclaimed ones.
type member struct {
	id     string
	topics []TopicID // sorted, unique, existing
	subs   map[TopicID]bool
	owned  map[TopicID][]int32 // sorted, unique, in range, claimed by no earlier member
}

// ownedCount is the number of valid current partitions.
func (m *member) ownedCount() int {
	n := 0
	for _, ps := range m.owned {
		n += len(ps)
	}
	return n
}

// ownedSorted lists the valid current partitions by topic id, then partition.
func (m *member) ownedSorted() []tp {
	out := make([]tp, 0, m.ownedCount())
	for _, t := range m.topics {
		for _, p := range m.owned[t] {
			out = append(out, tp{t, p})
		}
	}
	return out
}

// view is the normalized input shared by the assignors.
type view struct {
	members []*member         // sorted by id
	counts  map[TopicID]int32 // partition count of every subscribed existing topic
	topics  []TopicID         // keys of counts, sorted
	subbers map[TopicID][]int // topic -> indices into members, ascending
}

// normalize merges duplicate member ids, drops unknown topics and invalid current partitions,
// and settles partitions two members both claim in favour of the lower member id.
func normalize(spec Spec) *view {
	v := &view{counts: make(map[TopicID]int32), subbers: make(map[TopicID][]int)}
	byID := make(map[string]*Member, len(spec.Members))
	merged := make(map[string][]*Member)
	for i := range spec.Members {
		m := &spec.Members[i]
		if _, ok := byID[m.ID]; ok {
			merged[m.ID] = append(merged[m.ID], m)
			continue
		}
		byID[m.ID] = m
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	claimed := make(map[tp]bool)
	for i, id := range ids {
		srcs := append([]*Member{byID[id]}, merged[id]...)
		m := &member{id: id, subs: make(map[TopicID]bool), owned: make(map[TopicID][]int32)}
		for _, src := range srcs {
			for _, t := range src.Topics {
				meta, ok := spec.Topics[t]
				if !ok || m.subs[t] {
					continue
				}
				m.subs[t] = true
				m.topics = append(m.topics, t)
				if _, seen := v.counts[t]; !seen {
					v.counts[t] = max(meta.Partitions, 0)
					v.topics = append(v.topics, t)
				}
				v.subbers[t] = append(v.subbers[t], i)
			}
		}
		slices.SortFunc(m.topics, compareTopicIDs)
		for _, t := range m.topics {
			m.owned[t] = claimOwned(srcs, t, v.counts[t], claimed)
		}
		v.members = append(v.members, m)
	}
	slices.SortFunc(v.topics, compareTopicIDs)
	return v
}

// claimOwned collects the valid current partitions of topic t across srcs that no earlier
// member claimed, marks them claimed and returns them sorted.
func claimOwned(srcs []*Member, t TopicID, n int32, claimed map[tp]bool) []int32 {
	var out []int32
	for _, src := range srcs {
		for _, p := range src.Current[t] {
			if p < 0 || p >= n || claimed[tp{t, p}] {
				continue
			}
			claimed[tp{t, p}] = true
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// result collects an assignment; it owns every slice it hands out.
type result map[string]Partitions

func newResult(members []*member) result {
	r := make(result, len(members))
	for _, m := range members {
		r[m.id] = make(Partitions)
	}
	return r
}

func (r result) add(id string, p tp) {
	r[id][p.topic] = append(r[id][p.topic], p.part)
}

// finish sorts every partition list.
func (r result) finish() map[string]Partitions {
	for _, ps := range r {
		for _, list := range ps {
			slices.Sort(list)
		}
	}
	return r
}
