package acl

import (
	"fmt"
	"testing"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/auth/authz"
)

func bind(rt authz.ResourceType, name string, pt authz.PatternType, principal, host string, op authz.Operation, perm authz.Permission) authz.Binding {
	return authz.Binding{Pattern: authz.Pattern{Type: rt, Name: name, PatternType: pt},
		Entry: authz.Entry{Principal: principal, Host: host, Operation: op, Permission: perm}}
}

func lit(name, principal string, op authz.Operation, perm authz.Permission) authz.Binding {
	return bind(authz.ResourceTopic, name, authz.PatternLiteral, principal, "*", op, perm)
}

func pre(name, principal string, op authz.Operation, perm authz.Permission) authz.Binding {
	return bind(authz.ResourceTopic, name, authz.PatternPrefixed, principal, "*", op, perm)
}

func ctx(user, host string) *authz.RequestContext {
	return &authz.RequestContext{Principal: auth.User(user), ClientAddr: host}
}

// TestDecisions follows Kafka's documented StandardAuthorizer semantics case by case.
func TestDecisions(t *testing.T) {
	const (
		R, W, D, A  = authz.OpRead, authz.OpWrite, authz.OpDescribe, authz.OpAlter
		DC, AC, ALL = authz.OpDescribeConfigs, authz.OpAlterConfigs, authz.OpAll
		DEL         = authz.OpDelete
		allow, deny = authz.Allow, authz.Deny
	)
	cases := []struct {
		name         string
		acls         []authz.Binding
		allowIfNoACL bool
		user, host   string
		op           authz.Operation
		topic        string
		want         bool
	}{
		{"literal allow", []authz.Binding{lit("orders", "User:alice", R, allow)}, false, "alice", "10.0.0.1", R, "orders", true},
		{"literal other name", []authz.Binding{lit("orders", "User:alice", R, allow)}, false, "alice", "10.0.0.1", R, "orders2", false},
		{"literal other principal", []authz.Binding{lit("orders", "User:alice", R, allow)}, false, "bob", "10.0.0.1", R, "orders", false},
		{"literal other op", []authz.Binding{lit("orders", "User:alice", R, allow)}, false, "alice", "10.0.0.1", W, "orders", false},
		{"wildcard name", []authz.Binding{lit("*", "User:alice", R, allow)}, false, "alice", "h", R, "anything", true},
		{"wildcard principal", []authz.Binding{lit("orders", "User:*", R, allow)}, false, "bob", "h", R, "orders", true},
		{"prefix matches", []authz.Binding{pre("ord", "User:alice", W, allow)}, false, "alice", "h", W, "orders", true},
		{"prefix equal name", []authz.Binding{pre("orders", "User:alice", W, allow)}, false, "alice", "h", W, "orders", true},
		{"prefix longer than name", []authz.Binding{pre("orders-eu", "User:alice", W, allow)}, false, "alice", "h", W, "orders", false},
		{"prefix not literal", []authz.Binding{lit("ord", "User:alice", W, allow)}, false, "alice", "h", W, "orders", false},
		{"host match", []authz.Binding{bind(authz.ResourceTopic, "t", authz.PatternLiteral, "User:alice", "10.0.0.1", R, allow)}, false, "alice", "10.0.0.1", R, "t", true},
		{"IPv6 host in Java's long form", []authz.Binding{bind(authz.ResourceTopic, "t", authz.PatternLiteral, "User:alice", "0:0:0:0:0:0:0:1", R, allow)}, false, "alice", "::1", R, "t", true},
		{"host mismatch", []authz.Binding{bind(authz.ResourceTopic, "t", authz.PatternLiteral, "User:alice", "10.0.0.1", R, allow)}, false, "alice", "10.0.0.2", R, "t", false},
		{"read implies describe", []authz.Binding{lit("t", "User:alice", R, allow)}, false, "alice", "h", D, "t", true},
		{"write implies describe", []authz.Binding{lit("t", "User:alice", W, allow)}, false, "alice", "h", D, "t", true},
		{"delete implies describe", []authz.Binding{lit("t", "User:alice", DEL, allow)}, false, "alice", "h", D, "t", true},
		{"alter implies describe", []authz.Binding{lit("t", "User:alice", A, allow)}, false, "alice", "h", D, "t", true},
		{"alter_configs implies describe_configs", []authz.Binding{lit("t", "User:alice", AC, allow)}, false, "alice", "h", DC, "t", true},
		{"describe implies nothing", []authz.Binding{lit("t", "User:alice", D, allow)}, false, "alice", "h", R, "t", false},
		{"describe_configs does not imply describe", []authz.Binding{lit("t", "User:alice", DC, allow)}, false, "alice", "h", D, "t", false},
		{"all allows everything", []authz.Binding{lit("t", "User:alice", ALL, allow)}, false, "alice", "h", AC, "t", true},
		{"deny wins over allow", []authz.Binding{lit("t", "User:alice", R, allow), lit("t", "User:alice", R, deny)}, false, "alice", "h", R, "t", false},
		{"prefixed deny wins over literal allow", []authz.Binding{lit("orders", "User:alice", R, allow), pre("ord", "User:alice", R, deny)}, false, "alice", "h", R, "orders", false},
		{"wildcard-principal deny wins", []authz.Binding{lit("t", "User:alice", R, allow), lit("t", "User:*", R, deny)}, false, "alice", "h", R, "t", false},
		{"deny read keeps implied describe", []authz.Binding{lit("t", "User:alice", R, allow), lit("t", "User:alice", R, deny), lit("t", "User:alice", W, allow)}, false, "alice", "h", D, "t", true},
		{"deny read does not deny describe", []authz.Binding{lit("t", "User:alice", ALL, allow), lit("t", "User:alice", R, deny)}, false, "alice", "h", D, "t", true},
		{"deny all denies describe", []authz.Binding{lit("t", "User:alice", D, allow), lit("t", "User:alice", ALL, deny)}, false, "alice", "h", D, "t", false},
		{"deny for other host ignored", []authz.Binding{lit("t", "User:alice", R, allow), bind(authz.ResourceTopic, "t", authz.PatternLiteral, "User:alice", "10.9.9.9", R, deny)}, false, "alice", "10.0.0.1", R, "t", true},
		{"no ACLs, default deny", nil, false, "alice", "h", R, "t", false},
		{"no ACLs, allow.everyone", nil, true, "alice", "h", R, "t", true},
		{"ACLs for others, allow.everyone does not apply", []authz.Binding{lit("t", "User:bob", R, allow)}, true, "alice", "h", R, "t", false},
		{"ACL for another op, allow.everyone does not apply", []authz.Binding{lit("t", "User:alice", W, allow)}, true, "alice", "h", R, "t", false},
		{"ACL on another topic, allow.everyone applies", []authz.Binding{lit("u", "User:bob", R, allow)}, true, "alice", "h", R, "t", true},
		{"prefixed ACL counts as found", []authz.Binding{pre("t", "User:bob", R, allow)}, true, "alice", "h", R, "topic", false},
		{"group type separate", []authz.Binding{bind(authz.ResourceGroup, "t", authz.PatternLiteral, "User:alice", "*", R, allow)}, false, "alice", "h", R, "t", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(tc.allowIfNoACL)
			e.SetACLs(tc.acls)
			d := e.Authorize(ctx(tc.user, tc.host), []authz.Action{{Operation: tc.op, Resource: authz.Topic(tc.topic)}})[0]
			if d.Allowed != tc.want {
				t.Fatalf("allowed = %v, want %v (decided by %s)", d.Allowed, tc.want, d.DecidedBy)
			}
			if d.DecidedBy == "" || d.Engine != "acl" {
				t.Fatalf("decision %+v names no cause", d)
			}
		})
	}
}

