package assign

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// byteReader hands out the fuzz input one byte at a time, then zeros.
type byteReader struct {
	data []byte
	pos  int
}

func (r *byteReader) next() byte {
	if r.pos >= len(r.data) {
		return 0
	}
	r.pos++
	return r.data[r.pos-1]
}

// fuzzSpec is a spec built from fuzz bytes, with what the generator knows about it.
type fuzzSpec struct {
	spec        Spec
	homogeneous bool // every member subscribes to the same topics
	clean       bool // current assignments are valid: no conflicts, garbage or repeated ids
	fresh       bool // no member has a current assignment
}

// Flag bits of the first fuzz byte.
const (
	fuzzHomogeneous = 1 << iota // one subscription for every member
	fuzzGarbage                 // unknown topics, bad and doubly claimed partitions in Current
	fuzzStatic                  // members have instance ids
	fuzzRepeatID                // the last member repeats the first one's id
	fuzzFresh                   // no current assignment
	fuzzUnknown                 // subscriptions include a topic missing from metadata
)

// buildFuzzSpec decodes: flags, topic count (1-4), each topic's partition count (0-8), member
// count (0-7), each member's subscription mask, then per partition an owner byte.
func buildFuzzSpec(data []byte) fuzzSpec {
	r := &byteReader{data: data}
	flags := r.next()
	fs := fuzzSpec{
		homogeneous: flags&fuzzHomogeneous != 0,
		clean:       flags&(fuzzGarbage|fuzzRepeatID) == 0,
		fresh:       flags&fuzzFresh != 0,
		spec:        Spec{Topics: make(map[TopicID]Topic)},
	}
	nTopics := int(r.next()%4) + 1
	ids := make([]TopicID, nTopics)
	for i := range ids {
		// Spread the ids so that sorting by id differs from creation order.
		ids[i] = TopicID{byte(200 - 37*i), byte(i)}
		fs.spec.Topics[ids[i]] = Topic{ID: ids[i], Partitions: int32(r.next() % 9)}
	}
	unknown := TopicID{0xEE}

	nMembers := int(r.next() % 8)
	mask := r.next()
	for i := range nMembers {
		if !fs.homogeneous {
			mask = r.next()
		}
		// Distinct ids (5 is invertible mod 11) whose sorted order differs from creation order.
		m := Member{ID: fmt.Sprintf("m%02d", (i*5+3)%11), Current: Partitions{}}
		for b, t := range ids {
			if mask&(1<<b) != 0 {
				m.Topics = append(m.Topics, t)
			}
		}
		if flags&fuzzUnknown != 0 && mask&0x80 != 0 {
			m.Topics = append(m.Topics, unknown)
		}
		if flags&fuzzStatic != 0 {
			m.InstanceID = "static-" + m.ID
		}
		fs.spec.Members = append(fs.spec.Members, m)
	}
	if nMembers > 1 && flags&fuzzRepeatID != 0 {
		fs.spec.Members[nMembers-1].ID = fs.spec.Members[0].ID
	}
	if !fs.fresh && nMembers > 0 {
		fillFuzzCurrent(r, fs.spec, ids, flags&fuzzGarbage != 0)
	}
	return fs
}

// fillFuzzCurrent gives each partition at most one current owner, then with garbage set adds
// partitions that are out of range, of unknown topics, or already owned by another member.
func fillFuzzCurrent(r *byteReader, spec Spec, ids []TopicID, garbage bool) {
	n := len(spec.Members)
	for _, t := range ids {
		for p := range spec.Topics[t].Partitions {
			if o := int(r.next()) % (n + 1); o < n {
				cur := spec.Members[o].Current
				cur[t] = append(cur[t], p)
			}
		}
	}
	if !garbage {
		return
	}
	for i := range spec.Members {
		cur := spec.Members[i].Current
		t := ids[int(r.next())%len(ids)]
		cur[t] = append(cur[t], spec.Topics[t].Partitions+int32(r.next()%3), -1, 0)
		cur[TopicID{0xEE}] = []int32{0, 1}
	}
}

// shuffled returns a copy of spec with its members in a byte-driven order.
func shuffled(spec Spec, seed []byte) Spec {
	c := cloneSpec(spec)
	r := &byteReader{data: seed}
	for i := len(c.Members) - 1; i > 0; i-- {
		j := int(r.next()) % (i + 1)
		c.Members[i], c.Members[j] = c.Members[j], c.Members[i]
	}
	if len(seed)%2 == 1 {
		for i, j := 0, len(c.Members)-1; i < j; i, j = i+1, j-1 {
			c.Members[i], c.Members[j] = c.Members[j], c.Members[i]
		}
	}
	return c
}

