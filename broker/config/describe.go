package config

import (
	"errors"
	"maps"
	"slices"
	"strconv"
)

// Entry is one DescribeConfigs result.
type Entry struct {
	Name      string
	Value     *string // nil when sensitive, or when the key has no value (null default)
	Source    int8    // SourceTopic ... SourceDefault
	ReadOnly  bool
	Sensitive bool
	Type      Type
	Doc       string
	Synonyms  []Synonym // in precedence order, the entry's own source first
}

// Synonym is one of an entry's synonyms (DescribeConfigs v1+).
type Synonym struct {
	Name   string
	Value  *string // nil when sensitive
	Source int8
}

// WithDynamicLayers is WithDynamic for Kafka's two dynamic layers: clusterDefault (set on the
// broker resource with an empty name, source DYNAMIC_DEFAULT_BROKER) and node (set on this
// broker's id, DYNAMIC_BROKER), which wins over clusterDefault for every synonym.
func (c *Config) WithDynamicLayers(clusterDefault, node map[string]string) *Config {
	n := c.clone()
	if n.DynamicDefault == nil {
		n.DynamicDefault = map[string]string{}
	}
	n.applyDynamic(clusterDefault, n.DynamicDefault)
	n.applyDynamic(node, n.Dynamic)
	return n
}

// ValidateBrokerDynamic checks keys set via (Incremental)AlterConfigs on a broker resource:
// unknown keys, keys that cannot change at runtime and bad values are all reported, joined.
func ValidateBrokerDynamic(changes map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(changes)) {
		if why := rejectedKey(k); why != "" {
			errs = append(errs, &KeyError{Key: k, Msg: why, Err: ErrUnsupported})
			continue
		}
		d := brokerDef(k)
		switch {
		case d == nil:
			errs = append(errs, &KeyError{Key: k, Msg: "unknown broker config", Err: ErrUnknownKey})
		case d.NotYet != "":
			errs = append(errs, &KeyError{Key: k, Msg: "not supported yet: " + d.NotYet, Err: ErrUnsupported})
		case !d.Dynamic:
			errs = append(errs, &KeyError{Key: k, Msg: "cannot be changed at runtime; set it in the configuration file and restart", Err: ErrNotDynamic})
		default:
			if err := d.check(changes[k]); err != nil {
				errs = append(errs, &KeyError{Key: k, Msg: err.Error(), Err: ErrInvalidValue})
			}
		}
	}
	return errors.Join(errs...)
}

// DescribeTopic lists every topic key (or only keys, in the order given, if non-empty; unknown
// keys are omitted) with its effective value, source and synonyms in precedence order: topic
// override, dynamic broker, dynamic cluster default, static broker, default. Call it on
// c.WithDynamic(...) so dynamic broker values are included.
func (c *Config) DescribeTopic(overrides map[string]string, keys []string) []Entry {
	var out []Entry
	for _, d := range selectDefs(topicTable, keys, func(k string) *Def { return topicTable.byName[k] }) {
		out = append(out, c.topicEntry(d, overrides))
	}
	return out
}

func (c *Config) topicEntry(d *Def, overrides map[string]string) Entry {
	var syns []Synonym
	scales := []int64{}
	if v, ok := overrides[d.Name]; ok {
		syns = append(syns, Synonym{Name: d.Name, Value: ptr(d.normalize(v)), Source: SourceTopic})
		scales = append(scales, 1)
	}
	for _, layer := range []struct {
		m   map[string]string
		src int8
	}{{c.Dynamic, SourceDynamicBroker}, {c.DynamicDefault, SourceDynamicDefault}, {c.Values, SourceStatic}} {
		for _, s := range d.synonyms {
			if v, ok := layer.m[s.name]; ok {
				syns = append(syns, Synonym{Name: s.name, Value: ptr(v), Source: layer.src})
				scales = append(scales, s.scale)
			}
		}
	}
	for _, s := range d.synonyms {
		if bd := brokerDef(s.name); bd != nil && !bd.NoDefault {
			syns = append(syns, Synonym{Name: s.name, Value: ptr(bd.Default), Source: SourceDefault})
			scales = append(scales, s.scale)
			break
		}
	}
	e := Entry{Name: d.Name, Source: SourceDefault, Type: d.Type, Doc: d.Doc, Synonyms: syns}
	if len(syns) == 0 {
		e.Value = ptr(d.Default)
		return e
	}
	e.Source = syns[0].Source
	v := *syns[0].Value
	if scales[0] != 1 {
		v = strconv.FormatInt(scaleMs(mustInt(v), scales[0]), 10)
	}
	e.Value = &v
	return e
}

