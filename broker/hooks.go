package broker

import (
	"time"
)

// Hook is any value implementing one or more of the hook interfaces below. Observability
// packages (metrics, audit) implement them; the broker core depends on none of those packages,
// in the manner of franz-go's kgo hooks.
type Hook any

// RequestInfo describes one answered request.
type RequestInfo struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      string
	Listener      string
	Remote        string
	Principal     string
	Received      time.Time
	// Latency runs from the frame being read to the response being handed to the socket.
	Latency time.Duration
}

// RequestHook observes every request the broker answers.
type RequestHook interface {
	OnRequest(RequestInfo)
}

// ConnInfo describes a client connection.
type ConnInfo struct {
	Listener string
	Remote   string
}

// ConnHook observes connections opening and closing.
type ConnHook interface {
	OnConnect(ConnInfo)
	OnDisconnect(ConnInfo)
}

type hookList []Hook

func (hs hookList) requestDone(c *conn, p *pending) {
	if len(hs) == 0 {
		return
	}
	info := RequestInfo{
		APIKey:        p.header.key,
		APIVersion:    p.header.version,
		CorrelationID: p.header.correlationID,
		ClientID:      p.header.clientID,
		Listener:      c.listener,
		Remote:        c.remote,
		Principal:     c.principalName(),
		Received:      p.received,
		Latency:       time.Since(p.received),
	}
	for _, h := range hs {
		if rh, ok := h.(RequestHook); ok {
			rh.OnRequest(info)
		}
	}
}

func (hs hookList) connect(c *conn) {
	for _, h := range hs {
		if ch, ok := h.(ConnHook); ok {
			ch.OnConnect(ConnInfo{Listener: c.listener, Remote: c.remote})
		}
	}
}

func (hs hookList) disconnect(c *conn) {
	for _, h := range hs {
		if ch, ok := h.(ConnHook); ok {
			ch.OnDisconnect(ConnInfo{Listener: c.listener, Remote: c.remote})
		}
	}
}

// AuthOutcome is how an authentication attempt ended.
type AuthOutcome string

// Authentication outcomes.
const (
	AuthSuccess AuthOutcome = "success"
	AuthFailure AuthOutcome = "failure"
	// AuthRefused is a connection turned away before it could authenticate: a connection limit,
	// a request sent before authenticating, or an expired session.
	AuthRefused AuthOutcome = "refused"
)

// AuthEvent is one authentication attempt (or refusal), for the audit trail and metrics. Reason
// is precise and never sent to the client; the client sees RequestID, which ties its error to
// this event.
type AuthEvent struct {
	Time       time.Time
	RequestID  string
	Listener   string
	ClientAddr string
	// Mechanism is the SASL mechanism, "TLS" for a TLS handshake or mutual-TLS principal, or
	// empty for a refusal before any mechanism was chosen.
	Mechanism string
	// Principal is the authenticated principal on success, the claimed one on failure when known.
	Principal        string
	Outcome          AuthOutcome
	Reason           string
	Reauthentication bool
	// SessionLifetime is the KIP-368 session lifetime granted on success (0: unlimited).
	SessionLifetime time.Duration
}

// AuthHook observes every authentication attempt.
type AuthHook interface {
	OnAuthentication(AuthEvent)
}

func (hs hookList) authenticated(ev AuthEvent) {
	for _, h := range hs {
		if ah, ok := h.(AuthHook); ok {
			ah.OnAuthentication(ev)
		}
	}
}
