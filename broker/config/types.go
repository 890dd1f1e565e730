package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sentinel errors. Every error this package returns wraps one of them, with the key named.
var (
	// ErrUnknownKey is returned for a key that is neither a Kafka key Bulwark accepts nor a
	// bulwark.* key.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrInvalidValue is returned for a value that does not parse as the key's type or fails
	// its range or enum check, and for cross-key problems found by Validate.
	ErrInvalidValue = errors.New("config: invalid value")
	// ErrSyntax is returned for a properties file that cannot be read (bad \u escape, too big).
	ErrSyntax = errors.New("config: syntax error")
	// ErrNotDynamic is returned by ValidateBrokerDynamic for a key that cannot change at runtime.
	ErrNotDynamic = errors.New("config: not dynamically updatable")
	// ErrUnsupported is returned for Kafka keys Bulwark deliberately rejects (ZooKeeper mode) and
	// for keys it does not act on yet.
	ErrUnsupported = errors.New("config: unsupported key")
)

// KeyError is one problem with one key. Its message reads "config: KEY: problem" (with the line
// number when the key came from a file), and it unwraps to one of the sentinel errors.
type KeyError struct {
	Key  string
	Line int // 1-based line in the properties file; 0 when not from a file
	Msg  string
	Err  error // sentinel
}

func (e *KeyError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("config: %s (line %d): %s", e.Key, e.Line, e.Msg)
	}
	return fmt.Sprintf("config: %s: %s", e.Key, e.Msg)
}

// Unwrap returns the sentinel error.
func (e *KeyError) Unwrap() error { return e.Err }

func invalid(key, format string, args ...any) *KeyError {
	return &KeyError{Key: key, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidValue}
}

// Type is a configuration value type, numbered as Kafka's DescribeConfigs config_type field.
type Type int8

// Kafka's config types (DescribeConfigsResponse config_type, v3+).
const (
	TypeBoolean  Type = 1
	TypeString   Type = 2
	TypeInt      Type = 3
	TypeShort    Type = 4
	TypeLong     Type = 5
	TypeDouble   Type = 6
	TypeList     Type = 7
	TypeClass    Type = 8
	TypePassword Type = 9
)

func (t Type) String() string {
	switch t {
	case TypeBoolean:
		return "boolean"
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeShort:
		return "short"
	case TypeLong:
		return "long"
	case TypeDouble:
		return "double"
	case TypeList:
		return "list"
	case TypeClass:
		return "class"
	case TypePassword:
		return "password"
	}
	return "unknown"
}

// Config sources, numbered as Kafka's DescribeConfigs config_source field.
const (
	SourceTopic          int8 = 1 // TOPIC_CONFIG: a topic override
	SourceDynamicBroker  int8 = 2 // DYNAMIC_BROKER_CONFIG: set via AlterConfigs on this broker
	SourceDynamicDefault int8 = 3 // DYNAMIC_DEFAULT_BROKER_CONFIG: set for the cluster default
	SourceStatic         int8 = 4 // STATIC_BROKER_CONFIG: from the configuration file
	SourceDefault        int8 = 5 // DEFAULT_CONFIG
)

// Def describes one configuration key. The exported fields are what DescribeConfigs and the
// generated documentation show; the unexported ones connect the key to the typed Config or
// TopicConfig fields.
type Def struct {
	Name string
	Type Type
	// Default is Kafka's textual default (Bulwark's where they differ, which Doc says).
	Default string
	// NoDefault marks keys whose default is null (Default is then "").
	NoDefault bool
	Doc       string
	// Sensitive keys have their value hidden by DescribeConfigs (all PASSWORD keys are).
	Sensitive bool
	// Dynamic keys may change at runtime via AlterConfigs on a broker resource.
	Dynamic bool
	// NoEffect marks Kafka keys that are accepted for compatibility but change nothing.
	NoEffect bool
	// NotYet says why a key Bulwark will act on later is refused today: setting it (in the file
	// or dynamically) fails, so no one believes a setting is in force when it is not.
	NotYet string
	// Validate checks range or enum after the type check; nil means the type check only.
	Validate func(string) error

	set      func(c *Config, v string)      // stores a checked value in the typed field
	tset     func(t *TopicConfig, v string) // topic keys: stores a checked value
	rank     int                            // among synonyms: higher is applied later and wins
	group    string                         // broker synonym group (e.g. "retention")
	synonyms []synonymDef                   // topic keys: broker synonyms in precedence order
}

// synonymDef is a broker key that supplies a topic key's value, with the factor converting its
// unit to the topic key's (log.retention.hours -> retention.ms is 3600000).
type synonymDef struct {
	name  string
	scale int64
}

// normalize trims the value as Kafka's ConfigDef does before parsing; passwords are kept as is.
func (d *Def) normalize(v string) string {
	if d.Type == TypePassword {
		return v
	}
	return strings.TrimSpace(v)
}

// check type-checks and validates a raw value, returning a problem description or "".
func (d *Def) check(v string) error {
	v = d.normalize(v)
	if err := checkType(d.Type, v); err != nil {
		return err
	}
	if d.Validate != nil {
		return d.Validate(v)
	}
	return nil
}

func checkType(t Type, v string) error {
	switch t {
	case TypeBoolean:
		if _, ok := parseBool(v); !ok {
			return fmt.Errorf("not a boolean (true or false): %q", v)
		}
	case TypeInt, TypeShort, TypeLong:
		bits := map[Type]int{TypeInt: 32, TypeShort: 16, TypeLong: 64}[t]
		if _, err := strconv.ParseInt(v, 10, bits); err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
				return fmt.Errorf("out of range for a %d-bit number: %q", bits, v)
			}
			return fmt.Errorf("not a number: %q", v)
		}
	case TypeDouble:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("not a number: %q", v)
		}
	}
	return nil
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// The must* helpers parse values that check has already accepted; a failure there is impossible,
// and the zero value they would return is harmless.

func mustInt(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n
}

func mustFloat(v string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
	return f
}

func mustBool(v string) bool {
	b, _ := parseBool(v)
	return b
}

// splitList splits a Kafka LIST value: comma-separated, each item trimmed, empty items dropped.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// scaleMs multiplies a time in some unit by scale, saturating instead of overflowing, and keeps
// negative values ("unlimited") at -1.
func scaleMs(n, scale int64) int64 {
	if n < 0 {
		return -1
	}
	if scale > 1 && n > math.MaxInt64/scale {
		return math.MaxInt64
	}
	return n * scale
}
