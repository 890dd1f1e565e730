package quota

import (
	"errors"
	"fmt"
)

// MatchType is how a filter component matches an entity name (DescribeClientQuotas).
type MatchType int8

// Match types, numbered as on the wire.
const (
	MatchExact   MatchType = 0 // the name equals Match
	MatchDefault MatchType = 1 // the type's default entity
	MatchAny     MatchType = 2 // any name of the type, the default included (as KRaft matches)
)

// Component is one part of a describe filter.
type Component struct {
	Type  string
	Match MatchType
	Name  *string // for MatchExact
}

// ErrUnsupportedType is returned for a filter on an entity type Kafka does not know: Kafka
// answers UNSUPPORTED_VERSION.
var ErrUnsupportedType = errors.New("quota: unsupported entity type")

// CheckFilter validates a describe filter as Kafka does: known types (else ErrUnsupportedType),
// each at most once, ip not combined with user or client-id, a name for exact matches and none
// otherwise (else ErrInvalid).
func CheckFilter(components []Component) error {
	seen := map[string]bool{}
	for _, c := range components {
		switch c.Type {
		case User, ClientID, IP:
		case "":
			return fmt.Errorf("%w: empty entity type in filter", ErrInvalid)
		default:
			return fmt.Errorf("%w: custom entity type %q is not supported", ErrUnsupportedType, c.Type)
		}
		if seen[c.Type] {
			return fmt.Errorf("%w: entity type %s appears more than once in the filter", ErrInvalid, c.Type)
		}
		seen[c.Type] = true
		switch c.Match {
		case MatchExact:
			if c.Name == nil {
				return fmt.Errorf("%w: exact match on %s needs a name", ErrInvalid, c.Type)
			}
		case MatchDefault, MatchAny:
			if c.Name != nil {
				return fmt.Errorf("%w: %s match on %s takes no name", ErrInvalid, matchName(c.Match), c.Type)
			}
		default:
			return fmt.Errorf("%w: unknown match type %d", ErrInvalid, c.Match)
		}
	}
	if seen[IP] && (seen[User] || seen[ClientID]) {
		return fmt.Errorf("%w: ip entities cannot be filtered together with user or client-id", ErrInvalid)
	}
	return nil
}

func matchName(m MatchType) string {
	if m == MatchDefault {
		return "default"
	}
	return "any"
}

// Matches reports whether an entity passes a (checked) filter: every component matches one of
// the entity's parts, and with strict the entity has no other parts.
func Matches(e Entity, components []Component, strict bool) bool {
	if strict && len(e) != len(components) {
		return false
	}
	for _, c := range components {
		name, ok := e[c.Type]
		if !ok {
			return false
		}
		switch c.Match {
		case MatchExact:
			if name == nil || *name != *c.Name {
				return false
			}
		case MatchDefault:
			if name != nil {
				return false
			}
		}
	}
	return true
}