func TestDecidedByNamesTheBinding(t *testing.T) {
	e := New(false)
	e.SetACLs([]authz.Binding{lit("t", "User:alice", authz.OpRead, authz.Allow), pre("t", "User:alice", authz.OpAll, authz.Deny)})
	d := e.Explain(ctx("alice", "1.2.3.4"), authz.Action{Operation: authz.OpRead, Resource: authz.Topic("t")})
	want := "ACL (principal=User:alice, host=*, operation=ALL, permission=DENY) on Topic:PREFIXED:t"
	if d.Allowed || d.DecidedBy != want {
		t.Fatalf("got %+v, want denied by %q", d, want)
	}
}

func TestAuthorizeAny(t *testing.T) {
	W := authz.OpWrite
	cases := []struct {
		name         string
		acls         []authz.Binding
		allowIfNoACL bool
		want         bool
	}{
		{"no ACLs", nil, false, false},
		{"no ACLs, allow.everyone", nil, true, true},
		{"literal write", []authz.Binding{lit("t", "User:alice", W, authz.Allow)}, false, true},
		{"prefixed write", []authz.Binding{pre("t-", "User:alice", W, authz.Allow)}, false, true},
		{"other principal", []authz.Binding{lit("t", "User:bob", W, authz.Allow)}, false, false},
		{"read only", []authz.Binding{lit("t", "User:alice", authz.OpRead, authz.Allow)}, false, false},
		{"denied literal same name", []authz.Binding{lit("t", "User:alice", W, authz.Allow), lit("t", "User:alice", W, authz.Deny)}, false, false},
		{"denied by covering prefix", []authz.Binding{pre("t-eu", "User:alice", W, authz.Allow), pre("t-", "User:alice", W, authz.Deny)}, false, false},
		{"deny on narrower prefix leaves allow", []authz.Binding{pre("t-", "User:alice", W, authz.Allow), pre("t-eu", "User:alice", W, authz.Deny)}, false, true},
		{"deny wildcard", []authz.Binding{lit("t", "User:alice", W, authz.Allow), lit("*", "User:*", W, authz.Deny)}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(tc.allowIfNoACL)
			e.SetACLs(tc.acls)
			if d := e.AuthorizeAny(ctx("alice", "h"), W, authz.ResourceTopic); d.Allowed != tc.want {
				t.Fatalf("allowed = %v, want %v (%s)", d.Allowed, tc.want, d.DecidedBy)
			}
		})
	}
}

