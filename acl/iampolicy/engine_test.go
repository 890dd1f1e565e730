package iampolicy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/auth/authz"
)

const principal = "arn:aws:iam::111122223333:user/app"

func engineWith(t *testing.T, docs ...string) *Engine {
	t.Helper()
	e := New(Options{Region: "us-east-1", Account: "111122223333", ClusterName: "c1",
		Now: func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }})
	m := map[string]json.RawMessage{}
	for i, d := range docs {
		if _, err := Parse([]byte(d)); err != nil {
			t.Fatalf("policy %d: %v", i, err)
		}
		m[string(rune('a'+i))] = json.RawMessage(d)
	}
	e.SetIAMPolicies("uuid", map[string]map[string]json.RawMessage{principal: m})
	return e
}

func decide(e *Engine, host string, op authz.Operation, r authz.Resource) authz.Decision {
	rc := &authz.RequestContext{Principal: auth.User(principal), ClientAddr: host}
	return e.Authorize(rc, []authz.Action{{Operation: op, Resource: r}})[0]
}

const produceOnly = `{"Version":"2012-10-17","Statement":[
 {"Sid":"Connect","Effect":"Allow","Action":["kafka-cluster:Connect","kafka-cluster:WriteDataIdempotently"],
  "Resource":"arn:aws:kafka:us-east-1:111122223333:cluster/c1/*"},
 {"Sid":"Produce","Effect":"Allow","Action":["kafka-cluster:DescribeTopic","kafka-cluster:WriteData"],
  "Resource":"arn:aws:kafka:us-east-1:111122223333:topic/c1/*/orders-*"}]}`

func TestProduceOnlyPolicy(t *testing.T) {
	e := engineWith(t, produceOnly)
	cases := []struct {
		op   authz.Operation
		r    authz.Resource
		want bool
	}{
		{authz.OpWrite, authz.Topic("orders-eu"), true},
		{authz.OpDescribe, authz.Topic("orders-eu"), true},
		{authz.OpIdempotentWrite, authz.Cluster, true},
		{authz.OpRead, authz.Topic("orders-eu"), false},
		{authz.OpWrite, authz.Topic("payments"), false},
		{authz.OpCreate, authz.Cluster, false},
		{authz.OpCreate, authz.Topic("orders-new"), false},
		{authz.OpRead, authz.Group("g"), false},
		{authz.OpAlter, authz.Cluster, false},
	}
	for _, tc := range cases {
		if d := decide(e, "10.0.0.1", tc.op, tc.r); d.Allowed != tc.want {
			t.Errorf("%s on %s: allowed=%v, want %v (%s)", tc.op, tc.r, d.Allowed, tc.want, d.DecidedBy)
		}
	}
	d := decide(e, "10.0.0.1", authz.OpRead, authz.Topic("orders-eu"))
	if !strings.Contains(d.DecidedBy, "kafka-cluster:ReadData") || !strings.Contains(d.DecidedBy, "default deny") {
		t.Fatalf("decided by %q", d.DecidedBy)
	}
}

