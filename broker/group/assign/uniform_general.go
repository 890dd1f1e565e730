package assign

import (
	"cmp"
	"slices"
)

// generalBuilder assigns when members subscribe to different topics. It keeps every valid
// current partition, hands out the unowned ones greedily to the least loaded eligible member,
// then moves partitions from a member to an eligible member holding at least two fewer until no
// such move remains.
type generalBuilder struct {
	v     *view
	owner map[tp]grant // partition -> its current grant
	count []int        // partitions held per member
	// held lists each member's grants in the order it got them: kept partitions first, then new
	// ones. A grant that is no longer its partition's current one is stale and skipped; grants
	// carry a serial so that a partition that leaves a member and comes back is not seen twice.
	held   [][]heldTP
	serial int
}

// grant records which member got a partition, and when.
type grant struct{ member, serial int }

// heldTP is one entry of a member's held list.
type heldTP struct {
	p      tp
	serial int
}

func newGeneralBuilder(v *view) *generalBuilder {
	return &generalBuilder{
		v:     v,
		owner: make(map[tp]grant),
		count: make([]int, len(v.members)),
		held:  make([][]heldTP, len(v.members)),
	}
}

// build fills r with the assignment.
func (b *generalBuilder) build(r result) {
	for i, m := range b.v.members {
		for _, p := range m.ownedSorted() {
			b.give(p, i)
		}
	}
	b.assignUnowned()
	for b.rebalanceRound() {
	}
	for _, t := range b.v.topics {
		for p := range b.v.counts[t] {
			r.add(b.v.members[b.owner[tp{t, p}].member].id, tp{t, p})
		}
	}
}

// give assigns p to member i; p must be unowned.
func (b *generalBuilder) give(p tp, i int) {
	b.serial++
	b.owner[p] = grant{i, b.serial}
	b.count[i]++
	b.held[i] = append(b.held[i], heldTP{p, b.serial})
}

// move reassigns p from its owner to member to.
func (b *generalBuilder) move(p tp, to int) {
	b.count[b.owner[p].member]--
	delete(b.owner, p)
	b.give(p, to)
}

// leastLoaded returns the subscriber of t holding the fewest partitions, the lowest member id
// on a tie.
func (b *generalBuilder) leastLoaded(t TopicID) int {
	subs := b.v.subbers[t]
	best := subs[0]
	for _, i := range subs[1:] {
		if b.count[i] < b.count[best] {
			best = i
		}
	}
	return best
}

// assignUnowned hands every unowned partition to the least loaded eligible member. Topics with
// the fewest subscribers go first, since their partitions have the fewest places to go.
func (b *generalBuilder) assignUnowned() {
	topics := slices.Clone(b.v.topics)
	slices.SortStableFunc(topics, func(x, y TopicID) int {
		return cmp.Compare(len(b.v.subbers[x]), len(b.v.subbers[y]))
	})
	for _, t := range topics {
		for p := range b.v.counts[t] {
			if _, ok := b.owner[tp{t, p}]; !ok {
				b.give(tp{t, p}, b.leastLoaded(t))
			}
		}
	}
}

// rebalanceRound visits members from most to least loaded and moves each partition, most
// recently acquired first, to its least loaded eligible member when that one holds at least two
// fewer. It reports whether anything moved. Every move lowers the sum of squared member sizes,
// so rounds stop; afterwards members with identical subscriptions differ by at most one, as
// every partition of one is eligible for the other.
func (b *generalBuilder) rebalanceRound() bool {
	order := make([]int, len(b.v.members))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(b.count[y], b.count[x]) })

	moved := false
	for _, i := range order {
		live := b.compact(i)
		for k := len(live) - 1; k >= 0; k-- {
			p := live[k]
			to := b.leastLoaded(p.topic)
			if b.count[to] < b.count[i]-1 {
				b.move(p, to)
				moved = true
			}
		}
	}
	return moved
}

// compact drops member i's stale held entries and returns its partitions in the order it got
// them. The returned slice is a copy, so it stays valid while moves append to held.
func (b *generalBuilder) compact(i int) []tp {
	live := b.held[i][:0]
	out := make([]tp, 0, len(b.held[i]))
	for _, h := range b.held[i] {
		if b.owner[h.p] == (grant{i, h.serial}) {
			live = append(live, h)
			out = append(out, h.p)
		}
	}
	b.held[i] = live
	return out
}
