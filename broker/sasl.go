package broker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// saslExchange is a SASL exchange in progress on a connection. It is touched only by the
// connection's reader goroutine (handlers run there).
type saslExchange struct {
	mechanism string
	session   auth.Session
	// raw is set after SaslHandshake v0: the client then sends bare size-prefixed tokens with no
	// Kafka request header (kafka-python 2.0 does).
	raw    bool
	reauth bool
}

// saslEntries are the SASL APIs, served before authentication.
func (s *Server) saslEntries() []*apiEntry {
	return []*apiEntry{
		// v0 stays advertised: kafka-python 2.0 speaks only v0, and librdkafka 2.0 refuses SASL
		// when v0 is missing from ApiVersions (shared/reference/kafka-protocol-facts.md §2).
		{key: apiKeySaslHandshake, min: 0, max: 1, handle: s.handleSaslHandshake, preAuth: true},
		{key: apiKeySaslAuthenticate, min: 0, max: 2, handle: s.handleSaslAuthenticate, preAuth: true},
	}
}

func (s *Server) handleSaslHandshake(c *conn, h requestHeader, r kmsg.Request) reply {
	req := r.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	la := c.auth
	resp.SupportedMechanisms = la.mechNames
	switch {
	case !la.sec.SASL():
		// Kafka answers this on a listener without SASL too, and keeps the connection.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return respond(resp)
	case c.sasl != nil:
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.authEvent(hook.AuthFailure, "", "", "SaslHandshake during an exchange in progress", false)
		return reply{resp: resp, closeConn: true}
	case c.authenticated.Load() && h.version == 0:
		// KIP-368 re-authentication needs SaslAuthenticate; a v0 handshake cannot carry it.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.authEvent(hook.AuthFailure, req.Mechanism, c.principalName(), "re-authentication with SaslHandshake v0", true)
		return reply{resp: resp, closeConn: true}
	case c.authenticated.Load() && c.mechanism != "" && req.Mechanism != c.mechanism:
		// As Kafka: re-authentication keeps the mechanism. Authorization routes by mechanism
		// (IAM principals to IAM policies), so a switch could move a connection between engines.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.authEvent(hook.AuthFailure, req.Mechanism, c.principalName(), "re-authentication with a different mechanism than "+c.mechanism, true)
		return reply{resp: resp, closeConn: true}
	}
	mech, ok := la.mechs[req.Mechanism]
	if !ok {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.authEvent(hook.AuthFailure, req.Mechanism, "", "mechanism not enabled on this listener", c.authenticated.Load())
		return reply{resp: resp, closeConn: true}
	}
	c.sasl = &saslExchange{
		mechanism: req.Mechanism,
		session:   mech.Start(auth.ConnInfo{Listener: c.listener, RemoteAddr: c.remote, TLS: la.sec.TLS(), Now: s.now}),
		raw:       h.version == 0,
		reauth:    c.authenticated.Load(),
	}
	return respond(resp)
}

func (s *Server) handleSaslAuthenticate(c *conn, h requestHeader, r kmsg.Request) reply {
	req := r.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.sasl == nil || c.sasl.raw {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SaslAuthenticate without a SaslHandshake v1"
		resp.ErrorMessage = &msg
		c.authEvent(hook.AuthFailure, "", "", msg, c.authenticated.Load())
		return reply{resp: resp, closeConn: true}
	}
	// Mechanisms may keep the client's message (SCRAM needs it for the proof), and the request's
	// bytes alias the connection's reusable read buffer.
	token := append([]byte(nil), req.SASLAuthBytes...)
	out, lifetime, err := c.stepSASL(token)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := err.Error()
		resp.ErrorMessage = &msg
		return c.delayedFailure(resp)
	}
	resp.SASLAuthBytes = out
	resp.SessionLifetimeMillis = lifetime.Milliseconds()
	return respond(resp)
}

// stepSASL feeds one client token to the exchange. It returns the server's token and, once the
// exchange succeeds, the session lifetime granted (0: unlimited). The error, if any, is the
// client-facing message: "[<request id>] Authentication failed ...".
func (c *conn) stepSASL(token []byte) ([]byte, time.Duration, error) {
	x := c.sasl
	out, done, err := x.session.Step(token)
	if err != nil {
		c.sasl = nil
		var f *auth.Failure
		reason, claimed := err.Error(), ""
		if errors.As(err, &f) {
			reason, claimed = f.Reason, f.Principal
		}
		id := c.authEvent(hook.AuthFailure, x.mechanism, claimed, reason, x.reauth)
		return nil, 0, fmt.Errorf("[%s] Authentication failed during authentication due to invalid credentials with SASL mechanism %s", id, x.mechanism)
	}
	if !done {
		return out, 0, nil
	}
	c.sasl = nil
	p := x.session.Principal()
	if x.reauth && p.String() != c.principalName() {
		// KIP-368: a re-authentication may renew the session, never change who it belongs to.
		id := c.authEvent(hook.AuthFailure, x.mechanism, p.String(), "re-authentication as a different principal than "+c.principalName(), true)
		return nil, 0, fmt.Errorf("[%s] Authentication failed: re-authentication must keep the same principal", id)
	}
	lifetime := c.sessionLifetime(x.session.Expiry())
	if lifetime < 0 {
		id := c.authEvent(hook.AuthFailure, x.mechanism, p.String(), "credential already expired", x.reauth)
		return nil, 0, fmt.Errorf("[%s] Authentication failed: credential expired", id)
	}
	c.setPrincipal(p)
	c.mechanism = x.mechanism
	mech := x.mechanism
	c.authMech.Store(&mech)
	if lifetime > 0 {
		c.sessionExpiry.Store(c.srv.now().Add(lifetime).UnixNano())
	} else {
		c.sessionExpiry.Store(0)
	}
	c.authenticated.Store(true)
	c.authSucceeded(x.mechanism, p, x.reauth, lifetime)
	return out, lifetime, nil
}

