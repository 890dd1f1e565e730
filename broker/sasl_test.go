package broker

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// testMechanism is a one-message SASL mechanism for exercising the broker's SASL plumbing:
// the client sends "user:password"; any user whose password is "pw" gets in.
type testMechanism struct{ expiry time.Time }

func (testMechanism) Name() string { return "TEST" }

func (m testMechanism) Start(auth.ConnInfo) auth.Session { return &testSession{expiry: m.expiry} }

type testSession struct {
	user   string
	expiry time.Time
}

func (s *testSession) Step(msg []byte) ([]byte, bool, error) {
	user, pass, _ := strings.Cut(string(msg), ":")
	if pass != "pw" {
		return nil, false, auth.Fail("TEST", user, "wrong password for "+user, nil)
	}
	s.user = user
	return []byte("welcome"), true, nil
}

func (s *testSession) Principal() auth.Principal { return auth.User(s.user) }
func (s *testSession) Expiry() time.Time         { return s.expiry }

// authRecorder collects authentication and connection events.
type authRecorder struct {
	mu     sync.Mutex
	events []hook.Authentication
	conns  []hook.Connection
}

func (r *authRecorder) OnAuthentication(ev hook.Authentication) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *authRecorder) OnConnection(ev hook.Connection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns = append(r.conns, ev)
}

// registration registers the recorder for the events it collects, with back-pressure so that no
// event a test waits for can be dropped.
func (r *authRecorder) registration() hook.Registration {
	return hook.Registration{Name: "test-auth", Overflow: hook.OverflowBlock, Authentication: r, Connection: r}
}

// waitForConn returns the first connection event matching ok, waiting up to 10 s for it.
func (r *authRecorder) waitForConn(t *testing.T, ok func(hook.Connection) bool) hook.Connection {
	t.Helper()
	return waitEvent(t, &r.mu, &r.conns, ok)
}

// waitFor returns the first authentication event matching ok, waiting up to 10 s for it.
func (r *authRecorder) waitFor(t *testing.T, ok func(hook.Authentication) bool) hook.Authentication {
	t.Helper()
	return waitEvent(t, &r.mu, &r.events, ok)
}

