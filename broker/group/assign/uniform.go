package assign

import (
	"cmp"
	"slices"
)

// uniformAssignor is Kafka 4.0's UniformAssignor: balanced and sticky.
type uniformAssignor struct{}

var _ Assignor = uniformAssignor{}

// Uniform returns the "uniform" assignor, the KIP-848 default: partitions spread evenly over the
// members, each keeping as much of its current assignment as balance allows.
func Uniform() Assignor { return uniformAssignor{} }

// Name implements Assignor.
func (uniformAssignor) Name() string { return UniformName }

// Assign implements Assignor.
func (uniformAssignor) Assign(spec Spec) map[string]Partitions {
	v := normalize(spec)
	r := newResult(v.members)
	if len(v.topics) == 0 {
		return r.finish()
	}
	if homogeneous(v) {
		assignHomogeneous(v, r)
	} else {
		newGeneralBuilder(v).build(r)
	}
	return r.finish()
}

// homogeneous reports whether every member subscribes to the same existing topics.
func homogeneous(v *view) bool {
	first := v.members[0].topics
	for _, m := range v.members[1:] {
		if !slices.Equal(m.topics, first) {
			return false
		}
	}
	return true
}

// assignHomogeneous assigns when all members subscribe to the same topics: each member's quota
// is total/members, and total%members members get one more. Those extra slots go to the members
// holding the most valid current partitions (ties by member id), so that the number of
// partitions taken from their owners is the least balance allows. A member over quota keeps
// its lowest partitions; all other partitions, in topic then partition order, fill the members
// below quota in member id order.
func assignHomogeneous(v *view, r result) {
	total := 0
	for _, t := range v.topics {
		total += int(v.counts[t])
	}
	nm := len(v.members)
	minQuota, extra := total/nm, total%nm

	quota := make([]int, nm)
	byOwned := make([]int, nm)
	owned := make([]int, nm)
	for i, m := range v.members {
		quota[i] = minQuota
		byOwned[i] = i
		owned[i] = m.ownedCount()
	}
	slices.SortStableFunc(byOwned, func(a, b int) int { return cmp.Compare(owned[b], owned[a]) })
	for _, i := range byOwned[:extra] {
		quota[i]++
	}

	kept := make(map[tp]bool)
	for i, m := range v.members {
		for _, p := range m.ownedSorted()[:min(owned[i], quota[i])] {
			kept[p] = true
			r.add(m.id, p)
		}
		quota[i] -= min(owned[i], quota[i])
	}

	i := 0
	for _, t := range v.topics {
		for p := range v.counts[t] {
			if kept[tp{t, p}] {
				continue
			}
			for quota[i] == 0 {
				i++
			}
			quota[i]--
			r.add(v.members[i].id, tp{t, p})
		}
	}
}
