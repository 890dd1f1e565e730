package broker

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// connLimits enforces max.connections, max.connections.per.ip (with overrides) and
// max.connection.creation.rate. The limits are dynamic broker configs, so they are read from the
// effective configuration at each accept.
type connLimits struct {
	mu          sync.Mutex
	total       int
	perIP       map[string]int
	perListener map[string]int

	// Token bucket for max.connection.creation.rate, refilled continuously, holding at most one
	// second's worth of connections.
	tokens float64
	last   time.Time
}

func newConnLimits() *connLimits {
	return &connLimits{perIP: make(map[string]int), perListener: make(map[string]int)}
}

// remoteIP is the address part of a remote address ("10.0.0.1" from "10.0.0.1:5555").
func remoteIP(addr net.Addr) string {
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// remoteAddr is the IP of a remote address, or the zero Addr (which no allowlist allows) when it
// has none.
func remoteAddr(addr net.Addr) netip.Addr {
	if ta, ok := addr.(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// creationDelay takes a token for one new connection and returns how long the accept loop must
// wait first: Kafka throttles the acceptor rather than refusing connections over the rate.
func (l *connLimits) creationDelay(rate int32, now time.Time) time.Duration {
	if rate <= 0 || rate == maxInt32 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := float64(rate)
	if l.last.IsZero() {
		l.tokens = r
	} else {
		l.tokens = min(r, l.tokens+now.Sub(l.last).Seconds()*r)
	}
	l.last = now
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / r * float64(time.Second))
}

// admit counts a new connection from ip, or says why it is refused. Every admitted connection
// must be released.
func (l *connLimits) admit(ip, listener string, cfg *config.Config, listenerMax int32) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if limit := cfg.MaxConnections; limit < maxInt32 && l.total >= int(limit) {
		return fmt.Sprintf("too many connections to this broker (max.connections=%d)", limit), false
	}
	if listenerMax < maxInt32 && l.perListener[listener] >= int(listenerMax) {
		return fmt.Sprintf("too many connections to this listener (max.connections=%d)", listenerMax), false
	}
	limit := cfg.MaxConnectionsPerIP
	if o, ok := cfg.MaxConnectionsPerIPOverrides[ip]; ok {
		limit = o
	}
	if limit < maxInt32 && l.perIP[ip] >= int(limit) {
		return fmt.Sprintf("too many connections from %s (limit %d)", ip, limit), false
	}
	l.total++
	l.perIP[ip]++
	l.perListener[listener]++
	return "", true
}

func (l *connLimits) release(ip, listener string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	l.perListener[listener]--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

const maxInt32 = int32(^uint32(0) >> 1)
