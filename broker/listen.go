package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// listenerAuth is how one listener authenticates its connections, built once at start-up from
// the listener's security settings.
type listenerAuth struct {
	sec config.ListenerSecurity
	// tls is the listener's TLS configuration (SSL and SASL_SSL); its certificates reload from
	// disk without a restart.
	tls *tls.Config
	// certPrincipal maps a verified client certificate to a principal (SSL listeners).
	certPrincipal func(*tls.ConnectionState) (auth.Principal, error)
	// mechs are the SASL mechanisms offered, by name; mechNames keeps the configured order for
	// the SaslHandshake answer.
	mechs     map[string]auth.Mechanism
	mechNames []string
	// reauth is connections.max.reauth.ms for this listener (0: sessions never expire).
	reauth time.Duration
	// maxConns is listener.name.<l>.max.connections (maxInt32: no listener limit).
	maxConns int32
}

// buildListenerAuth resolves a listener's security settings into what its connections use.
func (s *Server) buildListenerAuth(l config.Listener) (*listenerAuth, error) {
	sec := s.cfg.ListenerSecurity(l.Name)
	la := &listenerAuth{sec: sec, mechs: map[string]auth.Mechanism{}, maxConns: maxInt32}
	if ms, err := strconv.ParseInt(sec.ReauthMs, 10, 64); err == nil {
		la.reauth = time.Duration(ms) * time.Millisecond
	}
	la.maxConns = s.cfg.ListenerMaxConnections(l.Name)
	switch sec.Protocol {
	case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
	default:
		return nil, fmt.Errorf("broker: listener %s: unknown security protocol %q", l.Name, sec.Protocol)
	}
	if sec.TLS() {
		if err := s.setupTLS(la); err != nil {
			return nil, fmt.Errorf("broker: listener %s: %w", l.Name, err)
		}
	}
	if sec.SASL() {
		if len(sec.Mechanisms) == 0 {
			return nil, fmt.Errorf("broker: listener %s: sasl.enabled.mechanisms is empty", l.Name)
		}
		for _, name := range sec.Mechanisms {
			if name == "PLAIN" && !sec.TLS() && !s.cfg.PlainAllowPlaintext {
				return nil, fmt.Errorf("broker: listener %s: PLAIN would send passwords in the clear on %s; use SASL_SSL or set bulwark.sasl.plain.allow.plaintext=true", l.Name, sec.Protocol)
			}
			m, err := s.newMechanism(name)
			if err != nil {
				return nil, fmt.Errorf("broker: listener %s: %w", l.Name, err)
			}
			la.mechs[name] = m
			la.mechNames = append(la.mechNames, name)
		}
	}
	return la, nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (s *Server) acceptLoop(bl *boundListener) {
	defer s.bgWG.Done()
	var backoff time.Duration
	for {
		nc, err := bl.ln.Accept()
		if err != nil {
			if s.draining.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (EMFILE and the like): back off rather than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Warn("accept failed", "listener", bl.cfg.Name, "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.admit(bl, nc)
	}
}

// admit applies the allowlist, the connection-creation limits and the connection limits to a
// new connection and starts serving it. It runs on the accept goroutine, so a refusal does no
// more than log (rate-limited), emit an event without waiting and close.
func (s *Server) admit(bl *boundListener, nc net.Conn) {
	ip := remoteIP(nc.RemoteAddr())
	addr := remoteAddr(nc.RemoteAddr())
	cfg := s.effectiveConfig()
	// The allowlist decides before a byte is read or the TLS handshake starts, and before the
	// connection counts against any rate, so outsiders cannot use up the others' budget.
	if al := cfg.ListenerAllowlist(bl.cfg.Name); !al.Allows(addr) {
		bl.stats.RefusedOne(stats.RefusedAllowlist)
		s.refuseAtAccept(bl, nc, fmt.Sprintf("client address %s is not in the listener's allowlist (%s)", ip, al))
		_ = nc.Close()
		return
	}
	// max.connection.creation.rate throttles the acceptor (Kafka does the same).
	if d := s.limits.creationDelay(cfg.MaxConnectionCreationRate, time.Now()); d > 0 {
		sleepCtx(s.ctx, d)
	}
	if d := s.quotas.Connection(addr); d > 0 {
		// KIP-612: an IP over its connection_creation_rate has the connection closed after the
		// throttle time, so a client retrying at once gains nothing.
		bl.stats.RefusedOne(stats.RefusedQuota)
		s.refuseAtAccept(bl, nc, fmt.Sprintf("client address %s is over its connection_creation_rate quota", ip))
		s.closeAfter(nc, d)
		return
	}
	if reason, ok := s.limits.admit(ip, bl.cfg.Name, cfg, bl.auth.maxConns); !ok {
		bl.stats.RefusedOne(stats.RefusedLimit)
		s.refuseAtAccept(bl, nc, reason)
		_ = nc.Close()
		return
	}
	if bl.auth.tls != nil {
		// No I/O yet: the handshake runs on the connection's own goroutine.
		nc = tls.Server(nc, bl.auth.tls)
	}
	c := newConn(s, nc, bl)
	if bl.protocol == "PLAINTEXT" {
		c.authenticated.Store(true)
		bl.stats.PlaintextReady()
	}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		s.limits.release(ip, bl.cfg.Name)
		c.cancel()
		_ = nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	bl.stats.Opened()
	c.connectionEvent(hook.ConnectionOpened, "", "")
	go func() {
		defer s.connWG.Done()
		if c.handshake() {
			c.serve()
		}
		bl.stats.ClosedOne()
		c.connectionEvent(hook.ConnectionClosed, "", "")
		s.limits.release(ip, bl.cfg.Name)
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// handshake runs the TLS handshake on SSL and SASL_SSL listeners, within the authentication
// timeout, and on SSL listeners takes the principal from the client certificate. It reports
// whether the connection may go on; if not, it has been closed and recorded.
func (c *conn) handshake() bool {
	la := c.auth
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	ctx, cancel := context.WithDeadline(c.ctx, c.authDeadline)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.authEvent(hook.AuthFailure, "TLS", "", "TLS handshake failed: "+err.Error(), false)
		c.close()
		return false
	}
	if la.sec.SASL() {
		return true
	}
	st := tc.ConnectionState()
	p := auth.Anonymous
	if len(st.PeerCertificates) > 0 {
		var err error
		if p, err = la.certPrincipal(&st); err != nil {
			c.authEvent(hook.AuthFailure, "TLS", st.PeerCertificates[0].Subject.String(), "client certificate maps to no principal: "+err.Error(), false)
			c.close()
			return false
		}
	}
	c.setPrincipal(p)
	tlsMech := "TLS"
	c.authMech.Store(&tlsMech)
	c.authenticated.Store(true)
	c.authSucceeded("TLS", p, false, 0)
	return true
}

// effectiveConfig is the configuration in force: the file as last reloaded, with the dynamic
// broker configs applied; it serves the dynamic connection limits and allowlists.
func (s *Server) effectiveConfig() *config.Config {
	return s.cluster.live.effective(s.cluster.store.State())
}

// maxDelayedCloses bounds the connections held open to be closed after a throttle; beyond it they
// are closed at once, so a flood of refused connections cannot pile up descriptors.
const maxDelayedCloses = 1024

// closeAfter closes nc after d (capped by the drain), or at once when too many wait already.
func (s *Server) closeAfter(nc net.Conn, d time.Duration) {
	if s.delayedCloses.Add(1) > maxDelayedCloses {
		s.delayedCloses.Add(-1)
		_ = nc.Close()
		return
	}
	go func() {
		defer s.delayedCloses.Add(-1)
		sleepCtx(s.ctx, d)
		_ = nc.Close()
	}()
}
