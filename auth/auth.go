package auth

import (
	"errors"
	"time"
)

// Principal is an authenticated identity in Kafka's "Type:Name" form. SCRAM and PLAIN users are
// User:<name>; mutual TLS gives User:<mapped distinguished name>; IAM logins give User:<ARN>.
type Principal struct {
	Type string
	Name string
}

// Anonymous is the principal of an unauthenticated PLAINTEXT connection, as in Kafka.
var Anonymous = Principal{Type: "User", Name: "ANONYMOUS"}

// User returns the User:<name> principal.
func User(name string) Principal { return Principal{Type: "User", Name: name} }

// String gives the "Type:Name" form used in ACLs, logs and audit records.
func (p Principal) String() string { return p.Type + ":" + p.Name }

// ConnInfo describes the connection a SASL exchange runs on. Mechanisms use it for checks that
// depend on the transport (PLAIN only over TLS) and for the IAM host check.
type ConnInfo struct {
	Listener   string
	RemoteAddr string
	// TLS is true on SSL and SASL_SSL listeners.
	TLS bool
	// Now is the clock; nil means time.Now. Tests set it to check expiry and skew.
	Now func() time.Time
}

// Time returns the current time by the connection's clock.
func (c ConnInfo) Time() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Mechanism is one SASL mechanism the broker offers (SCRAM-SHA-256, PLAIN, AWS_MSK_IAM, ...).
// A Mechanism is shared by all connections and must be safe for concurrent use; each
// authentication attempt gets its own Session.
type Mechanism interface {
	// Name is the IANA/Kafka mechanism name, as sent in SaslHandshake.
	Name() string
	// Start begins one authentication exchange.
	Start(ConnInfo) Session
}

// Session is one SASL exchange. The broker feeds it each client message (SaslAuthenticate
// auth_bytes, or a raw frame after SaslHandshake v0) and sends back the reply.
type Session interface {
	// Step consumes one client message. It returns the bytes to send back, and done=true once
	// the client is authenticated (reply may still carry a final server message, as SCRAM's
	// server-final does). A non-nil error means authentication failed; it is a *Failure.
	Step(msg []byte) (reply []byte, done bool, err error)
	// Principal is the authenticated identity; valid once Step returned done.
	Principal() Principal
	// Expiry is when the credential used stops being valid (an IAM session token's expiry, an
	// access key's configured expiry); zero means no expiry. The broker caps KIP-368 session
	// lifetime at this time.
	Expiry() time.Time
}

// Failure is a failed authentication. Reason is precise and for the broker log and the audit
// trail only; the client is told just that authentication failed. Principal is the identity the
// client claimed, when it got that far (empty otherwise).
type Failure struct {
	Mechanism string
	Principal string
	Reason    string
	// Err is the underlying cause, if any (for errors.Is).
	Err error
}

func (f *Failure) Error() string {
	return "auth: " + f.Mechanism + " authentication failed: " + f.Reason
}

func (f *Failure) Unwrap() error { return f.Err }

// Fail builds a *Failure.
func Fail(mechanism, principal, reason string, err error) *Failure {
	return &Failure{Mechanism: mechanism, Principal: principal, Reason: reason, Err: err}
}

// ErrUnexpectedMessage is returned by a Session that is stepped after it finished or failed.
var ErrUnexpectedMessage = errors.New("auth: unexpected SASL message")