// waitEvent polls *events (guarded by mu) for the first one matching ok, up to 10 s.
func waitEvent[E any](t *testing.T, mu *sync.Mutex, events *[]E, ok func(E) bool) E {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		for _, ev := range *events {
			if ok(ev) {
				mu.Unlock()
				return ev
			}
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Fatalf("no matching %T event among %+v", *new(E), *events)
	var zero E
	return zero
}

// saslBroker starts a broker with one SASL_PLAINTEXT listener offering TEST.
func saslBroker(t *testing.T, rec *authRecorder, mech auth.Mechanism, more ...func(*config.Config)) *testBroker {
	return newTestBroker(t, withOptions(WithMechanism(mech), WithHook(rec.registration())), withConfig(func(c *config.Config) {
		c.Listeners = []config.Listener{{Name: "SASL_PLAINTEXT", Host: "127.0.0.1"}}
		c.SASLEnabledMechanisms = []string{"TEST"}
		c.FailedAuthenticationDelay = 10 * time.Millisecond
		for _, f := range more {
			f(c)
		}
	}))
}

func handshake(t *testing.T, rc *rawConn, version int16, mech string) *kmsg.SASLHandshakeResponse {
	t.Helper()
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.SetVersion(version)
	req.Mechanism = mech
	return rc.roundTrip(req).(*kmsg.SASLHandshakeResponse)
}

func authenticate(t *testing.T, rc *rawConn, version int16, token string) *kmsg.SASLAuthenticateResponse {
	t.Helper()
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.SetVersion(version)
	req.SASLAuthBytes = []byte(token)
	return rc.roundTrip(req).(*kmsg.SASLAuthenticateResponse)
}

func metadataOK(t *testing.T, rc *rawConn) {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(9)
	rc.roundTrip(req)
}

func TestSASLAuthenticateV1(t *testing.T) {
	rec := &authRecorder{}
	b := saslBroker(t, rec, testMechanism{})
	rc := dialRaw(t, b.Addr)
	hs := handshake(t, rc, 1, "TEST")
	if hs.ErrorCode != 0 || len(hs.SupportedMechanisms) != 1 || hs.SupportedMechanisms[0] != "TEST" {
		t.Fatalf("handshake = %+v", hs)
	}
	resp := authenticate(t, rc, 2, "alice:pw")
	if resp.ErrorCode != 0 || string(resp.SASLAuthBytes) != "welcome" || resp.SessionLifetimeMillis != 0 {
		t.Fatalf("authenticate = %+v", resp)
	}
	metadataOK(t, rc)
	ev := rec.waitFor(t, func(ev hook.Authentication) bool { return ev.Outcome == hook.AuthSuccess })
	if ev.Principal.String() != "User:alice" || ev.Mechanism != "TEST" || ev.Listener != "SASL_PLAINTEXT" || ev.RequestID == "" {
		t.Fatalf("event = %+v", ev)
	}
}

func TestSASLFailureIsDelayedAndClosed(t *testing.T) {
	rec := &authRecorder{}
	b := saslBroker(t, rec, testMechanism{}, func(c *config.Config) { c.FailedAuthenticationDelay = 200 * time.Millisecond })
	rc := dialRaw(t, b.Addr)
	handshake(t, rc, 1, "TEST")
	start := time.Now()
	resp := authenticate(t, rc, 1, "mallory:guess")
	if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil {
		t.Fatalf("authenticate = %+v", resp)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("failure answered after %v, before connection.failed.authentication.delay.ms", waited)
	}
	ev := rec.waitFor(t, func(ev hook.Authentication) bool { return ev.Outcome == hook.AuthFailure })
	// The client sees the request id, never the reason.
	if !strings.Contains(*resp.ErrorMessage, ev.RequestID) || strings.Contains(*resp.ErrorMessage, "wrong password") {
		t.Fatalf("client message %q, event %+v", *resp.ErrorMessage, ev)
	}
	if ev.Reason != "wrong password for mallory" || ev.Claimed != "mallory" {
		t.Fatalf("event = %+v", ev)
	}
	rc.expectClosed()
}

func TestSASLHandshakeV0RawTokens(t *testing.T) {
	rec := &authRecorder{}
	b := saslBroker(t, rec, testMechanism{})
	rc := dialRaw(t, b.Addr)
	if hs := handshake(t, rc, 0, "TEST"); hs.ErrorCode != 0 {
		t.Fatalf("handshake v0 error %d", hs.ErrorCode)
	}
	// kafka-python 2.0: a bare size-prefixed token, answered the same way.
	tok := []byte("bob:pw")
	rc.writeBytes(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
	var size [4]byte
	if _, err := io.ReadFull(rc.nc, size[:]); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(rc.nc, got); err != nil || !bytes.Equal(got, []byte("welcome")) {
		t.Fatalf("raw reply %q, %v", got, err)
	}
	metadataOK(t, rc)

	// A failed raw exchange closes the connection without a reply.
	rc = dialRaw(t, b.Addr)
	handshake(t, rc, 0, "TEST")
	tok = []byte("bob:nope")
	rc.writeBytes(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
	rc.expectClosed()
}

func TestSASLRefusals(t *testing.T) {
	rec := &authRecorder{}
	b := saslBroker(t, rec, testMechanism{})

	// A Produce before authenticating closes the connection and is recorded.
	rc := dialRaw(t, b.Addr)
	produce := kmsg.NewPtrProduceRequest()
	produce.SetVersion(9)
	produce.Acks = -1
	rc.send(produce)
	rc.expectClosed()
	rec.waitFor(t, func(ev hook.Authentication) bool {
		return ev.Outcome == hook.AuthRefused && strings.Contains(ev.Reason, "API key 0 sent before authenticating")
	})

	// An unknown mechanism is refused with the list of enabled ones.
	rc = dialRaw(t, b.Addr)
	hs := handshake(t, rc, 1, "GSSAPI")
	if hs.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(hs.SupportedMechanisms) != 1 {
		t.Fatalf("handshake = %+v", hs)
	}
	rc.expectClosed()

	// SaslAuthenticate without a handshake.
	rc = dialRaw(t, b.Addr)
	if resp := authenticate(t, rc, 1, "alice:pw"); resp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("authenticate without handshake: %+v", resp)
	}
	rc.expectClosed()
}

func TestSASLReauthentication(t *testing.T) {
	rec := &authRecorder{}
	b := saslBroker(t, rec, testMechanism{}, func(c *config.Config) {
		c.ConnectionsMaxReauth = 300 * time.Millisecond
	})
	rc := dialRaw(t, b.Addr)
	handshake(t, rc, 1, "TEST")
	if resp := authenticate(t, rc, 1, "alice:pw"); resp.SessionLifetimeMillis != 300 {
		t.Fatalf("session lifetime %d, want 300", resp.SessionLifetimeMillis)
	}
	// Re-authenticating in time, as the same principal, renews the session.
	handshake(t, rc, 1, "TEST")
	if resp := authenticate(t, rc, 1, "alice:pw"); resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 300 {
		t.Fatalf("reauthenticate = %+v", resp)
	}
	rec.waitFor(t, func(ev hook.Authentication) bool { return ev.Reauthentication && ev.Outcome == hook.AuthSuccess })
	metadataOK(t, rc)
	// Letting it lapse closes the connection at the next request.
	time.Sleep(350 * time.Millisecond)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(9)
	rc.send(req)
	rc.expectClosed()
	rec.waitFor(t, func(ev hook.Authentication) bool {
		return ev.Outcome == hook.AuthRefused && strings.Contains(ev.Reason, "expired")
	})

	// Re-authenticating as someone else fails.
	rc = dialRaw(t, b.Addr)
	handshake(t, rc, 1, "TEST")
	authenticate(t, rc, 1, "alice:pw")
	handshake(t, rc, 1, "TEST")
	if resp := authenticate(t, rc, 1, "eve:pw"); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("reauth as another principal = %+v", resp)
	}
	rc.expectClosed()

	// Re-authenticating with another mechanism is refused, as Kafka does: authorization routes
	// principals by mechanism (IAM logins to IAM policies).
	rc = dialRaw(t, b.Addr)
	handshake(t, rc, 1, "TEST")
	authenticate(t, rc, 1, "alice:pw")
	if resp := handshake(t, rc, 1, "PLAIN"); resp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("re-handshake with another mechanism = %+v", resp)
	}
	rc.expectClosed()
	rec.waitFor(t, func(ev hook.Authentication) bool {
		return ev.Outcome == hook.AuthFailure && strings.Contains(ev.Reason, "different mechanism")
	})
}

