package assign

// rangeAssignor is Kafka 4.0's server-side sticky range assignor (RangeAssignor).
type rangeAssignor struct{}

var _ Assignor = rangeAssignor{}

// Range returns the "range" assignor: per topic, contiguous ranges over the subscribing members
// sorted by member id, keeping current partitions where the quota allows.
func Range() Assignor { return rangeAssignor{} }

// Name implements Assignor.
func (rangeAssignor) Name() string { return RangeName }

// Assign implements Assignor.
func (rangeAssignor) Assign(spec Spec) map[string]Partitions {
	v := normalize(spec)
	r := newResult(v.members)
	for _, t := range v.topics {
		assignRangeTopic(v, r, t)
	}
	return r.finish()
}

// assignRangeTopic assigns the partitions of one topic. Each subscriber's quota is
// n/subscribers, and the first n%subscribers members to claim it get one more. A member first
// keeps its lowest current partitions up to the minimum quota, plus one more while extra slots
// remain; then the members still short, in member id order, take the lowest free partitions.
// With no current assignment that is exactly the classic contiguous ranges.
func assignRangeTopic(v *view, r result, t TopicID) {
	n := int(v.counts[t])
	subs := v.subbers[t]
	minQuota, extra := n/len(subs), n%len(subs)

	kept := make([]bool, n)
	need := make([]int, len(subs))
	for i, mi := range subs {
		m := v.members[mi]
		owned := m.owned[t]
		keep := min(len(owned), minQuota)
		if len(owned) > minQuota && extra > 0 {
			keep++
			extra--
		}
		for _, p := range owned[:keep] {
			kept[p] = true
			r.add(m.id, tp{t, p})
		}
		need[i] = minQuota - keep // -1 when it already holds an extra partition.
	}

	next := 0
	for i, mi := range subs {
		if need[i] < 0 {
			continue
		}
		if extra > 0 {
			need[i]++
			extra--
		}
		for ; need[i] > 0; need[i]-- {
			for kept[next] {
				next++
			}
			kept[next] = true
			r.add(v.members[mi].id, tp{t, int32(next)})
		}
	}
}
