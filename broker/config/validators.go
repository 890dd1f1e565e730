package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// atLeast accepts integers (or doubles) not below min.
func atLeast(min float64) func(string) error {
	return func(v string) error {
		if f := mustFloat(v); f < min {
			return fmt.Errorf("must be at least %s: %q", fmtNum(min), v)
		}
		return nil
	}
}

// between accepts numbers in [lo, hi].
func between(lo, hi float64) func(string) error {
	return func(v string) error {
		if f := mustFloat(v); f < lo || f > hi {
			return fmt.Errorf("must be between %s and %s: %q", fmtNum(lo), fmtNum(hi), v)
		}
		return nil
	}
}

// levelOrDefault accepts -1 (codec default) or a level in [lo, hi], as Kafka's compression levels.
func levelOrDefault(lo, hi float64) func(string) error {
	inner := between(lo, hi)
	return func(v string) error {
		if mustInt(v) == -1 {
			return nil
		}
		return inner(v)
	}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// oneOf accepts one of the given values; like Kafka's ValidString it is case-sensitive unless
// fold is set.
func oneOf(fold bool, allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if v == a || (fold && strings.EqualFold(v, a)) {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s: %q", strings.Join(allowed, ", "), v)
	}
}

// listOf accepts a list whose every item is one of allowed (an empty list when allowEmpty).
func listOf(allowEmpty bool, allowed ...string) func(string) error {
	item := oneOf(false, allowed...)
	return func(v string) error {
		items := splitList(v)
		if len(items) == 0 && !allowEmpty {
			return fmt.Errorf("must list at least one of %s", strings.Join(allowed, ", "))
		}
		for _, it := range items {
			if err := item(it); err != nil {
				return err
			}
		}
		return nil
	}
}

// nonEmptyList accepts a list with at least one item.
func nonEmptyList(v string) error {
	if len(splitList(v)) == 0 {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

// validListeners accepts a listeners value; empty is accepted only when allowEmpty.
func validListeners(allowEmpty bool) func(string) error {
	return func(v string) error {
		ls, err := ParseListeners(v)
		if err != nil {
			return err
		}
		if len(ls) == 0 && !allowEmpty {
			return fmt.Errorf("must name at least one listener")
		}
		return nil
	}
}

var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// parseProtocolMap parses listener.security.protocol.map: "NAME:PROTOCOL,NAME:PROTOCOL".
func parseProtocolMap(v string) (map[string]string, error) {
	m := make(map[string]string)
	for _, item := range splitList(v) {
		name, proto, ok := strings.Cut(item, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return nil, fmt.Errorf("entry %q is not NAME:PROTOCOL", item)
		}
		if err := oneOf(false, securityProtocols...)(proto); err != nil {
			return nil, fmt.Errorf("listener %s: security protocol %w", name, err)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("listener %s is mapped twice", name)
		}
		m[name] = proto
	}
	return m, nil
}

func validProtocolMap(v string) error {
	_, err := parseProtocolMap(v)
	return err
}

// validHostPort accepts "host:port" with a port in 0..65535 (host may be empty: all interfaces).
func validHostPort(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("not host:port: %q", v)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("port out of range: %q", v)
	}
	return nil
}

// parseSuperUsers parses super.users: principals separated by ";", each "Type:name".
func parseSuperUsers(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ";") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		typ, name, ok := strings.Cut(p, ":")
		if !ok || typ == "" || name == "" {
			return nil, fmt.Errorf("principal %q is not Type:name (e.g. User:alice)", p)
		}
		out = append(out, p)
	}
	return out, nil
}

func validSuperUsers(v string) error {
	_, err := parseSuperUsers(v)
	return err
}

// parseIPOverrides parses max.connections.per.ip.overrides: "host:count,host:count".
func parseIPOverrides(v string) (map[string]int32, error) {
	m := make(map[string]int32)
	for _, item := range splitList(v) {
		i := strings.LastIndexByte(item, ':')
		if i <= 0 {
			return nil, fmt.Errorf("entry %q is not host:count", item)
		}
		host := strings.TrimSpace(item[:i])
		n, err := strconv.ParseInt(strings.TrimSpace(item[i+1:]), 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("entry %q: count must be a non-negative number", item)
		}
		m[host] = int32(n)
	}
	return m, nil
}

func validIPOverrides(v string) error {
	_, err := parseIPOverrides(v)
	return err
}

// validThrottledReplicas accepts Kafka's throttled replica lists: "", "*", or
// "partition:broker,partition:broker".
func validThrottledReplicas(v string) error {
	if v == "*" {
		return nil
	}
	for _, item := range splitList(v) {
		p, b, ok := strings.Cut(item, ":")
		if !ok {
			return fmt.Errorf("entry %q is not partition:broker", item)
		}
		if _, err := strconv.ParseUint(strings.TrimSpace(p), 10, 31); err != nil {
			return fmt.Errorf("entry %q is not partition:broker", item)
		}
		if _, err := strconv.ParseUint(strings.TrimSpace(b), 10, 31); err != nil {
			return fmt.Errorf("entry %q is not partition:broker", item)
		}
	}
	return nil
}

// validHTTPURL accepts an http:// URL with a host (https needs a trust store: not yet).
func validHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q is not an http:// URL with a host", v)
	}
	if u.Scheme == "https" {
		return fmt.Errorf("https OPA URLs are not supported yet (no opa.authorizer.truststore.* support); run OPA on loopback with http")
	}
	return nil
}

// validRegoRef accepts a data reference such as data.kafka.authz.allow.
func validRegoRef(v string) error {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || parts[0] != "data" {
		return fmt.Errorf("%q is not a rule reference of the form data.<package>.<rule>", v)
	}
	for _, p := range parts[1:] {
		if p == "" || strings.TrimLeft(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			return fmt.Errorf("%q is not a rule reference of the form data.<package>.<rule>", v)
		}
	}
	return nil
}

// validAccountID accepts a 12-digit AWS account id.
func validAccountID(v string) error {
	if len(v) != 12 || strings.Trim(v, "0123456789") != "" {
		return fmt.Errorf("%q is not a 12-digit account id", v)
	}
	return nil
}

// validClusterName accepts what MSK allows in a cluster name: letters, digits and '-', 1-64.
func validClusterName(v string) error {
	if v == "" || len(v) > 64 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return fmt.Errorf("%q is not a cluster name (1-64 letters, digits and -)", v)
	}
	return nil
}

// emptyOr accepts an empty value (a feature turned off) or one f accepts.
func emptyOr(f func(string) error) func(string) error {
	return func(v string) error {
		if v == "" {
			return nil
		}
		return f(v)
	}
}

// validLevelOverrides accepts component=level pairs with slog's level names.
func validLevelOverrides(v string) error {
	for _, o := range splitList(v) {
		name, lv, ok := strings.Cut(o, "=")
		if !ok || name == "" {
			return fmt.Errorf("%q is not component=level", o)
		}
		if err := oneOf(true, "DEBUG", "INFO", "WARN", "ERROR")(lv); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// notAWSNamespace refuses CloudWatch namespaces reserved for AWS services.
func notAWSNamespace(v string) error {
	if v == "" || strings.HasPrefix(v, "AWS/") {
		return fmt.Errorf("%q: AWS/ namespaces are reserved for AWS services", v)
	}
	return nil
}
