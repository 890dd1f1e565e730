package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

func testACL(topic, principal string, op authz.Operation) authz.Binding {
	return authz.Binding{Pattern: authz.Pattern{Type: authz.ResourceTopic, Name: topic, PatternType: authz.PatternLiteral},
		Entry: authz.Entry{Principal: principal, Host: "*", Operation: op, Permission: authz.Allow}}
}

func TestACLRecordsSurviveReplayAndSnapshot(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	a, b := testACL("t", "User:alice", authz.OpRead), testACL("t", "User:bob", authz.OpWrite)
	commitT(t, s, CreateACLs{ACLs: []authz.Binding{a, b}})
	commitT(t, s, CreateACLs{ACLs: []authz.Binding{a}}) // a duplicate is kept once
	commitT(t, s, DeleteACLs{ACLs: []authz.Binding{b}})
	commitT(t, s, SetIAMPolicy{PrincipalARN: "arn:aws:iam::1:user/p", Name: "produce", Document: json.RawMessage(`{"Version":"2012-10-17","Statement":[]}`)})
	st := s.State()
	if len(st.ACLs) != 1 || len(st.IAMPolicies["arn:aws:iam::1:user/p"]) != 1 {
		t.Fatalf("state: %d ACLs, policies %v", len(st.ACLs), st.IAMPolicies)
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
}

func TestACLRecordValidation(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	bad := testACL("t", "alice", authz.OpRead) // no principal type
	if _, err := s.Commit(CreateACLs{ACLs: []authz.Binding{bad}}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("bad principal: %v", err)
	}
	anyOp := testACL("t", "User:alice", authz.OpAny)
	if _, err := s.Commit(CreateACLs{ACLs: []authz.Binding{anyOp}}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("ANY operation: %v", err)
	}
	if _, err := s.Commit(SetIAMPolicy{PrincipalARN: "arn", Name: "p", Document: json.RawMessage(`{`)}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("bad policy JSON: %v", err)
	}
	if _, err := s.Commit(DeleteIAMPolicy{PrincipalARN: "arn", Name: "p"}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("deleting a missing policy: %v", err)
	}
}

// TestACLStatesAreNotShared: a published State keeps its ACLs when later records add or remove
// some (the builder copies the set once per commit, then changes its own copy), and a replay of
// many ACL records rebuilds the same set.
func TestACLStatesAreNotShared(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	a, b := testACL("t", "User:a", authz.OpRead), testACL("t", "User:b", authz.OpRead)
	first := commitT(t, s, CreateACLs{ACLs: []authz.Binding{a}})
	commitT(t, s, CreateACLs{ACLs: []authz.Binding{b}}, DeleteACLs{ACLs: []authz.Binding{a}})
	if _, ok := first.ACLs[a]; !ok || len(first.ACLs) != 1 {
		t.Fatalf("an earlier state changed: %v", first.ACLs)
	}
	for i := range 200 {
		commitT(t, s, CreateACLs{ACLs: []authz.Binding{testACL(fmt.Sprintf("topic-%d", i), "User:c", authz.OpWrite)}})
	}
	commitT(t, s, DeleteACLs{ACLs: []authz.Binding{b}})
	st := s.State()
	if len(st.ACLs) != 200 {
		t.Fatalf("%d ACLs, want 200", len(st.ACLs))
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), st)
	// Deleting every ACL leaves none (nil, as a snapshot restores it).
	commitT(t, s, DeleteACLs{ACLs: st.ACLList()})
	if s.State().ACLs != nil {
		t.Fatal("an empty ACL set is not nil")
	}
}
