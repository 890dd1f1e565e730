package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Listener is one entry of listeners or advertised.listeners: "NAME://host:port". An empty Host
// means all interfaces (as Kafka), and Port 0 means an ephemeral port (useful in tests).
type Listener struct {
	Name string // upper-cased, as Kafka normalises listener names
	Host string // without brackets for IPv6 literals
	Port int
}

// String renders the listener in Kafka's syntax, bracketing IPv6 hosts.
func (l Listener) String() string {
	return l.Name + "://" + net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
}

// Addr is the host:port to bind or dial.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// ParseListener parses "NAME://host:port", "NAME://:port" or "NAME://[::1]:port" (IPv6 hosts
// may also be unbracketed, as Kafka allows).
func ParseListener(s string) (Listener, error) {
	s = strings.TrimSpace(s)
	name, addr, ok := strings.Cut(s, "://")
	if !ok || name == "" {
		return Listener{}, fmt.Errorf("listener %q is not NAME://host:port", s)
	}
	for _, r := range name {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return Listener{}, fmt.Errorf("listener %q: name may hold only letters, digits, '_' and '-'", s)
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// Kafka also accepts an unbracketed IPv6 host ("PLAINTEXT://::1:9092"): the port is
		// whatever follows the last colon.
		i := strings.LastIndexByte(addr, ':')
		if i < 0 || strings.ContainsAny(addr, "[]") {
			return Listener{}, fmt.Errorf("listener %q: address is not host:port", s)
		}
		host, port = addr[:i], addr[i+1:]
	}
	if strings.ContainsAny(host, " /\\@") {
		return Listener{}, fmt.Errorf("listener %q: invalid host", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return Listener{}, fmt.Errorf("listener %q: port must be 0..65535", s)
	}
	return Listener{Name: strings.ToUpper(name), Host: host, Port: p}, nil
}

// ParseListeners parses a comma-separated listener list; listener names must be unique.
func ParseListeners(v string) ([]Listener, error) {
	var out []Listener
	seen := map[string]bool{}
	for _, item := range splitList(v) {
		l, err := ParseListener(item)
		if err != nil {
			return nil, err
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("listener name %s is used twice", l.Name)
		}
		seen[l.Name] = true
		out = append(out, l)
	}
	return out, nil
}

func formatListeners(ls []Listener) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.String()
	}
	return strings.Join(parts, ",")
}
