package authz

import (
	"fmt"
	"strings"
)

// Pattern is a resource pattern: a resource type, a name and how the name matches (LITERAL, where
// "*" matches every name, or PREFIXED).
type Pattern struct {
	Type        ResourceType `json:"resourceType"`
	Name        string       `json:"name"`
	PatternType PatternType  `json:"patternType"`
}

// Entry is the access-control part of a binding: who, from where, what, and whether it is
// allowed or denied.
type Entry struct {
	// Principal is "Type:Name" ("User:alice"); "User:*" matches every principal.
	Principal string `json:"principal"`
	// Host is a client IP address, or "*" for any.
	Host       string     `json:"host"`
	Operation  Operation  `json:"operation"`
	Permission Permission `json:"permission"`
}

// Binding is one ACL: an entry bound to a resource pattern. Bindings are comparable, so a set of
// them is a map keyed by Binding.
type Binding struct {
	Pattern Pattern `json:"pattern"`
	Entry   Entry   `json:"entry"`
}

// String gives the binding in the shape Kafka logs it.
func (b Binding) String() string {
	return fmt.Sprintf("(principal=%s, host=%s, operation=%s, permission=%s) on %s",
		b.Entry.Principal, b.Entry.Host, b.Entry.Operation, b.Entry.Permission, b.Pattern)
}

// String gives the pattern as Kafka's authorizer log shows it: "Topic:LITERAL:orders".
func (p Pattern) String() string {
	return resourceLogName(p.Type) + ":" + p.PatternType.String() + ":" + p.Name
}

// resourceLogName is the resource type as Kafka's log lines spell it (Topic, Group, Cluster).
func resourceLogName(rt ResourceType) string {
	switch rt {
	case ResourceTopic:
		return "Topic"
	case ResourceGroup:
		return "Group"
	case ResourceCluster:
		return "Cluster"
	case ResourceTransactionalID:
		return "TransactionalId"
	case ResourceDelegationToken:
		return "DelegationToken"
	case ResourceUser:
		return "User"
	}
	return rt.String()
}

// Limits on a binding's strings, so stored ACLs stay bounded.
const (
	MaxNameLen      = 1024
	MaxPrincipalLen = 1024
	MaxHostLen      = 256
)

// Validate reports why b cannot be stored, following Kafka's checks on CreateAcls: a concrete
// resource type, a LITERAL or PREFIXED pattern, a concrete operation and permission, a
// "Type:Name" principal, a host, and the cluster resource named "kafka-cluster".
func (b Binding) Validate() error {
	p, e := b.Pattern, b.Entry
	switch {
	case !p.Type.Valid() || p.Type == ResourceUnknown || p.Type == ResourceAny:
		return fmt.Errorf("invalid resource type %s", p.Type)
	case p.PatternType != PatternLiteral && p.PatternType != PatternPrefixed:
		return fmt.Errorf("invalid pattern type %s: an ACL is LITERAL or PREFIXED", p.PatternType)
	case p.Name == "":
		return fmt.Errorf("resource name must not be empty")
	case len(p.Name) > MaxNameLen:
		return fmt.Errorf("resource name longer than %d bytes", MaxNameLen)
	case p.Type == ResourceCluster && (p.Name != ClusterName || p.PatternType != PatternLiteral):
		return fmt.Errorf("the cluster resource is LITERAL %q", ClusterName)
	case !e.Operation.Valid() || e.Operation == OpUnknown || e.Operation == OpAny:
		return fmt.Errorf("invalid operation %s", e.Operation)
	case e.Permission != Allow && e.Permission != Deny:
		return fmt.Errorf("invalid permission %s: an ACL ALLOWs or DENYs", e.Permission)
	case e.Host == "":
		return fmt.Errorf("host must not be empty (use * for any)")
	case len(e.Host) > MaxHostLen:
		return fmt.Errorf("host longer than %d bytes", MaxHostLen)
	case len(e.Principal) > MaxPrincipalLen:
		return fmt.Errorf("principal longer than %d bytes", MaxPrincipalLen)
	}
	if typ, name, ok := strings.Cut(e.Principal, ":"); !ok || typ == "" || name == "" {
		return fmt.Errorf("principal %q is not of the form Type:Name", e.Principal)
	}
	return nil
}

// Filter selects bindings, as DescribeAcls and DeleteAcls take it. Empty strings (nil on the
// wire) match anything; ANY enums match anything; PatternMatch matches every binding that would
// apply to the named resource (LITERAL equal or "*", PREFIXED a prefix of the name).
type Filter struct {
	Type        ResourceType
	Name        *string
	PatternType PatternType
	Principal   *string
	Host        *string
	Operation   Operation
	Permission  Permission
}

// Validate reports why a filter matches nothing Kafka would accept: an UNKNOWN enum.
func (f Filter) Validate() error {
	switch {
	case !f.Type.Valid() || f.Type == ResourceUnknown:
		return fmt.Errorf("invalid resource type %s", f.Type)
	case !f.PatternType.Valid() || f.PatternType == PatternUnknown:
		return fmt.Errorf("invalid pattern type %s", f.PatternType)
	case !f.Operation.Valid() || f.Operation == OpUnknown:
		return fmt.Errorf("invalid operation %s", f.Operation)
	case !f.Permission.Valid() || f.Permission == PermissionUnknown:
		return fmt.Errorf("invalid permission %s", f.Permission)
	}
	return nil
}

// Matches reports whether b is selected by f, with Kafka's AclBindingFilter semantics.
func (f Filter) Matches(b Binding) bool {
	if f.Type != ResourceAny && f.Type != b.Pattern.Type {
		return false
	}
	if !f.matchesPattern(b.Pattern) {
		return false
	}
	e := b.Entry
	return (f.Principal == nil || *f.Principal == e.Principal) &&
		(f.Host == nil || *f.Host == e.Host) &&
		(f.Operation == OpAny || f.Operation == e.Operation) &&
		(f.Permission == PermissionAny || f.Permission == e.Permission)
}

func (f Filter) matchesPattern(p Pattern) bool {
	switch f.PatternType {
	case PatternAny:
		return f.Name == nil || *f.Name == p.Name
	case PatternMatch:
		if f.Name == nil {
			return true
		}
		switch p.PatternType {
		case PatternLiteral:
			return p.Name == *f.Name || p.Name == Wildcard
		case PatternPrefixed:
			return strings.HasPrefix(*f.Name, p.Name)
		}
		return false
	default:
		return f.PatternType == p.PatternType && (f.Name == nil || *f.Name == p.Name)
	}
}