// checkCommon checks what holds for every assignor: the invariants of checkInvariants, the
// same result under a shuffled member order, a stable result when fed back as the current
// assignment, and an untouched spec.
func checkCommon(a Assignor, spec Spec, seed []byte) (map[string]Partitions, error) {
	orig := cloneSpec(spec)
	out := a.Assign(spec)
	if !reflect.DeepEqual(spec, orig) {
		return nil, fmt.Errorf("spec modified")
	}
	if err := checkInvariants(spec, out); err != nil {
		return nil, err
	}
	if again := a.Assign(shuffled(spec, seed)); !reflect.DeepEqual(again, out) {
		return nil, fmt.Errorf("shuffled members: %v, want %v", again, out)
	}
	if again := a.Assign(withCurrent(spec, out)); !reflect.DeepEqual(again, out) {
		return nil, fmt.Errorf("fed back: %v, want %v", again, out)
	}
	return out, nil
}

func addFuzzSeeds(f *testing.F) {
	f.Add([]byte{fuzzHomogeneous | fuzzFresh, 1, 4, 4, 3, 3})
	f.Add([]byte{fuzzHomogeneous, 3, 8, 5, 7, 3, 4, 0xff, 0, 1, 2, 3, 0, 1, 2, 3, 3, 3, 2, 1, 0})
	f.Add([]byte{0, 3, 6, 2, 8, 1, 5, 1, 3, 2, 6, 4, 1, 0, 1, 0, 2, 2, 2, 2, 1, 1, 0, 5, 4, 3})
	f.Add([]byte{fuzzGarbage | fuzzRepeatID | fuzzUnknown, 2, 5, 5, 4, 0x81, 0x83, 2, 3, 1, 1, 1, 2, 2, 0, 0, 7, 7})
	f.Add([]byte{fuzzStatic | fuzzFresh, 0, 8, 7, 1, 1, 1, 1, 1, 1, 1, 1})
}

// FuzzUniform checks the uniform assignor on random specs. Invariants: every partition of every
// subscribed existing topic goes to exactly one member subscribing to it; results do not depend
// on member order, are stable when fed back and leave the spec alone; members with identical
// subscriptions (all members, when homogeneous) hold counts differing by at most one; and with a
// valid homogeneous current assignment every member keeps at least min(owned, total/members).
func FuzzUniform(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := buildFuzzSpec(data)
		out, err := checkCommon(Uniform(), fs.spec, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkUniformBalance(fs.spec, out); err != nil {
			t.Fatal(err)
		}
		if !fs.homogeneous || !fs.clean || len(fs.spec.Members) == 0 {
			return
		}
		total := 0
		for _, t := range fs.spec.Members[0].Topics {
			total += int(fs.spec.Topics[t].Partitions)
		}
		floor := total / len(fs.spec.Members)
		for _, m := range fs.spec.Members {
			owned := 0
			for _, t := range m.Topics {
				owned += len(m.Current[t])
			}
			if kept := overlap(m.Current, out[m.ID]); kept < min(owned, floor) {
				t.Fatalf("%s kept %d of %d, floor %d: %v", m.ID, kept, owned, floor, out)
			}
		}
	})
}

// FuzzRange checks the range assignor on random specs. Invariants: those of checkCommon; per
// topic, subscriber counts differ by at most one; and for a fresh group each subscriber of a
// topic, in member id order, gets the next contiguous range, the first n%m one partition longer.
func FuzzRange(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := buildFuzzSpec(data)
		out, err := checkCommon(Range(), fs.spec, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkRangeBalance(fs.spec, out); err != nil {
			t.Fatal(err)
		}
		if fs.fresh && fs.clean {
			if err := checkFreshRanges(fs.spec, out); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// checkFreshRanges checks the classic range layout of a group without current assignments.
func checkFreshRanges(spec Spec, out map[string]Partitions) error {
	subs := make(map[TopicID][]string)
	for _, m := range spec.Members {
		for _, t := range m.Topics {
			if _, ok := spec.Topics[t]; ok {
				subs[t] = append(subs[t], m.ID)
			}
		}
	}
	for t, ids := range subs {
		slices.Sort(ids)
		n, m := int(spec.Topics[t].Partitions), len(ids)
		next := int32(0)
		for k, id := range ids {
			size := n / m
			if k < n%m {
				size++
			}
			var want []int32
			for range size {
				want = append(want, next)
				next++
			}
			if got := out[id][t]; !reflect.DeepEqual(got, want) {
				return fmt.Errorf("topic %x member %s: got %v, want %v", t[:2], id, got, want)
			}
		}
	}
	return nil
}
