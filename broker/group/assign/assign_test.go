package assign

import (
	"reflect"
	"slices"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, name := range []string{"uniform", "range"} {
		a, ok := Lookup(name)
		if !ok || a.Name() != name {
			t.Errorf("Lookup(%q) = %v, %v", name, a, ok)
		}
	}
	for _, name := range []string{"", "Uniform", "sticky", "roundrobin"} {
		if a, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) = %v, want none", name, a.Name())
		}
	}
}

// assignCase is one table entry: a spec and the exact result expected.
type assignCase struct {
	name    string
	members []Member
	topics  map[TopicID]Topic
	want    map[string]Partitions
}

// runCases checks every case's exact result, the common invariants, independence from member
// order and that a second run with the result as current assignment changes nothing.
func runCases(t *testing.T, a Assignor, cases []assignCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := Spec{Members: tc.members, Topics: tc.topics}
			got := a.Assign(spec)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
			if err := checkInvariants(spec, got); err != nil {
				t.Fatal(err)
			}
			rev := cloneSpec(spec)
			slices.Reverse(rev.Members)
			if again := a.Assign(rev); !reflect.DeepEqual(again, got) {
				t.Fatalf("reversed members: got %v, want %v", again, got)
			}
			if again := a.Assign(withCurrent(spec, got)); !reflect.DeepEqual(again, got) {
				t.Fatalf("not stable: %v then %v", got, again)
			}
		})
	}
}

func TestRange(t *testing.T) {
	t1, t2, t3 := tid(1), tid(2), tid(3)
	both := []TopicID{t1, t2}
	runCases(t, Range(), []assignCase{
		{
			// Kafka's classic example: 4 partitions over 3 members, the first gets the extra,
			// and the same partition numbers of both topics go to the same member.
			name:    "fresh 3 members 2 co-partitioned topics",
			members: []Member{{ID: "C", Topics: both}, {ID: "A", Topics: both}, {ID: "B", Topics: both}},
			topics:  topicsOf(4, 4),
			want: map[string]Partitions{
				"A": {t1: {0, 1}, t2: {0, 1}},
				"B": {t1: {2}, t2: {2}},
				"C": {t1: {3}, t2: {3}},
			},
		},
		{
			name: "fresh different subscriptions",
			members: []Member{
				{ID: "A", Topics: []TopicID{t1, t3}},
				{ID: "B", Topics: []TopicID{t1, t2}},
				{ID: "C", Topics: []TopicID{t2, t3}},
			},
			topics: topicsOf(3, 3, 2),
			want: map[string]Partitions{
				"A": {t1: {0, 1}, t3: {0}},
				"B": {t1: {2}, t2: {0, 1}},
				"C": {t2: {2}, t3: {1}},
			},
		},
		{
			name:    "more members than partitions",
			members: []Member{{ID: "A", Topics: both}, {ID: "B", Topics: both}, {ID: "C", Topics: both}},
			topics:  topicsOf(2, 1),
			want: map[string]Partitions{
				"A": {t1: {0}, t2: {0}},
				"B": {t1: {1}},
				"C": {},
			},
		},
		{
			// A and B keep the lowest partitions of their quota; C gets what they give up.
			name: "sticky member added",
			members: []Member{
				{ID: "A", Topics: []TopicID{t1}, Current: Partitions{t1: {0, 1, 2}}},
				{ID: "B", Topics: []TopicID{t1}, Current: Partitions{t1: {3, 4, 5}}},
				{ID: "C", Topics: []TopicID{t1}},
			},
			topics: topicsOf(6),
			want: map[string]Partitions{
				"A": {t1: {0, 1}},
				"B": {t1: {3, 4}},
				"C": {t1: {2, 5}},
			},
		},
		{
			name: "sticky member removed",
			members: []Member{
				{ID: "A", Topics: []TopicID{t1}, Current: Partitions{t1: {0, 1}}},
				{ID: "C", Topics: []TopicID{t1}, Current: Partitions{t1: {4, 5}}},
			},
			topics: topicsOf(6),
			want: map[string]Partitions{
				"A": {t1: {0, 1, 2}},
				"C": {t1: {3, 4, 5}},
			},
		},
		{
			// tid(9) is unknown and t2 has no subscriber: neither is assigned.
			name: "unknown and unsubscribed topics",
			members: []Member{
				{ID: "A", Topics: []TopicID{t1, tid(9)}},
				{ID: "B", Topics: []TopicID{tid(9)}},
			},
			topics: topicsOf(2, 5),
			want: map[string]Partitions{
				"A": {t1: {0, 1}},
				"B": {},
			},
		},
	})
}

