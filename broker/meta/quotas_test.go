package meta

import (
	"errors"
	"math"
	"testing"
)

func ptr(s string) *string { return &s }

// TestClientQuotas: quotas are set, changed and removed per key; an entity left without keys
// disappears; bad records are refused; everything survives a snapshot and a reopen.
func TestClientQuotas(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	alice := QuotaEntity{QuotaUser: ptr("alice")}
	defUserClient := QuotaEntity{QuotaUser: nil, QuotaClientID: ptr("etl")}
	commitT(t, s, SetClientQuotas{Changes: []QuotaChange{
		{Entity: alice, Set: map[string]float64{"producer_byte_rate": 1 << 20, "request_percentage": 50}},
		{Entity: defUserClient, Set: map[string]float64{"consumer_byte_rate": 4096}},
		{Entity: QuotaEntity{QuotaIP: nil}, Set: map[string]float64{"connection_creation_rate": 10}},
	}})
	st := commitT(t, s, SetClientQuotas{Changes: []QuotaChange{
		{Entity: alice, Remove: []string{"request_percentage"}},
		{Entity: defUserClient, Remove: []string{"consumer_byte_rate"}},
	}})
	if len(st.ClientQuotas) != 2 {
		t.Fatalf("quotas = %+v, want alice and the default ip", st.ClientQuotas)
	}
	if q := st.ClientQuotas[alice.Key()]; len(q.Values) != 1 || q.Values["producer_byte_rate"] != 1<<20 {
		t.Fatalf("alice = %+v", q)
	}
	for _, bad := range []SetClientQuotas{
		{},
		{Changes: []QuotaChange{{Entity: QuotaEntity{}, Set: map[string]float64{"producer_byte_rate": 1}}}},
		{Changes: []QuotaChange{{Entity: QuotaEntity{"group": ptr("g")}, Set: map[string]float64{"producer_byte_rate": 1}}}},
		{Changes: []QuotaChange{{Entity: QuotaEntity{QuotaIP: ptr("10.0.0.1"), QuotaUser: ptr("a")}, Set: map[string]float64{"x": 1}}}},
		{Changes: []QuotaChange{{Entity: alice, Set: map[string]float64{"producer_byte_rate": math.NaN()}}}},
		{Changes: []QuotaChange{{Entity: alice, Set: map[string]float64{"producer_byte_rate": 0}}}},
	} {
		if _, err := s.Commit(bad); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%+v: %v, want ErrInvalidRecord", bad, err)
		}
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
	// Distinct names never share a key, whatever they contain.
	if (QuotaEntity{QuotaUser: ptr("a',user='b")}).Key() == (QuotaEntity{QuotaUser: ptr("a"), "x": ptr("b")}).Key() {
		t.Fatal("entity keys collide")
	}
}
