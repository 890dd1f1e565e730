package meta

import (
	"encoding/json"
	"errors"
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
