package acl

import (
	"net"
	"slices"
	"sync/atomic"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// Engine is the Kafka ACL authorizer.
type Engine struct {
	// allowIfNoACL is allow.everyone.if.no.acl.found.
	allowIfNoACL bool
	idx          atomic.Pointer[index]
}

// New returns an engine with no ACLs.
func New(allowEveryoneIfNoACLFound bool) *Engine {
	e := &Engine{allowIfNoACL: allowEveryoneIfNoACLFound}
	e.idx.Store(buildIndex(nil))
	return e
}

// SetACLs implements authz.ACLStore: it replaces the engine's ACLs.
func (e *Engine) SetACLs(bindings []authz.Binding) { e.idx.Store(buildIndex(bindings)) }

// Len returns how many ACLs the engine holds.
func (e *Engine) Len() int { return e.idx.Load().n }

// index is an immutable lookup structure over one set of ACLs.
type index struct {
	n int
	// literal maps a resource type to its literal ACLs by name ("*" included).
	literal map[authz.ResourceType]map[string][]*rule
	// prefixed maps a resource type to its prefixed ACLs by prefix, and prefixLens to the
	// distinct prefix lengths in use, ascending: a name is looked up once per length.
	prefixed   map[authz.ResourceType]map[string][]*rule
	prefixLens map[authz.ResourceType][]int
}

// rule is one indexed ACL with its "decided by" text, built once so decisions do not format.
type rule struct {
	authz.Binding
	decidedBy string
	// host is the binding's host in Go's canonical IP form, so "0:0:0:0:0:0:0:1" (Java's form
	// of ::1, which Kafka users write) matches a client at ::1.
	host string
}

func buildIndex(bindings []authz.Binding) *index {
	ix := &index{n: len(bindings), literal: map[authz.ResourceType]map[string][]*rule{},
		prefixed: map[authz.ResourceType]map[string][]*rule{}, prefixLens: map[authz.ResourceType][]int{}}
	for _, bd := range bindings {
		b := &rule{Binding: bd, decidedBy: "ACL " + bd.String(), host: bd.Entry.Host}
		if ip := net.ParseIP(bd.Entry.Host); ip != nil {
			b.host = ip.String()
		}
		p := b.Pattern
		switch p.PatternType {
		case authz.PatternLiteral:
			m := ix.literal[p.Type]
			if m == nil {
				m = map[string][]*rule{}
				ix.literal[p.Type] = m
			}
			m[p.Name] = append(m[p.Name], b)
		case authz.PatternPrefixed:
			m := ix.prefixed[p.Type]
			if m == nil {
				m = map[string][]*rule{}
				ix.prefixed[p.Type] = m
			}
			if _, seen := m[p.Name]; !seen && !slices.Contains(ix.prefixLens[p.Type], len(p.Name)) {
				ix.prefixLens[p.Type] = append(ix.prefixLens[p.Type], len(p.Name))
			}
			m[p.Name] = append(m[p.Name], b)
		}
	}
	for _, lens := range ix.prefixLens {
		slices.Sort(lens)
	}
	return ix
}

// candidates calls fn with every ACL whose pattern names r: the literal name, the literal "*",
// and every prefix of the name. It stops when fn returns false.
func (ix *index) candidates(r authz.Resource, fn func(*rule) bool) {
	lit := ix.literal[r.Type]
	for _, b := range lit[r.Name] {
		if !fn(b) {
			return
		}
	}
	if r.Name != authz.Wildcard {
		for _, b := range lit[authz.Wildcard] {
			if !fn(b) {
				return
			}
		}
	}
	m := ix.prefixed[r.Type]
	for _, l := range ix.prefixLens[r.Type] {
		if l > len(r.Name) {
			break
		}
		for _, b := range m[r.Name[:l]] {
			if !fn(b) {
				return
			}
		}
	}
}

// matches reports whether an ACL's principal and host cover the request.
func (r *rule) matches(principal, host string) bool {
	return (r.Entry.Principal == principal || r.Entry.Principal == authz.WildcardPrincipal) &&
		(r.host == authz.Wildcard || r.host == host)
}

// Authorize implements authz.Authorizer.
func (e *Engine) Authorize(rc *authz.RequestContext, actions []authz.Action) []authz.Decision {
	ix := e.idx.Load()
	principal := rc.Principal.String()
	out := make([]authz.Decision, len(actions))
	for i, a := range actions {
		out[i] = e.decide(ix, principal, rc.ClientAddr, a.Operation, a.Resource)
	}
	return out
}

// Explain implements authz.Explainer.
func (e *Engine) Explain(rc *authz.RequestContext, a authz.Action) authz.Decision {
	return e.decide(e.idx.Load(), rc.Principal.String(), rc.ClientAddr, a.Operation, a.Resource)
}

func (e *Engine) decide(ix *index, principal, host string, op authz.Operation, r authz.Resource) authz.Decision {
	var deny, allow *rule
	found := false
	ix.candidates(r, func(b *rule) bool {
		found = true
		if !b.matches(principal, host) {
			return true
		}
		switch b.Entry.Permission {
		case authz.Deny:
			if b.Entry.Operation == op || b.Entry.Operation == authz.OpAll {
				deny = b
				return false // a deny settles it
			}
		case authz.Allow:
			if allow == nil && b.Entry.Operation.Implies(op) {
				allow = b
			}
		}
		return true
	})
	switch {
	case deny != nil:
		return authz.Decision{Allowed: false, DecidedBy: deny.decidedBy, Engine: "acl"}
	case allow != nil:
		return authz.Decision{Allowed: true, DecidedBy: allow.decidedBy, Engine: "acl"}
	case !found && e.allowIfNoACL:
		return authz.Decision{Allowed: true, DecidedBy: "no ACLs for the resource and allow.everyone.if.no.acl.found=true", Engine: "acl"}
	case !found:
		return authz.Decision{Allowed: false, DecidedBy: "no ACLs for the resource (allow.everyone.if.no.acl.found=false)", Engine: "acl"}
	}
	return authz.Decision{Allowed: false, DecidedBy: "no ACL allows " + op.String() + " for " + principal + " from " + host, Engine: "acl"}
}