func TestSuperUsers(t *testing.T) {
	e := New(false)
	a := authz.NewSuperUsers([]string{"User:admin"}, e)
	acts := []authz.Action{{Operation: authz.OpAlter, Resource: authz.Cluster}}
	if d := a.Authorize(ctx("admin", "h"), acts)[0]; !d.Allowed || d.DecidedBy != "super.users" {
		t.Fatalf("super user: %+v", d)
	}
	if d := a.Authorize(ctx("bob", "h"), acts)[0]; d.Allowed {
		t.Fatalf("ordinary user: %+v", d)
	}
	// A super user is allowed even against a DENY, as in Kafka.
	e.SetACLs([]authz.Binding{bind(authz.ResourceCluster, authz.ClusterName, authz.PatternLiteral, "User:*", "*", authz.OpAll, authz.Deny)})
	if d := a.Authorize(ctx("admin", "h"), acts)[0]; !d.Allowed {
		t.Fatalf("super user against deny: %+v", d)
	}
}

// BenchmarkDecision shows a literal-name decision does not grow with the number of ACLs.
func BenchmarkDecision(b *testing.B) {
	for _, n := range []int{10, 100000} {
		b.Run(fmt.Sprintf("acls=%d", n), func(b *testing.B) {
			bs := make([]authz.Binding, 0, n)
			for i := range n {
				bs = append(bs, lit(fmt.Sprintf("topic-%d", i), fmt.Sprintf("User:u%d", i%100), authz.OpRead, authz.Allow))
			}
			e := New(false)
			e.SetACLs(bs)
			rc := ctx("u7", "10.0.0.1")
			acts := []authz.Action{{Operation: authz.OpRead, Resource: authz.Topic("topic-7")}}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if !e.Authorize(rc, acts)[0].Allowed {
					b.Fatal("denied")
				}
			}
		})
	}
}
