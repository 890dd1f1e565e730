package iampolicy

import (
	"encoding/json"
	"testing"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// FuzzParse feeds arbitrary documents to the policy parser and evaluates what it accepts.
// Invariants: no panic; an accepted document evaluates without panicking; and attaching a
// document the parser refuses denies the principal everything.
func FuzzParse(f *testing.F) {
	f.Add([]byte(produceOnly))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kafka-cluster:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]}}}}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kafka-cluster:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse(data)
		e := New(Options{Region: "r", Account: "111122223333", ClusterName: "c"})
		e.SetIAMPolicies("u", map[string]map[string]json.RawMessage{principal: {"p": json.RawMessage(data)}})
		rc := &authz.RequestContext{Principal: auth.User(principal), ClientAddr: "10.1.1.1"}
		for _, a := range []authz.Action{{Operation: authz.OpRead, Resource: authz.Topic("t")}, {Operation: authz.OpAlter, Resource: authz.Cluster}} {
			d := e.Authorize(rc, []authz.Action{a})[0]
			if err != nil && d.Allowed {
				t.Fatalf("a refused document (%v) allowed %s", err, a.Operation)
			}
		}
	})
}
