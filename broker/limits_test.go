package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

func TestConnectionCreationRate(t *testing.T) {
	l := newConnLimits()
	now := time.Unix(1000, 0)
	// A full second's worth of connections goes through at once, then the acceptor waits.
	for i := range 10 {
		if d := l.creationDelay(10, now); d != 0 {
			t.Fatalf("connection %d delayed %v within the burst", i, d)
		}
	}
	if d := l.creationDelay(10, now); d != 100*time.Millisecond {
		t.Fatalf("11th connection delayed %v, want 100ms", d)
	}
	if d := l.creationDelay(maxInt32, now); d != 0 {
		t.Fatalf("unlimited rate delayed %v", d)
	}
}

func TestConnectionLimits(t *testing.T) {
	cfg := config.Default()
	cfg.MaxConnections = 3
	cfg.MaxConnectionsPerIP = 2
	cfg.MaxConnectionsPerIPOverrides = map[string]int32{"10.0.0.9": 3}
	l := newConnLimits()
	admit := func(ip string, listenerMax int32) string {
		reason, _ := l.admit(ip, "L", cfg, listenerMax)
		return reason
	}
	if admit("10.0.0.1", maxInt32) != "" || admit("10.0.0.1", maxInt32) != "" {
		t.Fatal("first two connections refused")
	}
	if r := admit("10.0.0.1", maxInt32); !strings.Contains(r, "from 10.0.0.1 (limit 2)") {
		t.Fatalf("third from one address: %q", r)
	}
	if admit("10.0.0.9", maxInt32) != "" {
		t.Fatal("override address refused")
	}
	if r := admit("10.0.0.2", maxInt32); !strings.Contains(r, "max.connections=3") {
		t.Fatalf("over the broker limit: %q", r)
	}
	l.release("10.0.0.1", "L")
	if r := admit("10.0.0.2", 2); !strings.Contains(r, "this listener") {
		t.Fatalf("over the listener limit: %q", r)
	}
	if admit("10.0.0.2", maxInt32) != "" {
		t.Fatal("a released slot was not reusable")
	}
}
