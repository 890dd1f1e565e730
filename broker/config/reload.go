package config

import (
	"maps"
	"slices"
)

// Reload compares c, the file configuration in force, with next, the file as just re-read (a
// SIGHUP), and returns the configuration to use from now on: c with every changed key that Kafka
// treats as dynamic taken from next. Changed keys that cannot change at runtime keep their current
// value and are listed in needRestart. c is not modified.
func (c *Config) Reload(next *Config) (out *Config, applied, needRestart []string) {
	out = c.clone()
	keys := map[string]struct{}{}
	for k := range c.Values {
		keys[k] = struct{}{}
	}
	for k := range next.Values {
		keys[k] = struct{}{}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		old, had := c.Values[k]
		v, has := next.Values[k]
		if had == has && old == v {
			continue
		}
		d := brokerDef(k)
		if d == nil || !d.Dynamic {
			needRestart = append(needRestart, k)
			continue
		}
		if has {
			if err := out.Set(k, v); err != nil {
				needRestart = append(needRestart, k) // next was validated; unreachable
				continue
			}
		} else {
			out.unset(k, d)
		}
		applied = append(applied, k)
	}
	return out, applied, needRestart
}

// unset removes a key set in the file, so that it falls back to its default, or to another
// synonym still set, with the dynamic layers still taking precedence.
func (c *Config) unset(key string, d *Def) {
	delete(c.Values, key)
	if d.set == nil {
		return
	}
	inGroup := func(o *Def) bool { return o == d || (d.group != "" && o.group == d.group) }
	defaults := map[string]string{}
	for _, o := range brokerApplyOrder {
		if inGroup(o) && !o.NoDefault {
			defaults[o.Name] = o.normalize(o.Default)
		}
	}
	c.apply(defaults)
	for _, layer := range []map[string]string{c.Values, c.DynamicDefault, c.Dynamic} {
		vals := map[string]string{}
		for k, v := range layer {
			if o := brokerDef(k); o != nil && inGroup(o) {
				vals[k] = v
			}
		}
		c.apply(vals)
	}
}
