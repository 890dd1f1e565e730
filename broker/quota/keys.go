package quota

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"
)

// Entity types.
const (
	User     = "user"
	ClientID = "client-id"
	IP       = "ip"
)

// Quota keys.
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
	ConnectionCreationRate = "connection_creation_rate"
)

// keyDef describes one quota key: whether it applies to IP entities (else to user/client-id
// ones) and whether its value must be a whole number.
type keyDef struct {
	ip      bool
	integer bool
}

var keyDefs = map[string]keyDef{
	ProducerByteRate:       {integer: true},
	ConsumerByteRate:       {integer: true},
	RequestPercentage:      {},
	ControllerMutationRate: {},
	ConnectionCreationRate: {ip: true, integer: true},
}

// Keys lists the quota keys, sorted.
func Keys() []string { return slices.Sorted(maps.Keys(keyDefs)) }

// Entity is what a quota applies to: entity type -> name, a nil name being the type's default.
type Entity map[string]*string

// Key is the canonical form of an entity, e.g. "client-id='app',user=<default>" (the same form
// the metadata log files quotas under).
func (e Entity) Key() string {
	types := slices.Sorted(maps.Keys(e))
	parts := make([]string, len(types))
	for i, t := range types {
		name := "<default>"
		if n := e[t]; n != nil {
			name = "'" + strings.ReplaceAll(*n, "'", "''") + "'"
		}
		parts[i] = t + "=" + name
	}
	return strings.Join(parts, ",")
}

// maxNameLen bounds an entity name (the metadata log refuses longer ones).
const maxNameLen = 4096

// NormalizeIP returns an ip entity's name in the form quotas are looked up by (IPv4-mapped
// addresses as IPv4, IPv6 in its canonical form), or the name unchanged if it is not an address.
func NormalizeIP(name string) string {
	a, err := netip.ParseAddr(name)
	if err != nil {
		return name
	}
	return a.Unmap().String()
}

// ErrInvalid is wrapped by every validation error: Kafka answers them with INVALID_REQUEST.
var ErrInvalid = errors.New("quota: invalid")

// ValidateEntity checks an entity as AlterClientQuotas requires: not empty, known types, each
// type once (the caller checks duplicates while building it), ip not combined with the others,
// and an ip name that is an IP address.
func ValidateEntity(e Entity) error {
	if len(e) == 0 {
		return fmt.Errorf("%w: empty quota entity", ErrInvalid)
	}
	for t, n := range e {
		if n != nil && (*n == "" || len(*n) > maxNameLen || !utf8.ValidString(*n)) {
			return fmt.Errorf("%w: %s name must be 1 to %d bytes of UTF-8", ErrInvalid, t, maxNameLen)
		}
		switch t {
		case User, ClientID:
		case IP:
			if len(e) > 1 {
				return fmt.Errorf("%w: ip quotas cannot be combined with user or client-id quotas", ErrInvalid)
			}
			if n != nil {
				if _, err := netip.ParseAddr(*n); err != nil {
					return fmt.Errorf("%w: %q is not a valid IP address", ErrInvalid, *n)
				}
			}
		default:
			return fmt.Errorf("%w: unknown quota entity type %q", ErrInvalid, t)
		}
	}
	return nil
}

// ValidateKey checks that a quota key is known and applies to the entity's kind (an entity already
// validated).
func ValidateKey(e Entity, key string) error {
	d, ok := keyDefs[key]
	_, isIP := e[IP]
	switch {
	case !ok:
		return fmt.Errorf("%w: unknown quota key %q", ErrInvalid, key)
	case isIP && !d.ip:
		return fmt.Errorf("%w: quota key %s does not apply to ip entities", ErrInvalid, key)
	case !isIP && d.ip:
		return fmt.Errorf("%w: quota key %s applies to ip entities only", ErrInvalid, key)
	}
	return nil
}

// ValidateValue checks one key and value for an entity (already validated): the key as
// ValidateKey does, whole numbers for integer keys, and a positive value.
func ValidateValue(e Entity, key string, value float64) error {
	if err := ValidateKey(e, key); err != nil {
		return err
	}
	d := keyDefs[key]
	switch {
	case math.IsNaN(value) || math.IsInf(value, 0) || value <= 0:
		return fmt.Errorf("%w: quota %s must be a positive number, got %v", ErrInvalid, key, value)
	case d.integer && (value != math.Trunc(value) || value > math.MaxInt64):
		return fmt.Errorf("%w: quota %s must be a whole number, got %v", ErrInvalid, key, value)
	}
	return nil
}
