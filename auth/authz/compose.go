package authz

import "github.com/bulwark-kafka/bulwark/auth"

// SuperUsers allows every action for the listed principals ("User:admin") and asks Next for
// everyone else, as Kafka's super.users does for every authorizer.
type SuperUsers struct {
	Users map[string]bool
	Next  Authorizer
}

// NewSuperUsers wraps next; with no super users it returns next itself.
func NewSuperUsers(users []string, next Authorizer) Authorizer {
	if len(users) == 0 {
		return next
	}
	m := make(map[string]bool, len(users))
	for _, u := range users {
		m[u] = true
	}
	return &SuperUsers{Users: m, Next: next}
}

var superDecision = Decision{Allowed: true, DecidedBy: "super.users", Engine: "super.users"}

// Authorize implements Authorizer.
func (s *SuperUsers) Authorize(rc *RequestContext, actions []Action) []Decision {
	if s.Users[rc.Principal.String()] {
		out := make([]Decision, len(actions))
		for i := range out {
			out[i] = superDecision
		}
		return out
	}
	return s.Next.Authorize(rc, actions)
}

// AuthorizeAny implements AnyAuthorizer.
func (s *SuperUsers) AuthorizeAny(rc *RequestContext, op Operation, rt ResourceType) Decision {
	if s.Users[rc.Principal.String()] {
		return superDecision
	}
	return AuthorizeAny(s.Next, rc, op, rt)
}

// Explain implements Explainer.
func (s *SuperUsers) Explain(rc *RequestContext, a Action) Decision {
	if s.Users[rc.Principal.String()] {
		return superDecision
	}
	return Explain(s.Next, rc, a)
}

// Unwrap returns the wrapped authorizer.
func (s *SuperUsers) Unwrap() []Authorizer { return []Authorizer{s.Next} }

// ByMechanism sends principals that logged in with one of the IAM mechanisms to IAM and every
// other principal to Default: bulwark.authorizer.iam.enabled=true.
type ByMechanism struct {
	IAM        Authorizer
	Default    Authorizer
	Mechanisms map[string]bool
}

// IAMMechanisms are the SASL mechanisms whose principals are IAM principals.
var IAMMechanisms = map[string]bool{"AWS_MSK_IAM": true, "OAUTHBEARER": true}

func (m *ByMechanism) pick(rc *RequestContext) Authorizer {
	if m.Mechanisms[rc.Mechanism] {
		return m.IAM
	}
	return m.Default
}

// Authorize implements Authorizer.
func (m *ByMechanism) Authorize(rc *RequestContext, actions []Action) []Decision {
	return m.pick(rc).Authorize(rc, actions)
}

// AuthorizeAny implements AnyAuthorizer.
func (m *ByMechanism) AuthorizeAny(rc *RequestContext, op Operation, rt ResourceType) Decision {
	return AuthorizeAny(m.pick(rc), rc, op, rt)
}

// Unwrap returns both engines.
func (m *ByMechanism) Unwrap() []Authorizer { return []Authorizer{m.Default, m.IAM} }

// Explain implements Explainer.
func (m *ByMechanism) Explain(rc *RequestContext, a Action) Decision {
	return Explain(m.pick(rc), rc, a)
}

// Find returns the first authorizer of type T in a and what it wraps (through Unwrap).
func Find[T any](a Authorizer) (T, bool) {
	if t, ok := a.(T); ok {
		return t, true
	}
	if w, ok := a.(interface{ Unwrap() []Authorizer }); ok {
		for _, inner := range w.Unwrap() {
			if t, ok := Find[T](inner); ok {
				return t, true
			}
		}
	}
	var zero T
	return zero, false
}

// KeepsACLs reports whether a (or what it wraps) stores Kafka ACLs.
func KeepsACLs(a Authorizer) bool {
	_, ok := Find[ACLStore](a)
	return ok
}

// AuthorizeAny asks a for authorizeByResourceType, falling back to the resource type's
// cluster-level equivalent when the engine cannot answer it: IDEMPOTENT_WRITE on the cluster
// for WRITE on any topic.
func AuthorizeAny(a Authorizer, rc *RequestContext, op Operation, rt ResourceType) Decision {
	if aa, ok := a.(AnyAuthorizer); ok {
		return aa.AuthorizeAny(rc, op, rt)
	}
	return Decision{Allowed: false, DecidedBy: "engine cannot answer for any " + rt.String(), Engine: "broker"}
}

// Explain asks a to explain one action, using Authorize when it has no Explain of its own.
func Explain(a Authorizer, rc *RequestContext, act Action) Decision {
	if e, ok := a.(Explainer); ok {
		return e.Explain(rc, act)
	}
	return a.Authorize(rc, []Action{act})[0]
}

// PrincipalOf parses "Type:Name".
func PrincipalOf(s string) (auth.Principal, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			if i == 0 || i == len(s)-1 {
				return auth.Principal{}, false
			}
			return auth.Principal{Type: s[:i], Name: s[i+1:]}, true
		}
	}
	return auth.Principal{}, false
}