// DescribeBroker lists broker keys (or only keys, in the order given; unknown keys omitted).
// Values come from dynamic (key -> value set via AlterConfigs on this broker; c.Dynamic is
// included), then the cluster-default dynamic layer, then the file, then the default.
// Sensitive values are nil. Listener-prefixed keys are listed when set or asked for.
func (c *Config) DescribeBroker(dynamic map[string]string, keys []string) []Entry {
	dyn := maps.Clone(c.Dynamic)
	if dyn == nil {
		dyn = map[string]string{}
	}
	maps.Copy(dyn, dynamic)
	defs := selectDefs(brokerTable, keys, brokerDef)
	if len(keys) == 0 {
		for _, k := range slices.Sorted(maps.Keys(c.Values)) {
			if _, _, ok := splitListenerKey(k); ok {
				defs = append(defs, brokerDef(k))
			}
		}
	}
	out := make([]Entry, 0, len(defs))
	for _, d := range defs {
		out = append(out, c.brokerEntry(d, dyn))
	}
	return out
}

func (c *Config) brokerEntry(d *Def, dyn map[string]string) Entry {
	members := []*Def{d}
	if d.group != "" {
		members = nil
		for _, m := range brokerTable.list {
			if m.group == d.group {
				members = append(members, m)
			}
		}
		// Highest rank first, but the described key leads its own source's group.
		slices.SortStableFunc(members, func(a, b *Def) int {
			if (a == d) != (b == d) {
				if a == d {
					return -1
				}
				return 1
			}
			return b.rank - a.rank
		})
	}
	var syns []Synonym
	for _, layer := range []struct {
		m   map[string]string
		src int8
	}{{dyn, SourceDynamicBroker}, {c.DynamicDefault, SourceDynamicDefault}, {c.Values, SourceStatic}} {
		for _, m := range members {
			if v, ok := layer.m[m.Name]; ok {
				syns = append(syns, Synonym{Name: m.Name, Value: hide(m, v), Source: layer.src})
			}
		}
	}
	for _, m := range members {
		if !m.NoDefault {
			syns = append(syns, Synonym{Name: m.Name, Value: hide(m, m.Default), Source: SourceDefault})
			break
		}
	}
	e := Entry{Name: d.Name, Source: SourceDefault, ReadOnly: !d.Dynamic, Sensitive: d.Sensitive, Type: d.Type, Doc: d.Doc, Synonyms: syns}
	// The entry's own value: the first synonym that is this very key.
	for _, s := range syns {
		if s.Name == d.Name {
			e.Value, e.Source = s.Value, s.Source
			break
		}
	}
	return e
}

// selectDefs returns all of a table's defs, or those named by keys (in order, unknown skipped,
// duplicates once).
func selectDefs(t *table, keys []string, lookup func(string) *Def) []*Def {
	if len(keys) == 0 {
		return slices.Clone(t.list)
	}
	var out []*Def
	seen := map[string]bool{}
	for _, k := range keys {
		if d := lookup(k); d != nil && !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

func ptr(s string) *string { return &s }

func hide(d *Def, v string) *string {
	if d.Sensitive {
		return nil
	}
	return ptr(v)
}