func TestUniform(t *testing.T) {
	t1, t2 := tid(1), tid(2)
	both := []TopicID{t1, t2}
	runCases(t, Uniform(), []assignCase{
		{
			name:    "fresh homogeneous",
			members: []Member{{ID: "B", Topics: both}, {ID: "C", Topics: both}, {ID: "A", Topics: both}},
			topics:  topicsOf(4, 3),
			want: map[string]Partitions{
				"A": {t1: {0, 1, 2}},
				"B": {t1: {3}, t2: {0}},
				"C": {t2: {1, 2}},
			},
		},
		{
			// Each old member gives up its highest partition; D gets exactly those.
			name: "homogeneous member added",
			members: []Member{
				{ID: "A", Topics: both, Current: Partitions{t1: {0, 1, 2, 3}}},
				{ID: "B", Topics: both, Current: Partitions{t1: {4, 5}, t2: {0, 1}}},
				{ID: "C", Topics: both, Current: Partitions{t2: {2, 3, 4, 5}}},
				{ID: "D", Topics: both},
			},
			topics: topicsOf(6, 6),
			want: map[string]Partitions{
				"A": {t1: {0, 1, 2}},
				"B": {t1: {4, 5}, t2: {0}},
				"C": {t2: {2, 3, 4}},
				"D": {t1: {3}, t2: {1, 5}},
			},
		},
		{
			name: "homogeneous member removed",
			members: []Member{
				{ID: "A", Topics: both, Current: Partitions{t1: {0, 1, 2}}},
				{ID: "B", Topics: both, Current: Partitions{t1: {4, 5}, t2: {0}}},
				{ID: "D", Topics: both, Current: Partitions{t1: {3}, t2: {1, 5}}},
			},
			topics: topicsOf(6, 6),
			want: map[string]Partitions{
				"A": {t1: {0, 1, 2}, t2: {2}},
				"B": {t1: {4, 5}, t2: {0, 3}},
				"D": {t1: {3}, t2: {1, 4, 5}},
			},
		},
		{
			// Topics tie on subscriber count, so t1 goes first, alternating A and B; C, the
			// only other subscriber of t2, takes all of it.
			name: "fresh heterogeneous",
			members: []Member{
				{ID: "A", Topics: []TopicID{t1}},
				{ID: "B", Topics: both},
				{ID: "C", Topics: []TopicID{t2}},
			},
			topics: topicsOf(4, 2),
			want: map[string]Partitions{
				"A": {t1: {0, 2}},
				"B": {t1: {1, 3}},
				"C": {t2: {0, 1}},
			},
		},
		{
			// B joins with a wider subscription: A gives up its most recent partitions only as
			// far as balance needs.
			name: "heterogeneous member added",
			members: []Member{
				{ID: "A", Topics: []TopicID{t1}, Current: Partitions{t1: {0, 1, 2, 3, 4, 5}}},
				{ID: "B", Topics: both},
			},
			topics: topicsOf(6, 2),
			want: map[string]Partitions{
				"A": {t1: {0, 1, 2, 3}},
				"B": {t1: {4, 5}, t2: {0, 1}},
			},
		},
		{
			name:    "no existing topics",
			members: []Member{{ID: "A", Topics: []TopicID{tid(7)}}, {ID: "B"}},
			topics:  topicsOf(3),
			want:    map[string]Partitions{"A": {}, "B": {}},
		},
	})
}

// TestUniformStickyChurn adds and removes members one at a time, feeding each result back as
// the current assignment, and checks that a member only loses what balance requires: after a
// removal survivors keep everything, after an addition each keeps at least its new minimum.
func TestUniformStickyChurn(t *testing.T) {
	for _, hetero := range []bool{false, true} {
		spec := Spec{Topics: topicsOf(7, 5, 12)}
		out := map[string]Partitions{}
		all := []TopicID{tid(1), tid(2), tid(3)}
		steps := []string{"+a", "+b", "+c", "+d", "-b", "+e", "+f", "-a", "-e", "+g", "-c", "-d"}
		for n, step := range steps {
			spec = withCurrent(spec, out)
			id := step[1:]
			if step[0] == '+' {
				topics := all
				if hetero && n%3 == 1 {
					topics = all[:2]
				}
				spec.Members = append(spec.Members, Member{ID: id, Topics: topics})
			} else {
				spec.Members = slices.DeleteFunc(spec.Members, func(m Member) bool { return m.ID == id })
			}
			prev := out
			out = Uniform().Assign(spec)
			if err := checkInvariants(spec, out); err != nil {
				t.Fatalf("hetero=%v step %s: %v", hetero, step, err)
			}
			if err := checkUniformBalance(spec, out); err != nil {
				t.Fatalf("hetero=%v step %s: %v", hetero, step, err)
			}
			for _, m := range spec.Members {
				kept := overlap(prev[m.ID], out[m.ID])
				switch {
				case step[0] == '-' && kept != count(prev[m.ID]):
					t.Errorf("hetero=%v step %s: %s kept %d of %d", hetero, step, m.ID, kept, count(prev[m.ID]))
				case step[0] == '+' && !hetero && kept < min(count(prev[m.ID]), 24/len(spec.Members)):
					t.Errorf("step %s: %s kept only %d of %d", step, m.ID, kept, count(prev[m.ID]))
				}
			}
		}
	}
}