// sessionLifetime is KIP-368's session lifetime: the smaller of the listener's
// connections.max.reauth.ms and the time left on the credential; 0 means unlimited and a
// negative value means the credential has already expired.
func (c *conn) sessionLifetime(expiry time.Time) time.Duration {
	lifetime := c.auth.reauth
	if !expiry.IsZero() {
		left := expiry.Sub(c.srv.now())
		if left <= 0 {
			return -1
		}
		if lifetime == 0 || left < lifetime {
			lifetime = left
		}
	}
	return lifetime
}

// handleRawSASL serves a bare SASL token sent after SaslHandshake v0. On success or for a
// continuing exchange the server token goes back size-prefixed (an empty token as a zero length,
// as Kafka sends for PLAIN); a failure closes the connection after the failed-authentication
// delay, with no bytes, as Kafka does.
func (c *conn) handleRawSASL(frame []byte) *pending {
	p := &pending{received: time.Now(), done: make(chan struct{}), raw: true}
	out, _, err := c.stepSASL(append([]byte(nil), frame...))
	if err != nil {
		delay := c.srv.cfg.FailedAuthenticationDelay
		p.reply = reply{none: true, closeConn: true, later: func(ctx context.Context) kmsg.Response {
			sleepCtx(ctx, delay)
			return nil
		}}
		return p
	}
	p.rawToken = out
	p.reply = reply{}
	return p
}

// delayedFailure answers a failed authentication after connection.failed.authentication.delay.ms
// and then closes the connection, so a password-guessing client gets few tries per second.
func (c *conn) delayedFailure(resp kmsg.Response) reply {
	delay := c.srv.cfg.FailedAuthenticationDelay
	return reply{closeConn: true, later: func(ctx context.Context) kmsg.Response {
		sleepCtx(ctx, delay)
		return resp
	}}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// authSucceeded records a successful authentication.
func (c *conn) authSucceeded(mechanism string, p auth.Principal, reauth bool, lifetime time.Duration) {
	id := newRequestID()
	c.logger.Info("authenticated", "mechanism", mechanism, "principal", p.String(), "reauthentication", reauth,
		"session_lifetime", lifetime, "request_id", id)
	c.lstats.Authenticated(c.metricMechanism(mechanism), true, reauth)
	c.srv.hooks.Authentication(hook.Authentication{Time: c.srv.now(), RequestID: id, Listener: c.listener, ClientAddr: c.remote,
		Mechanism: mechanism, Principal: p, Outcome: hook.AuthSuccess, Reauthentication: reauth, SessionLifetime: lifetime, TLS: c.tlsInfo()})
}

// metricMechanism is the mechanism label an attempt counts under: the mechanism when the listener
// offers it (or TLS), "none" when none was chosen yet, "unknown" for a name the client made up;
// a client never chooses a metric label.
func (c *conn) metricMechanism(m string) string {
	switch {
	case m == "":
		return "none"
	case m == "TLS":
		return m
	}
	if c.auth != nil {
		if _, ok := c.auth.mechs[m]; ok {
			return m
		}
	}
	return "unknown"
}

// authEvent records a failed or refused authentication and returns its request id, which the
// client may be shown; the reason goes only to the log and the hooks.
func (c *conn) authEvent(outcome hook.AuthOutcome, mechanism, claimed, reason string, reauth bool) string {
	id := newRequestID()
	c.logger.Warn("authentication "+string(outcome), "mechanism", mechanism, "principal", claimed,
		"reason", reason, "reauthentication", reauth, "request_id", id)
	c.lstats.Authenticated(c.metricMechanism(mechanism), false, reauth)
	c.srv.hooks.Authentication(hook.Authentication{Time: c.srv.now(), RequestID: id, Listener: c.listener, ClientAddr: c.remote,
		Mechanism: mechanism, Claimed: claimed, Outcome: outcome, Reason: reason, Reauthentication: reauth, TLS: c.tlsInfo()})
	return id
}

// requestIDPrefix makes request ids unique across restarts; requestIDSeq within this process.
var (
	requestIDPrefix = func() (b [8]byte) { _, _ = rand.Read(b[:]); return }()
	requestIDSeq    atomic.Uint64
)

// newRequestID returns a UUID-shaped id tying a client's error to the broker's records: a random
// per-process prefix and a sequence number, so it is unique and costs no system call per request.
func newRequestID() string {
	var b [16]byte
	copy(b[:8], requestIDPrefix[:])
	binary.BigEndian.PutUint64(b[8:], requestIDSeq.Add(1))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var h [36]byte
	hex.Encode(h[0:8], b[0:4])
	h[8] = '-'
	hex.Encode(h[9:13], b[4:6])
	h[13] = '-'
	hex.Encode(h[14:18], b[6:8])
	h[18] = '-'
	hex.Encode(h[19:23], b[8:10])
	h[23] = '-'
	hex.Encode(h[24:], b[10:])
	return string(h[:])
}
