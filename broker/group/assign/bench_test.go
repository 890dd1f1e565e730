package assign

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchSpec builds a group of members over topics of 64 partitions each. Heterogeneous groups
// subscribe each member to a random half of the topics.
func benchSpec(members, topics int, hetero bool) Spec {
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]int32, topics)
	for i := range counts {
		counts[i] = 64
	}
	spec := Spec{Topics: topicsOf(counts...)}
	for i := range members {
		m := Member{ID: fmt.Sprintf("member-%04d", i)}
		for k := range topics {
			if !hetero || rng.IntN(2) == 0 {
				m.Topics = append(m.Topics, tid(byte(k+1)))
			}
		}
		spec.Members = append(spec.Members, m)
	}
	return spec
}

func benchmarkAssign(b *testing.B, a Assignor, spec Spec) {
	fresh := a.Assign(spec)
	// Drop every tenth member so the measured run has to rebalance a sticky assignment.
	next := withCurrent(spec, fresh)
	next.Members = next.Members[:0]
	for i, m := range withCurrent(spec, fresh).Members {
		if i%10 != 0 {
			next.Members = append(next.Members, m)
		}
	}
	for b.Loop() {
		a.Assign(next)
	}
}

func BenchmarkUniformHomogeneous(b *testing.B) {
	benchmarkAssign(b, Uniform(), benchSpec(500, 100, false))
}

func BenchmarkUniformHeterogeneous(b *testing.B) {
	benchmarkAssign(b, Uniform(), benchSpec(500, 100, true))
}

func BenchmarkRange(b *testing.B) {
	benchmarkAssign(b, Range(), benchSpec(500, 100, true))
}