func TestSASLSessionCappedByCredentialExpiry(t *testing.T) {
	rec := &authRecorder{}
	b := saslBroker(t, rec, testMechanism{expiry: time.Now().Add(2 * time.Second)}, func(c *config.Config) {
		c.ConnectionsMaxReauth = time.Hour
	})
	rc := dialRaw(t, b.Addr)
	handshake(t, rc, 1, "TEST")
	resp := authenticate(t, rc, 1, "alice:pw")
	if resp.SessionLifetimeMillis <= 0 || resp.SessionLifetimeMillis > 2000 {
		t.Fatalf("session lifetime %d ms, want at most the credential's 2 s", resp.SessionLifetimeMillis)
	}
	b2 := saslBroker(t, rec, testMechanism{expiry: time.Now().Add(-time.Second)})
	rc = dialRaw(t, b2.Addr)
	handshake(t, rc, 1, "TEST")
	if resp := authenticate(t, rc, 1, "alice:pw"); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("expired credential = %+v", resp)
	}
}

func TestConnectionLimitsPerIP(t *testing.T) {
	rec := &authRecorder{}
	b := newTestBroker(t, withOptions(WithHook(rec.registration())), withConfig(func(c *config.Config) { c.MaxConnectionsPerIP = 2 }))
	first, second := dialRaw(t, b.Addr), dialRaw(t, b.Addr)
	metadataOK(t, first)
	metadataOK(t, second)
	third := dialRaw(t, b.Addr)
	third.expectClosed()
	rec.waitForConn(t, func(ev hook.Connection) bool {
		return ev.Kind == hook.ConnectionRefused && ev.RequestID != "" && strings.Contains(ev.Reason, "too many connections from 127.0.0.1")
	})
	// A slot frees when a connection closes.
	first.nc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc := dialRaw(t, b.Addr)
		req := kmsg.NewPtrApiVersionsRequest()
		rc.send(req)
		_ = rc.nc.SetReadDeadline(time.Now().Add(time.Second))
		var size [4]byte
		if _, err := io.ReadFull(rc.nc, size[:]); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection slot freed after closing one")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAuthenticationTimeout(t *testing.T) {
	rec := &authRecorder{}
	b := saslBroker(t, rec, testMechanism{}, func(c *config.Config) { c.AuthenticationTimeout = 200 * time.Millisecond })
	rc := dialRaw(t, b.Addr)
	rc.expectClosed()
	rec.waitFor(t, func(ev hook.Authentication) bool { return strings.Contains(ev.Reason, "not completed within") })
}
