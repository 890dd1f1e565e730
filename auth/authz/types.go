package authz

import (
	"fmt"
	"strings"
)

// Operation is a Kafka ACL operation, with Kafka's wire codes.
type Operation int8

// Operations (AclOperation).
const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

var opNames = [...]string{"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER",
	"DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
	"CREATE_TOKENS", "DESCRIBE_TOKENS"}

// ResourceType is a Kafka resource type, with Kafka's wire codes.
type ResourceType int8

// Resource types.
const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

var resourceNames = [...]string{"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID",
	"DELEGATION_TOKEN", "USER"}

// PatternType says how a binding's resource name matches, with Kafka's wire codes. ANY and MATCH
// appear only in filters.
type PatternType int8

// Pattern types.
const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

var patternNames = [...]string{"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"}

// Permission is ALLOW or DENY (ANY only in filters), with Kafka's wire codes.
type Permission int8

// Permissions (AclPermissionType).
const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1
	Deny              Permission = 2
	Allow             Permission = 3
)

var permissionNames = [...]string{"UNKNOWN", "ANY", "DENY", "ALLOW"}

// ClusterName is the name of the one CLUSTER resource; Wildcard is the literal name and the
// principal name that match everything.
const (
	ClusterName       = "kafka-cluster"
	Wildcard          = "*"
	WildcardPrincipal = "User:*"
)

func enumString(names []string, v int8) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%d", v)
}

func enumParse(names []string, kind, s string) (int8, error) {
	norm := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	for i, n := range names {
		if n == norm || strings.ReplaceAll(n, "_", "") == norm {
			return int8(i), nil
		}
	}
	return 0, fmt.Errorf("authz: unknown %s %q", kind, s)
}

func (o Operation) String() string    { return enumString(opNames[:], int8(o)) }
func (r ResourceType) String() string { return enumString(resourceNames[:], int8(r)) }
func (p PatternType) String() string  { return enumString(patternNames[:], int8(p)) }
func (p Permission) String() string   { return enumString(permissionNames[:], int8(p)) }
func (o Operation) Valid() bool       { return o >= 0 && int(o) < len(opNames) }
func (r ResourceType) Valid() bool    { return r >= 0 && int(r) < len(resourceNames) }
func (p PatternType) Valid() bool     { return p >= 0 && int(p) < len(patternNames) }
func (p Permission) Valid() bool      { return p >= 0 && int(p) < len(permissionNames) }

// ParseOperation, ParseResourceType, ParsePatternType and ParsePermission read the names above,
// case-insensitively, with or without underscores (kafka-acls.sh spells them "Read",
// "IdempotentWrite", "Prefixed").
func ParseOperation(s string) (Operation, error) {
	v, err := enumParse(opNames[:], "operation", s)
	return Operation(v), err
}

func ParseResourceType(s string) (ResourceType, error) {
	v, err := enumParse(resourceNames[:], "resource type", s)
	return ResourceType(v), err
}

func ParsePatternType(s string) (PatternType, error) {
	v, err := enumParse(patternNames[:], "pattern type", s)
	return PatternType(v), err
}

func ParsePermission(s string) (Permission, error) {
	v, err := enumParse(permissionNames[:], "permission", s)
	return Permission(v), err
}

// Text forms keep stored bindings and policy input readable ("TOPIC", "READ").

func (o Operation) MarshalText() ([]byte, error)    { return []byte(o.String()), nil }
func (r ResourceType) MarshalText() ([]byte, error) { return []byte(r.String()), nil }
func (p PatternType) MarshalText() ([]byte, error)  { return []byte(p.String()), nil }
func (p Permission) MarshalText() ([]byte, error)   { return []byte(p.String()), nil }

func (o *Operation) UnmarshalText(b []byte) (err error) {
	*o, err = ParseOperation(string(b))
	return err
}

func (r *ResourceType) UnmarshalText(b []byte) (err error) {
	*r, err = ParseResourceType(string(b))
	return err
}

func (p *PatternType) UnmarshalText(b []byte) (err error) {
	*p, err = ParsePatternType(string(b))
	return err
}

func (p *Permission) UnmarshalText(b []byte) (err error) {
	*p, err = ParsePermission(string(b))
	return err
}

// Implies reports whether an ALLOW for op also allows want, as Kafka's authorizer has it: ALL
// allows everything; READ, WRITE, DELETE and ALTER allow DESCRIBE; ALTER_CONFIGS allows
// DESCRIBE_CONFIGS.
func (o Operation) Implies(want Operation) bool {
	switch {
	case o == want || o == OpAll:
		return true
	case want == OpDescribe:
		return o == OpRead || o == OpWrite || o == OpDelete || o == OpAlter
	case want == OpDescribeConfigs:
		return o == OpAlterConfigs
	}
	return false
}

// Operations lists, per resource type, the operations Kafka reports in KIP-430 authorized
// operations (AclEntry.supportedOperations).
func Operations(rt ResourceType) []Operation {
	switch rt {
	case ResourceTopic:
		return []Operation{OpRead, OpWrite, OpCreate, OpDescribe, OpDelete, OpAlter, OpDescribeConfigs, OpAlterConfigs}
	case ResourceGroup:
		return []Operation{OpRead, OpDescribe, OpDelete, OpDescribeConfigs, OpAlterConfigs}
	case ResourceCluster:
		return []Operation{OpCreate, OpClusterAction, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite, OpAlter, OpDescribe}
	case ResourceTransactionalID:
		return []Operation{OpDescribe, OpWrite}
	case ResourceDelegationToken:
		return []Operation{OpDescribe}
	case ResourceUser:
		return []Operation{OpCreateTokens, OpDescribeTokens}
	}
	return nil
}
