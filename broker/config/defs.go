package config

import (
	"slices"
	"strings"
	"time"
)

// opt adjusts a Def while the key tables are built.
type opt func(*Def)

// def builds a Def. PASSWORD keys are always sensitive.
func def(name string, t Type, dflt, doc string, opts ...opt) *Def {
	d := &Def{Name: name, Type: t, Default: dflt, Doc: doc, Sensitive: t == TypePassword}
	for _, o := range opts {
		o(d)
	}
	return d
}

func noDefault(d *Def) { d.NoDefault, d.Default = true, "" }
func dyn(d *Def)       { d.Dynamic = true }
func noEffect(d *Def)  { d.NoEffect = true }

// notYet refuses a key the broker does not act on yet; why says what is missing.
func notYet(why string) opt { return func(d *Def) { d.NotYet = why } }

func check(f func(string) error) opt { return func(d *Def) { d.Validate = f } }

// syn puts a broker key in a synonym group; the higher rank wins when several are set.
func syn(group string, rank int) opt { return func(d *Def) { d.group, d.rank = group, rank } }

// Setters for typed Config fields. They run only on values check has accepted.

func setI32(f func(*Config) *int32) opt {
	return func(d *Def) { d.set = func(c *Config, v string) { *f(c) = int32(mustInt(v)) } }
}

func setI16(f func(*Config) *int16) opt {
	return func(d *Def) { d.set = func(c *Config, v string) { *f(c) = int16(mustInt(v)) } }
}

func setInt(f func(*Config) *int) opt {
	return func(d *Def) { d.set = func(c *Config, v string) { *f(c) = int(mustInt(v)) } }
}

// setI64 stores a number multiplied by scale (1 for plain values, 60000 for minutes, ...).
func setI64(scale int64, f func(*Config) *int64) opt {
	return func(d *Def) {
		d.set = func(c *Config, v string) {
			if scale == 1 {
				*f(c) = mustInt(v)
			} else {
				*f(c) = scaleMs(mustInt(v), scale)
			}
		}
	}
}

func setF64(f func(*Config) *float64) opt {
	return func(d *Def) { d.set = func(c *Config, v string) { *f(c) = mustFloat(v) } }
}

func setBool(f func(*Config) *bool) opt {
	return func(d *Def) { d.set = func(c *Config, v string) { *f(c) = mustBool(v) } }
}

func setStr(f func(*Config) *string) opt {
	return func(d *Def) { d.set = func(c *Config, v string) { *f(c) = v } }
}

func setList(f func(*Config) *[]string) opt {
	return func(d *Def) { d.set = func(c *Config, v string) { *f(c) = splitList(v) } }
}

// setMs stores milliseconds as a Duration, saturating far beyond any useful value.
func setMs(f func(*Config) *time.Duration) opt {
	return func(d *Def) {
		d.set = func(c *Config, v string) {
			ms := mustInt(v)
			const maxMs = int64(1<<63-1) / int64(time.Millisecond)
			if ms > maxMs {
				ms = maxMs
			}
			*f(c) = time.Duration(ms) * time.Millisecond
		}
	}
}

func setFunc(f func(*Config, string)) opt { return func(d *Def) { d.set = f } }

// table is an immutable, name-indexed list of Defs.
type table struct {
	list   []*Def // sorted by name
	byName map[string]*Def
}

func newTable(defs []*Def) *table {
	t := &table{byName: make(map[string]*Def, len(defs))}
	for _, d := range defs {
		if _, dup := t.byName[d.Name]; dup {
			panic("config: duplicate key definition " + d.Name) // a programming error in the tables
		}
		t.byName[d.Name] = d
		t.list = append(t.list, d)
	}
	slices.SortFunc(t.list, func(a, b *Def) int { return strings.Compare(a.Name, b.Name) })
	return t
}

// The key tables, built once and read-only afterwards.
var (
	brokerTable      = newTable(brokerDefs())
	topicTable       = newTable(topicDefs())
	brokerApplyOrder = applyOrder(brokerTable)
)

// applyOrder lists broker keys in the order their values are applied: by rank, so that
// higher-precedence synonyms overwrite lower ones.
func applyOrder(t *table) []*Def {
	out := slices.Clone(t.list)
	slices.SortStableFunc(out, func(a, b *Def) int { return a.rank - b.rank })
	return out
}

// listenerPrefixable are broker keys that may also be set per listener as
// listener.name.<listener>.<key>, as Kafka allows for TLS and SASL settings.
func listenerPrefixable(key string) bool {
	return strings.HasPrefix(key, "ssl.") || strings.HasPrefix(key, "sasl.") ||
		key == "connections.max.reauth.ms" || key == "max.connections" || key == "max.connection.creation.rate" ||
		key == allowedCIDRsKey
}

// splitListenerKey splits "listener.name.<listener>.<key>" into the upper-cased listener name
// and the key.
func splitListenerKey(key string) (listener, rest string, ok bool) {
	after, ok := strings.CutPrefix(key, "listener.name.")
	if !ok {
		return "", "", false
	}
	listener, rest, ok = strings.Cut(after, ".")
	if !ok || listener == "" || rest == "" {
		return "", "", false
	}
	return strings.ToUpper(listener), rest, true
}

// brokerDef looks up a broker key, including listener-prefixed forms (returned as a copy that
// sets no typed field) and "<mechanism>.sasl.jaas.config"-style per-mechanism keys under a
// listener prefix.
func brokerDef(key string) *Def {
	if d := brokerTable.byName[key]; d != nil {
		return d
	}
	_, rest, ok := splitListenerKey(key)
	if !ok {
		return nil
	}
	base := brokerTable.byName[rest]
	if base == nil || !listenerPrefixable(rest) {
		// listener.name.<l>.<mechanism>.sasl.jaas.config and friends.
		mech, r, ok := strings.Cut(rest, ".")
		if !ok || mech == "" || !strings.HasPrefix(r, "sasl.") {
			return nil
		}
		if base = brokerTable.byName[r]; base == nil {
			return nil
		}
	}
	cp := *base
	// A per-listener allowlist changes at runtime like the broker-wide one; other per-listener
	// keys are read when the listener is set up.
	dynamic := base.Dynamic && base.Name == allowedCIDRsKey
	cp.Name, cp.set, cp.group, cp.rank, cp.Dynamic = key, nil, "", 0, dynamic
	return &cp
}

// BrokerDefs returns the broker key definitions, sorted by name.
func BrokerDefs() []Def { return copyDefs(brokerTable.list) }

// TopicDefs returns the topic key definitions, sorted by name.
func TopicDefs() []Def { return copyDefs(topicTable.list) }

// LookupBroker returns a broker key's definition (listener-prefixed keys included).
func LookupBroker(name string) (Def, bool) {
	if d := brokerDef(name); d != nil {
		return *d, true
	}
	return Def{}, false
}

// LookupTopic returns a topic key's definition.
func LookupTopic(name string) (Def, bool) {
	if d := topicTable.byName[name]; d != nil {
		return *d, true
	}
	return Def{}, false
}

// IsListConfig reports whether a key (topic or broker) is of LIST type, which is what
// IncrementalAlterConfigs APPEND and SUBTRACT require.
func IsListConfig(name string) bool {
	if d := topicTable.byName[name]; d != nil {
		return d.Type == TypeList
	}
	if d := brokerDef(name); d != nil {
		return d.Type == TypeList
	}
	return false
}

func copyDefs(ds []*Def) []Def {
	out := make([]Def, len(ds))
	for i, d := range ds {
		out[i] = *d
	}
	return out
}