func TestExplicitDenyWins(t *testing.T) {
	e := engineWith(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kafka-cluster:*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":{"Sid":"NoDelete","Effect":"Deny","Action":"kafka-cluster:Delete*","Resource":"*"}}`)
	if d := decide(e, "h", authz.OpWrite, authz.Topic("t")); !d.Allowed {
		t.Fatalf("write: %s", d.DecidedBy)
	}
	d := decide(e, "h", authz.OpDelete, authz.Topic("t"))
	if d.Allowed || !strings.Contains(d.DecidedBy, "NoDelete") {
		t.Fatalf("delete: %+v", d)
	}
}

func TestNoPolicyDeniesAndConnectIsNeeded(t *testing.T) {
	e := engineWith(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kafka-cluster:ReadData","Resource":"*"}]}`)
	d := decide(e, "h", authz.OpRead, authz.Topic("t"))
	if d.Allowed || !strings.Contains(d.DecidedBy, "kafka-cluster:Connect") {
		t.Fatalf("without Connect: %+v", d)
	}
	other := &authz.RequestContext{Principal: auth.User("arn:aws:iam::111122223333:user/other")}
	if e.Authorize(other, []authz.Action{{Operation: authz.OpRead, Resource: authz.Topic("t")}})[0].Allowed {
		t.Fatal("a principal with no policy was allowed")
	}
}

func TestConditions(t *testing.T) {
	e := engineWith(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kafka-cluster:*","Resource":"*",
	  "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]},"StringLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"},
	  "DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}}]}`)
	if d := decide(e, "10.1.2.3", authz.OpRead, authz.Topic("t")); !d.Allowed {
		t.Fatalf("inside the network: %s", d.DecidedBy)
	}
	if d := decide(e, "192.168.1.1", authz.OpRead, authz.Topic("t")); d.Allowed {
		t.Fatal("outside the network allowed")
	}
}

func TestParseRefusesWhatItCannotEvaluate(t *testing.T) {
	for name, doc := range map[string]string{
		"bad version":    `{"Version":"2020","Statement":[{"Effect":"Allow","Action":"kafka-cluster:*","Resource":"*"}]}`,
		"NotAction":      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"kafka-cluster:*","Resource":"*"}]}`,
		"other service":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`,
		"unknown key":    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kafka-cluster:*","Resource":"*","Condition":{"StringEquals":{"kafka:topic":"x"}}}]}`,
		"wrong operator": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kafka-cluster:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIp":"1.2.3.4"}}}]}`,
		"effect":         `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"kafka-cluster:*","Resource":"*"}]}`,
		"unknown field":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kafka-cluster:*","Resource":"*","Extra":1}]}`,
		"no statements":  `{"Version":"2012-10-17","Statement":[]}`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBrokenAttachedPolicyDeniesAll(t *testing.T) {
	e := New(Options{Region: "r", Account: "111122223333", ClusterName: "c"})
	e.SetIAMPolicies("u", map[string]map[string]json.RawMessage{principal: {
		"ok":  json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kafka-cluster:*","Resource":"*"}]}`),
		"bad": json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"x","Resource":"*"}]}`),
	}})
	if d := decide(e, "h", authz.OpRead, authz.Topic("t")); d.Allowed {
		t.Fatal("a principal with an unreadable policy was allowed")
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{{"*", "", true}, {"a*c", "abbbc", true}, {"a?c", "abc", true}, {"a?c", "ac", false}, {"topic/*/x", "topic/c/u/x", true}, {"ab", "abc", false}} {
		if glob(c.p, c.s) != c.want {
			t.Errorf("glob(%q, %q) != %v", c.p, c.s, c.want)
		}
	}
}

// TestTopicDenyHoldsForCreate: a Deny on CreateTopic for some topic names cannot be bypassed by
// the cluster-level CREATE check, which maps to no action.
func TestTopicDenyHoldsForCreate(t *testing.T) {
	e := engineWith(t, `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["kafka-cluster:Connect","kafka-cluster:CreateTopic"],"Resource":"*"},
	  {"Effect":"Deny","Action":"kafka-cluster:CreateTopic","Resource":"arn:aws:kafka:us-east-1:111122223333:topic/c1/*/secret-*"}]}`)
	if decide(e, "h", authz.OpCreate, authz.Cluster).Allowed {
		t.Fatal("CREATE on the cluster allowed: it would let the broker skip the per-topic check")
	}
	if decide(e, "h", authz.OpCreate, authz.Topic("secret-x")).Allowed {
		t.Fatal("a denied topic name may be created")
	}
	if !decide(e, "h", authz.OpCreate, authz.Topic("public")).Allowed {
		t.Fatal("an allowed topic name may not be created")
	}
}

// TestNegatedConditionWithoutAddress: NotIpAddress holds when the address is unknown, so a
// "deny outside the network" guard cannot be slipped by an unparseable address.
func TestNegatedConditionWithoutAddress(t *testing.T) {
	e := engineWith(t, `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kafka-cluster:*","Resource":"*"},
	  {"Effect":"Deny","Action":"kafka-cluster:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)
	for _, host := range []string{"192.168.0.1", "not-an-address", ""} {
		if decide(e, host, authz.OpRead, authz.Topic("t")).Allowed {
			t.Errorf("client %q outside the network allowed", host)
		}
	}
	if !decide(e, "10.1.1.1", authz.OpRead, authz.Topic("t")).Allowed {
		t.Error("client inside the network denied")
	}
	if decide(e, "fe80::1%eth0", authz.OpRead, authz.Topic("t")).Allowed { // outside 10.0.0.0/8, zone or not
		t.Error("a zoned IPv6 address outside the network allowed")
	}
}

// BenchmarkDecision measures one IAM decision (Connect plus the action) under a two-statement
// policy.
func BenchmarkDecision(b *testing.B) {
	e := New(Options{Region: "us-east-1", Account: "111122223333", ClusterName: "c1"})
	e.SetIAMPolicies("uuid", map[string]map[string]json.RawMessage{principal: {"p": json.RawMessage(produceOnly)}})
	r := &authz.RequestContext{Principal: auth.User(principal), ClientAddr: "10.0.0.1"}
	acts := []authz.Action{{Operation: authz.OpWrite, Resource: authz.Topic("orders-eu")}}
	b.ReportAllocs()
	for b.Loop() {
		if !e.Authorize(r, acts)[0].Allowed {
			b.Fatal("denied")
		}
	}
}
