package assign

import (
	"fmt"
	"maps"
	"slices"
)

// tid builds a topic id whose first byte is n, so tid(1) sorts before tid(2).
func tid(n byte) TopicID { return TopicID{n} }

// topicsOf builds topic metadata for tid(1), tid(2), ... with the given partition counts.
func topicsOf(counts ...int32) map[TopicID]Topic {
	out := make(map[TopicID]Topic, len(counts))
	for i, n := range counts {
		id := tid(byte(i + 1))
		out[id] = Topic{ID: id, Name: fmt.Sprintf("t%d", i+1), Partitions: n}
	}
	return out
}

// cloneSpec deep-copies a spec, so tests can check Assign left its input alone.
func cloneSpec(s Spec) Spec {
	c := Spec{Topics: maps.Clone(s.Topics)}
	for _, m := range s.Members {
		m.Topics = slices.Clone(m.Topics)
		m.Current = clonePartitions(m.Current)
		c.Members = append(c.Members, m)
	}
	return c
}

func clonePartitions(p Partitions) Partitions {
	if p == nil {
		return nil
	}
	c := make(Partitions, len(p))
	for t, ps := range p {
		c[t] = slices.Clone(ps)
	}
	return c
}

// withCurrent returns spec with every member's Current replaced by its entry in out.
func withCurrent(spec Spec, out map[string]Partitions) Spec {
	c := cloneSpec(spec)
	for i := range c.Members {
		c.Members[i].Current = clonePartitions(out[c.Members[i].ID])
	}
	return c
}

// count is the number of partitions in p.
func count(p Partitions) int {
	n := 0
	for _, ps := range p {
		n += len(ps)
	}
	return n
}

// overlap counts the partitions present in both a and b.
func overlap(a, b Partitions) int {
	n := 0
	for t, ps := range a {
		for _, p := range ps {
			if slices.Contains(b[t], p) {
				n++
			}
		}
	}
	return n
}

// subsetOf reports whether every partition of a is in b.
func subsetOf(a, b Partitions) bool { return overlap(a, b) == count(a) }

// checkInvariants returns the first broken rule that holds for every assignor: all members
// present, each partition of each subscribed existing topic assigned once to a subscriber,
// nothing else assigned, and sorted non-empty lists.
func checkInvariants(spec Spec, out map[string]Partitions) error {
	subs := make(map[string]map[TopicID]bool)
	subscribed := make(map[TopicID]bool)
	for _, m := range spec.Members {
		if subs[m.ID] == nil {
			subs[m.ID] = make(map[TopicID]bool)
		}
		for _, t := range m.Topics {
			if _, ok := spec.Topics[t]; ok {
				subs[m.ID][t] = true
				subscribed[t] = true
			}
		}
	}
	if len(out) != len(subs) {
		return fmt.Errorf("result has %d members, spec %d", len(out), len(subs))
	}
	owner := make(map[tp]string)
	for id, ps := range out {
		if subs[id] == nil || ps == nil {
			return fmt.Errorf("member %q: unexpected or nil assignment", id)
		}
		for t, list := range ps {
			if !subs[id][t] {
				return fmt.Errorf("member %q got topic %x it does not subscribe to", id, t[:2])
			}
			if len(list) == 0 || !slices.IsSorted(list) {
				return fmt.Errorf("member %q topic %x: list %v empty or unsorted", id, t[:2], list)
			}
			for _, p := range list {
				if p < 0 || p >= spec.Topics[t].Partitions {
					return fmt.Errorf("member %q: partition %d out of range", id, p)
				}
				if prev, dup := owner[tp{t, p}]; dup {
					return fmt.Errorf("partition %x/%d assigned to %q and %q", t[:2], p, prev, id)
				}
				owner[tp{t, p}] = id
			}
		}
	}
	for t := range subscribed {
		for p := range spec.Topics[t].Partitions {
			if _, ok := owner[tp{t, p}]; !ok {
				return fmt.Errorf("partition %x/%d unassigned", t[:2], p)
			}
		}
	}
	return nil
}

// checkUniformBalance checks that members with identical existing subscriptions hold counts
// that differ by at most one.
func checkUniformBalance(spec Spec, out map[string]Partitions) error {
	subs := make(map[string]map[TopicID]bool)
	for _, m := range spec.Members {
		if subs[m.ID] == nil {
			subs[m.ID] = make(map[TopicID]bool)
		}
		for _, t := range m.Topics {
			if _, ok := spec.Topics[t]; ok {
				subs[m.ID][t] = true
			}
		}
	}
	groups := make(map[string][]int)
	for id, set := range subs {
		key := fmt.Sprint(slices.SortedFunc(maps.Keys(set), compareTopicIDs))
		groups[key] = append(groups[key], count(out[id]))
	}
	for key, counts := range groups {
		if slices.Max(counts)-slices.Min(counts) > 1 {
			return fmt.Errorf("subscription %s: unbalanced counts %v", key, counts)
		}
	}
	return nil
}

// checkRangeBalance checks that, per topic, the subscribers' counts differ by at most one.
func checkRangeBalance(spec Spec, out map[string]Partitions) error {
	per := make(map[TopicID]map[string]int)
	for _, m := range spec.Members {
		for _, t := range m.Topics {
			if _, ok := spec.Topics[t]; !ok {
				continue
			}
			if per[t] == nil {
				per[t] = make(map[string]int)
			}
			per[t][m.ID] = len(out[m.ID][t])
		}
	}
	for t, counts := range per {
		vals := slices.Collect(maps.Values(counts))
		if slices.Max(vals)-slices.Min(vals) > 1 {
			return fmt.Errorf("topic %x: unbalanced counts %v", t[:2], counts)
		}
	}
	return nil
}
