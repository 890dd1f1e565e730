package acl

import (
	"strings"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// probeName is the name Kafka's authorizeByResourceType first checks, so that the no-ACL default
// (allow.everyone.if.no.acl.found) applies when no ACL could name such a resource.
const probeName = "hardcode"

// AuthorizeAny implements authz.AnyAuthorizer with the rules of Kafka's
// authorizeByResourceType (it looks at the type's ACLs only, never at resources): may the principal perform op on at least one resource of type rt?
// A DENY on the literal "*" refuses; otherwise any ALLOW (literal or prefixed) for op that no
// DENY covers (a literal DENY on the same name, or a prefixed DENY on a prefix of it) grants.
func (e *Engine) AuthorizeAny(rc *authz.RequestContext, op authz.Operation, rt authz.ResourceType) authz.Decision {
	ix := e.idx.Load()
	principal, host := rc.Principal.String(), rc.ClientAddr
	if d := e.decide(ix, principal, host, op, authz.Resource{Type: rt, Name: probeName}); d.Allowed {
		return d
	}
	var denyLit, denyPre []string
	var allows []*rule
	collect := func(b *rule) {
		en := b.Entry
		if !b.matches(principal, host) || (en.Operation != op && en.Operation != authz.OpAll) {
			return
		}
		if en.Permission == authz.Deny {
			if b.Pattern.PatternType == authz.PatternLiteral {
				denyLit = append(denyLit, b.Pattern.Name)
			} else {
				denyPre = append(denyPre, b.Pattern.Name)
			}
		} else {
			allows = append(allows, b)
		}
	}
	for _, bs := range ix.literal[rt] {
		for _, b := range bs {
			collect(b)
		}
	}
	for _, bs := range ix.prefixed[rt] {
		for _, b := range bs {
			collect(b)
		}
	}
	for _, n := range denyLit {
		if n == authz.Wildcard {
			return authz.Decision{Allowed: false, DecidedBy: "ACL denies " + op.String() + " on every " + rt.String(), Engine: "acl"}
		}
	}
	for _, a := range allows {
		name := a.Pattern.Name
		covered := false
		for _, p := range denyPre {
			if strings.HasPrefix(name, p) {
				covered = true
			}
		}
		if a.Pattern.PatternType == authz.PatternLiteral {
			for _, n := range denyLit {
				if n == name {
					covered = true
				}
			}
		}
		if !covered {
			return authz.Decision{Allowed: true, DecidedBy: a.decidedBy, Engine: "acl"}
		}
	}
	return authz.Decision{Allowed: false, DecidedBy: "no ACL allows " + op.String() + " on any " + rt.String(), Engine: "acl"}
}
