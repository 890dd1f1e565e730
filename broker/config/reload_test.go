package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestReloadAppliesDynamicKeysOnly(t *testing.T) {
	cur := mustParse(t, "max.connections=10\nbulwark.allowed.cidrs=127.0.0.2/32\nlog.retention.hours=1\nnum.io.threads=8\n")
	next := mustParse(t, "max.connections=20\nbulwark.allowed.cidrs=127.0.0.1/32, ::1\nnum.io.threads=8\nsocket.request.max.bytes=5000000\nlisteners=PLAINTEXT://127.0.0.1:9999\n")
	out, applied, restart := cur.Reload(next)
	if want := []string{"bulwark.allowed.cidrs", "log.retention.hours", "max.connections"}; !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	if want := []string{"listeners", "socket.request.max.bytes"}; !slices.Equal(restart, want) {
		t.Errorf("need restart %v, want %v", restart, want)
	}
	if out.MaxConnections != 20 {
		t.Errorf("max.connections = %d", out.MaxConnections)
	}
	if out.LogRetentionMs != 168*3600000 {
		t.Errorf("log.retention.hours removed: retention %d ms, want the 168 h default", out.LogRetentionMs)
	}
	if out.SocketRequestMaxBytes != cur.SocketRequestMaxBytes || out.Listeners[0].Port != cur.Listeners[0].Port {
		t.Error("a static key changed without a restart")
	}
	al := out.ListenerAllowlist("PLAINTEXT")
	if !al.Allows(netip.MustParseAddr("127.0.0.1")) || !al.Allows(netip.MustParseAddr("::1")) || al.Allows(netip.MustParseAddr("127.0.0.2")) {
		t.Errorf("allowlist after reload = %s", al)
	}
	if cur.MaxConnections != 10 || !cur.ListenerAllowlist("PLAINTEXT").Allows(netip.MustParseAddr("127.0.0.2")) {
		t.Error("Reload modified the configuration in force")
	}
}

func TestAllowlists(t *testing.T) {
	c := mustParse(t, `listeners=PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9093
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT
bulwark.allowed.cidrs=10.0.0.0/8, 2001:db8::/32
listener.name.internal.bulwark.allowed.cidrs=192.168.1.7
`)
	pub, internal := c.ListenerAllowlist("PLAINTEXT"), c.ListenerAllowlist("INTERNAL")
	for _, tc := range []struct {
		al   Allowlist
		addr string
		want bool
	}{
		{pub, "10.1.2.3", true},
		{pub, "::ffff:10.1.2.3", true}, // IPv4-mapped, as a dual-stack socket reports it
		{pub, "11.0.0.1", false},
		{pub, "2001:db8::1", true},
		{pub, "2001:db9::1", false},
		{internal, "192.168.1.7", true},
		{internal, "10.1.2.3", false}, // the listener's own list replaces the broker-wide one
		{Allowlist{}, "203.0.113.9", true},
		{Allowlist{Set: true}, "127.0.0.1", false},
	} {
		if got := tc.al.Allows(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("%s allows %s = %v, want %v", tc.al, tc.addr, got, tc.want)
		}
	}
	if Default().ListenerAllowlist("PLAINTEXT").Set {
		t.Error("the default allowlist is not 'allow all'")
	}
	// A dynamic per-listener value wins over the file's.
	d := c.WithDynamicLayers(nil, map[string]string{"listener.name.internal.bulwark.allowed.cidrs": "10.0.0.0/8"})
	if !d.ListenerAllowlist("INTERNAL").Allows(netip.MustParseAddr("10.9.9.9")) {
		t.Error("dynamic per-listener allowlist not applied")
	}
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "fe80::1%eth0/64"} {
		if _, err := Parse(strings.NewReader("bulwark.allowed.cidrs=" + bad)); err == nil {
			t.Errorf("bulwark.allowed.cidrs=%s accepted", bad)
		}
	}
	if err := ValidateBrokerDynamic(map[string]string{"listener.name.plaintext.bulwark.allowed.cidrs": "127.0.0.1/32"}); err != nil {
		t.Errorf("per-listener allowlist not dynamic: %v", err)
	}
	if err := ValidateBrokerDynamic(map[string]string{"super.users": "User:x"}); err == nil {
		t.Error("a not-yet key accepted dynamically")
	}
}
