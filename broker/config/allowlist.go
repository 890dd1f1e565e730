package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// allowedCIDRsKey is the listener allowlist key (the self-hosted form of MSK's security groups).
const allowedCIDRsKey = "bulwark.allowed.cidrs"

// parseCIDRs parses a comma-separated list of CIDRs, IPv4 or IPv6; a bare address means that one
// host. Each prefix is masked to its network, so 10.1.2.3/8 and 10.0.0.0/8 are the same entry.
func parseCIDRs(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("not a CIDR or IP address: %q", s)
		}
		if p.Addr().Zone() != "" {
			return nil, fmt.Errorf("zoned addresses are not allowed: %q", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func validCIDRs(v string) error {
	_, err := parseCIDRs(v)
	return err
}

// Allowlist is the set of client networks a listener accepts. The zero value (no prefixes and
// not set) allows every address; a list that was set but parses to nothing allows none.
type Allowlist struct {
	Set      bool
	Prefixes []netip.Prefix
}

// Allows reports whether a client address may connect. IPv4-mapped IPv6 addresses are matched
// as IPv4, so ::ffff:10.0.0.1 is allowed by 10.0.0.0/8.
func (a Allowlist) Allows(addr netip.Addr) bool {
	if !a.Set {
		return true
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range a.Prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// String lists the prefixes as configured (after masking), or "all" when unset.
func (a Allowlist) String() string {
	if !a.Set {
		return "all"
	}
	s := make([]string, len(a.Prefixes))
	for i, p := range a.Prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// ListenerAllowlist resolves the allowlist of a listener: listener.name.<l>.bulwark.allowed.cidrs
// when set at any layer (dynamic broker, dynamic cluster default, file), else
// bulwark.allowed.cidrs, else allow all. An empty value is "unset" (allow all), as Kafka treats an
// empty list key.
func (c *Config) ListenerAllowlist(listener string) Allowlist {
	key := "listener.name." + strings.ToLower(listener) + "." + allowedCIDRsKey
	for _, layer := range []map[string]string{c.Dynamic, c.DynamicDefault, c.Values} {
		if v, ok := layer[key]; ok {
			return allowlistOf(v)
		}
	}
	v, _ := c.Get(allowedCIDRsKey)
	return allowlistOf(v)
}

func allowlistOf(v string) Allowlist {
	if strings.TrimSpace(v) == "" {
		return Allowlist{}
	}
	p, err := parseCIDRs(v)
	if err != nil {
		// Values are checked before they are stored; a bad one here is a bug, so fail closed.
		return Allowlist{Set: true}
	}
	return Allowlist{Set: true, Prefixes: p}
}
