package quota

import (
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"
)

func str(s string) *string { return &s }

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock                   { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func managerWith(c *fakeClock, q map[string]map[string]float64) *Manager {
	m := NewManager(Config{WindowNum: 11, WindowSize: time.Second, Now: c.now})
	m.SetQuotas(q)
	return m
}

// TestPrecedence checks Kafka's eight-level order: the most specific entity that sets a key wins,
// with no stacking, each key resolved on its own.
func TestPrecedence(t *testing.T) {
	e := func(user, client *string, hasUser, hasClient bool) string {
		en := Entity{}
		if hasUser {
			en[User] = user
		}
		if hasClient {
			en[ClientID] = client
		}
		return en.Key()
	}
	levels := []struct {
		name string
		key  string
	}{
		{"user+client", e(str("alice"), str("app"), true, true)},
		{"user+default-client", e(str("alice"), nil, true, true)},
		{"user", e(str("alice"), nil, true, false)},
		{"default-user+client", e(nil, str("app"), true, true)},
		{"default-user+default-client", e(nil, nil, true, true)},
		{"default-user", e(nil, nil, true, false)},
		{"client", e(nil, str("app"), false, true)},
		{"default-client", e(nil, nil, false, true)},
	}
	// With levels i..7 set (value = 1000 × (i+1)), the client resolves to level i.
	for i := range levels {
		q := map[string]map[string]float64{}
		for j := i; j < len(levels); j++ {
			q[levels[j].key] = map[string]float64{ProducerByteRate: float64(1000 * (j + 1))}
		}
		m := managerWith(newClock(), q)
		r := m.resolve(Client{User: "alice", ClientID: "app"}, m.table.Load())
		if r[0] == nil || r[0].limit != float64(1000*(i+1)) {
			t.Errorf("levels %s..: resolved %+v, want %s", levels[i].name, r[0], levels[i].name)
		}
	}
	// Keys resolve separately: a consumer quota on the user does not hide a produce quota on
	// the client id.
	m := managerWith(newClock(), map[string]map[string]float64{
		e(str("alice"), nil, true, false): {ConsumerByteRate: 5},
		e(nil, str("app"), false, true):   {ProducerByteRate: 7},
	})
	r := m.resolve(Client{User: "alice", ClientID: "app"}, m.table.Load())
	if r[0] == nil || r[0].limit != 7 || r[1] == nil || r[1].limit != 5 || r[2] != nil {
		t.Fatalf("resolution = %+v %+v %+v", r[0], r[1], r[2])
	}
}

// TestSharingFollowsTheMatchedEntity: a quota on a user is shared by all its client ids; a
// default-user quota is measured per user.
func TestSharingFollowsTheMatchedEntity(t *testing.T) {
	clk := newClock()
	m := managerWith(clk, map[string]map[string]float64{
		Entity{User: str("alice")}.Key(): {ProducerByteRate: 1000},
		Entity{User: nil}.Key():          {ProducerByteRate: 1000},
	})
	// alice's two clients share 1000 B/s: 10 s × 1000 B fills it.
	if d := m.Produce(Client{"alice", "a"}, 6000); d != 0 {
		t.Fatalf("first 6000 B throttled %v", d)
	}
	if d := m.Produce(Client{"alice", "b"}, 6000); d == 0 {
		t.Fatal("alice's second client not throttled: the user quota is not shared")
	}
	// bob and carol fall under the default user quota, each with his own measurement.
	if d := m.Produce(Client{"bob", "a"}, 6000); d != 0 {
		t.Fatalf("bob throttled by alice's traffic: %v", d)
	}
	if d := m.Produce(Client{"carol", "a"}, 6000); d != 0 {
		t.Fatalf("carol throttled by bob's traffic: %v", d)
	}
}

// TestThrottleBringsTheRateBackToTheQuota: a client that honours every throttle ends up at its
// quota on average.
func TestThrottleBringsTheRateBackToTheQuota(t *testing.T) {
	clk := newClock()
	m := managerWith(clk, map[string]map[string]float64{Entity{User: str("alice")}.Key(): {ProducerByteRate: 1 << 20}})
	c := Client{"alice", "p"}
	start := clk.t
	var sent float64
	for clk.t.Sub(start) < 60*time.Second {
		d := m.Produce(c, 64<<10)
		sent += 64 << 10
		clk.advance(5*time.Millisecond + d) // a fast producer that waits out every throttle
	}
	rate := sent / clk.t.Sub(start).Seconds()
	if rate < 0.9*(1<<20) || rate > 1.3*(1<<20) {
		t.Fatalf("average rate %.0f B/s over 60 s, want about %d", rate, 1<<20)
	}
}

func TestThrottleCaps(t *testing.T) {
	clk := newClock()
	m := managerWith(clk, map[string]map[string]float64{Entity{ClientID: nil}.Key(): {ProducerByteRate: 1, RequestPercentage: 1e-9}})
	c := Client{"u", "c"}
	// Bandwidth throttles are not capped below what throttle_time_ms can carry (Kafka caps
	// none), and an extreme ratio does not overflow into a negative duration.
	if d := m.Produce(c, 1<<30); d != maxThrottle {
		t.Fatalf("1 GiB at 1 B/s: throttle %v, want %v", d, maxThrottle)
	}
	// The request-time throttle is at most one window, as in Kafka.
	if d := m.RequestTime(c, time.Hour); d != time.Second {
		t.Fatalf("request time at 1e-9%%: throttle %v, want the 1 s window", d)
	}
}

func TestFetchMaxBytesFollowsTheQuota(t *testing.T) {
	m := managerWith(newClock(), map[string]map[string]float64{Entity{User: str("r")}.Key(): {ConsumerByteRate: 1000}})
	if got := m.FetchMaxBytes(Client{"r", "c"}); got != 10000 {
		t.Fatalf("fetch max bytes %d, want 1000 B/s × 10 s", got)
	}
	if got := m.FetchMaxBytes(Client{"other", "c"}); got != -1 {
		t.Fatalf("a client without a consumer quota is capped at %d", got)
	}
	// A throttled fetch is answered empty, so its bytes do not count.
	c := Client{"r", "c"}
	if d := m.Fetch(c, 9000); d != 0 {
		t.Fatalf("9000 B within the allowance throttled %v", d)
	}
	if d := m.Fetch(c, 9000); d == 0 {
		t.Fatal("18000 B in 10 s at 1000 B/s not throttled")
	}
	if d := m.Fetch(c, 900); d != 0 {
		t.Fatalf("the throttled fetch's bytes were counted: 900 more B throttled %v", d)
	}
}

func TestRequestPercentage(t *testing.T) {
	clk := newClock()
	m := managerWith(clk, map[string]map[string]float64{Entity{User: nil}.Key(): {RequestPercentage: 10}})
	// 10% of one thread over a 10 s minimum window is 1 s of handler time.
	if d := m.RequestTime(Client{"u", "c"}, 900*time.Millisecond); d != 0 {
		t.Fatalf("0.9 s throttled %v", d)
	}
	if d := m.RequestTime(Client{"u", "c"}, 300*time.Millisecond); d == 0 {
		t.Fatal("1.2 s of handler time in 10 s not throttled at 10%")
	}
}

func TestMutationsStrictMode(t *testing.T) {
	clk := newClock()
	m := managerWith(clk, map[string]map[string]float64{Entity{User: str("ops")}.Key(): {ControllerMutationRate: 1}})
	c := Client{"ops", "admin"}
	if _, over := m.MutationThrottled(c); over {
		t.Fatal("throttled before any mutation")
	}
	m.Mutations(c, 50) // one request may go over (the quota is checked before, not during)
	d, over := m.MutationThrottled(c)
	if !over || d <= 0 {
		t.Fatalf("after 50 partitions at 1/s: over=%v throttle=%v", over, d)
	}
	if _, over := m.MutationThrottled(Client{"dev", "admin"}); over {
		t.Fatal("a user without a mutation quota is throttled")
	}
}

func TestConnectionCreationRate(t *testing.T) {
	clk := newClock()
	m := managerWith(clk, map[string]map[string]float64{
		Entity{IP: nil}.Key():             {ConnectionCreationRate: 2},
		Entity{IP: str("10.0.0.9")}.Key(): {ConnectionCreationRate: 100},
	})
	limited, generous := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::ffff:10.0.0.9")
	refused := 0
	for i := 0; i < 40; i++ {
		if m.Connection(limited) > 0 {
			refused++
		}
		if m.Connection(generous) > 0 {
			t.Fatal("the specific ip quota did not override the default")
		}
	}
	// 2/s over the 10 s minimum window admits 20.
	if refused != 20 {
		t.Fatalf("%d of 40 connections refused, want 20", refused)
	}
}

func TestNoQuotasCostsNothing(t *testing.T) {
	m := NewManager(Config{})
	if m.Enabled() || m.Produce(Client{"u", "c"}, 1<<30) != 0 || m.Connection(netip.MustParseAddr("127.0.0.1")) != 0 || len(m.sensors) != 0 {
		t.Fatal("a manager without quotas measured something")
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		e     Entity
		key   string
		value float64
		ok    bool
	}{
		{Entity{User: str("a")}, ProducerByteRate, 1024, true},
		{Entity{User: nil, ClientID: str("c")}, RequestPercentage, 12.5, true},
		{Entity{IP: str("10.0.0.1")}, ConnectionCreationRate, 5, true},
		{Entity{IP: nil}, ConnectionCreationRate, 5, true},
		{Entity{}, ProducerByteRate, 1, false},
		{Entity{"group": str("g")}, ProducerByteRate, 1, false},
		{Entity{IP: str("10.0.0.1"), User: str("a")}, ConnectionCreationRate, 1, false},
		{Entity{IP: str("not-an-ip")}, ConnectionCreationRate, 1, false},
		{Entity{User: str("a")}, "bogus_rate", 1, false},
		{Entity{User: str("a")}, ConnectionCreationRate, 1, false},
		{Entity{IP: nil}, ProducerByteRate, 1, false},
		{Entity{User: str("a")}, ProducerByteRate, 0, false},
		{Entity{User: str("a")}, ProducerByteRate, -5, false},
		{Entity{User: str("a")}, ProducerByteRate, 1.5, false},
		{Entity{User: str("a")}, ProducerByteRate, math.NaN(), false},
		{Entity{User: str("")}, ProducerByteRate, 1, false},
		{Entity{ClientID: str("\xff")}, ProducerByteRate, 1, false},
	} {
		err := ValidateEntity(tc.e)
		if err == nil {
			err = ValidateValue(tc.e, tc.key, tc.value)
		}
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%s %s=%v: err %v, want ok=%v", tc.e.Key(), tc.key, tc.value, err, tc.ok)
		}
	}
}