// TestUniformMovesOnlyWhatBalanceNeeds checks the total number of moved partitions when a member
// joins: the extra slots go to the members that already hold more than the minimum.
func TestUniformMovesOnlyWhatBalanceNeeds(t *testing.T) {
	t1 := tid(1)
	spec := Spec{
		Topics: topicsOf(10),
		Members: []Member{
			{ID: "A", Topics: []TopicID{t1}, Current: Partitions{t1: {0, 1, 2, 3}}},
			{ID: "B", Topics: []TopicID{t1}, Current: Partitions{t1: {4, 5, 6}}},
			{ID: "C", Topics: []TopicID{t1}, Current: Partitions{t1: {7, 8, 9}}},
			{ID: "D", Topics: []TopicID{t1}},
		},
	}
	out := Uniform().Assign(spec)
	// 10 partitions over 4 members: quotas 3,3,2,2. D needs 2, so at least 2 must move. Giving
	// the extra slots to A (holding 4) and B (holding 3, before C by id) moves exactly 2: one
	// from A and one from C.
	moved := 0
	for _, m := range spec.Members {
		moved += count(m.Current) - overlap(m.Current, out[m.ID])
	}
	if moved != 2 {
		t.Errorf("moved %d partitions, want 2: %v", moved, out)
	}
	if err := checkUniformBalance(spec, out); err != nil {
		t.Error(err)
	}
}

// TestNoAliasing checks that results share no memory with the spec in either direction.
func TestNoAliasing(t *testing.T) {
	t1 := tid(1)
	for _, a := range []Assignor{Uniform(), Range()} {
		spec := Spec{
			Topics: topicsOf(4),
			Members: []Member{
				{ID: "A", Topics: []TopicID{t1}, Current: Partitions{t1: {0, 1}}},
				{ID: "B", Topics: []TopicID{t1}, Current: Partitions{t1: {2, 3}}},
			},
		}
		orig := cloneSpec(spec)
		out := a.Assign(spec)
		want := map[string]Partitions{"A": clonePartitions(out["A"]), "B": clonePartitions(out["B"])}
		for _, ps := range out {
			for _, list := range ps {
				for i := range list {
					list[i] = -7
				}
			}
		}
		if !reflect.DeepEqual(spec, orig) {
			t.Errorf("%s: writing the result changed the spec: %v", a.Name(), spec)
		}
		out = a.Assign(spec)
		spec.Members[0].Current[t1][0] = 3
		spec.Members[1].Current[t1][0] = 0
		if !reflect.DeepEqual(out, want) {
			t.Errorf("%s: writing the spec changed the result: %v", a.Name(), out)
		}
	}
}

// TestInvalidCurrent feeds current assignments with unknown topics, out-of-range and duplicate
// partitions, a partition claimed twice and a repeated member id.
func TestInvalidCurrent(t *testing.T) {
	t1, t2 := tid(1), tid(2)
	spec := Spec{
		Topics: topicsOf(4, 2),
		Members: []Member{
			{ID: "B", Topics: []TopicID{t1}, Current: Partitions{t1: {1, 1, 9, -1}, tid(8): {0}}},
			{ID: "A", Topics: []TopicID{t1}, Current: Partitions{t1: {1}, t2: {0, 1}}},
			{ID: "A", Topics: []TopicID{t2}},
		},
	}
	for _, a := range []Assignor{Uniform(), Range()} {
		out := a.Assign(spec)
		if err := checkInvariants(spec, out); err != nil {
			t.Errorf("%s: %v", a.Name(), err)
		}
		if !slices.Contains(out["A"][t1], 1) {
			t.Errorf("%s: partition 1 claimed by A and B should stay with A: %v", a.Name(), out)
		}
		rev := cloneSpec(spec)
		slices.Reverse(rev.Members)
		if again := a.Assign(rev); !reflect.DeepEqual(again, out) {
			t.Errorf("%s: order-dependent: %v vs %v", a.Name(), out, again)
		}
	}
}