func TestDescribeFilters(t *testing.T) {
	entities := map[string]Entity{
		"alice":        {User: str("alice")},
		"default-user": {User: nil},
		"alice+app":    {User: str("alice"), ClientID: str("app")},
		"app":          {ClientID: str("app")},
		"ip":           {IP: str("10.0.0.1")},
	}
	match := func(components []Component, strict bool) map[string]bool {
		if err := CheckFilter(components); err != nil {
			t.Fatalf("filter %+v: %v", components, err)
		}
		out := map[string]bool{}
		for name, e := range entities {
			if Matches(e, components, strict) {
				out[name] = true
			}
		}
		return out
	}
	cases := []struct {
		components []Component
		strict     bool
		want       []string
	}{
		{nil, false, []string{"alice", "default-user", "alice+app", "app", "ip"}},
		{[]Component{{Type: User, Match: MatchExact, Name: str("alice")}}, false, []string{"alice", "alice+app"}},
		{[]Component{{Type: User, Match: MatchExact, Name: str("alice")}}, true, []string{"alice"}},
		{[]Component{{Type: User, Match: MatchDefault}}, false, []string{"default-user"}},
		{[]Component{{Type: User, Match: MatchAny}}, true, []string{"alice", "default-user"}},
		{[]Component{{Type: ClientID, Match: MatchAny}}, false, []string{"alice+app", "app"}},
		{[]Component{{Type: IP, Match: MatchAny}}, false, []string{"ip"}},
	}
	for _, tc := range cases {
		got := match(tc.components, tc.strict)
		if len(got) != len(tc.want) {
			t.Errorf("%+v strict=%v matched %v, want %v", tc.components, tc.strict, got, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !got[w] {
				t.Errorf("%+v strict=%v matched %v, want %v", tc.components, tc.strict, got, tc.want)
			}
		}
	}
	for _, bad := range [][]Component{
		{{Type: User, Match: MatchAny}, {Type: User, Match: MatchDefault}},
		{{Type: IP, Match: MatchAny}, {Type: User, Match: MatchAny}},
		{{Type: User, Match: MatchExact}},
		{{Type: User, Match: MatchDefault, Name: str("x")}},
		{{Type: "", Match: MatchAny}},
	} {
		if err := CheckFilter(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("filter %+v: %v, want ErrInvalid", bad, err)
		}
	}
	if err := CheckFilter([]Component{{Type: "group", Match: MatchAny}}); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("custom entity type: %v", err)
	}
}
