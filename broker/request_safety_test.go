package broker

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/internal/testpki"
)

// dialRawFrom is dialRaw from a chosen loopback source address (127.0.0.0/8 is all loopback).
func dialRawFrom(t testing.TB, addr, source string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", source, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

// TestListenerAllowlistAndReload: a listener allowing only 127.0.0.2/32 refuses 127.0.0.1 before
// reading a byte and accepts 127.0.0.2; a reloaded file and then the dynamic config API change the
// list for the next connection; a file that does not parse changes nothing.
func TestListenerAllowlistAndReload(t *testing.T) {
	events := &eventLog{}
	b := newTestBroker(t, withOptions(WithHook(events.registration())), withConfig(func(c *config.Config) {
		if err := c.Set("bulwark.allowed.cidrs", "127.0.0.2/32"); err != nil {
			t.Fatal(err)
		}
	}))
	refusedFrom := func(ip string) {
		t.Helper()
		dialRawFrom(t, b.Addr, ip).expectClosed()
		events.waitFor(t, "refusal of "+ip, func(l *eventLog) bool {
			return slices.ContainsFunc(l.conns, func(c hook.Connection) bool {
				return c.Kind == hook.ConnectionRefused && c.RequestID != "" &&
					strings.HasPrefix(c.ClientAddr, ip+":") && strings.Contains(c.Reason, "allowlist")
			})
		})
	}
	refusedFrom("127.0.0.1")
	kept := dialRawFrom(t, b.Addr, "127.0.0.2")
	metadataOK(t, kept)

	// SIGHUP with a changed list: applies to the next connection; open ones stay.
	path := filepath.Join(t.TempDir(), "server.properties")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("bulwark.allowed.cidrs=127.0.0.1/32, ::1\nsocket.request.max.bytes=1000000\n")
	if err := b.ReloadFile(path); err != nil {
		t.Fatal(err)
	}
	metadataOK(t, dialRawFrom(t, b.Addr, "127.0.0.1"))
	events.resetConns()
	refusedFrom("127.0.0.2")
	metadataOK(t, kept)
	events.waitFor(t, "reload event", func(l *eventLog) bool {
		return slices.ContainsFunc(l.configs, func(c hook.ConfigChange) bool {
			return c.Source == "SIGHUP" && slices.Equal(c.Changed, []string{"bulwark.allowed.cidrs"}) &&
				slices.Equal(c.NeedRestart, []string{"socket.request.max.bytes"})
		})
	})
	if b.cfg.SocketRequestMaxBytes == 1000000 || b.effectiveConfig().SocketRequestMaxBytes == 1000000 {
		t.Fatal("a static key changed on reload")
	}

	// A file that no longer parses: refused, recorded, nothing changes.
	write("bulwark.allowed.cidrs=not-a-network\n")
	if err := b.ReloadFile(path); err == nil {
		t.Fatal("a bad file was reloaded")
	}
	events.waitFor(t, "refused reload event", func(l *eventLog) bool {
		return slices.ContainsFunc(l.configs, func(c hook.ConfigChange) bool { return c.Err != "" && c.RequestID != "" })
	})
	metadataOK(t, dialRawFrom(t, b.Addr, "127.0.0.1"))

	// The dynamic broker config API: a per-listener list replaces the broker-wide one.
	adm := b.Admin(t)
	ctx := testContext(t)
	resp, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "listener.name.plaintext.bulwark.allowed.cidrs",
		Value: kmsg.StringPtr("127.0.0.3/32")}}, 1)
	if err != nil || resp[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, resp)
	}
	events.resetConns()
	refusedFrom("127.0.0.1")
	metadataOK(t, dialRawFrom(t, b.Addr, "127.0.0.3"))
}

// blockingMechanism is a SASL mechanism whose first step never returns until released: a stand-in
// for anything that could hold a connection goroutine past the shutdown deadline.
type blockingMechanism struct{ release chan struct{} }

func (blockingMechanism) Name() string                       { return "BLOCK" }
func (m blockingMechanism) Start(auth.ConnInfo) auth.Session { return blockingSession(m) }
func (blockingMechanism) check()                             {}
func (s blockingSession) Step([]byte) ([]byte, bool, error)  { <-s.release; return nil, false, nil }
func (blockingSession) Principal() auth.Principal            { return auth.Anonymous }
func (blockingSession) Expiry() time.Time                    { return time.Time{} }

type blockingSession blockingMechanism

// TestShutdownHonoursItsDeadline: with a connection goroutine that never returns, Shutdown still
// returns shortly after its context's deadline instead of waiting for it.
func TestShutdownHonoursItsDeadline(t *testing.T) {
	m := blockingMechanism{release: make(chan struct{})}
	defer close(m.release)
	b := newTestBroker(t, withOptions(WithMechanism(m)), withConfig(func(c *config.Config) {
		c.Listeners = []config.Listener{{Name: "SASL_PLAINTEXT", Host: "127.0.0.1"}}
		c.SASLEnabledMechanisms = []string{"BLOCK"}
	}))
	rc := dialRaw(t, b.Addr)
	handshake(t, rc, 1, "BLOCK")
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.SetVersion(2)
	rc.send(req) // the reader goroutine is now stuck in Step
	time.Sleep(50 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	b.shutdownMayFail = true
	done := make(chan error, 1)
	go func() { done <- b.Shutdown(ctx) }()
	select {
	case err := <-done:
		// Storage is left to the process exit rather than closed under the stuck goroutine.
		if err == nil || !strings.Contains(err.Error(), "storage open") {
			t.Fatalf("Shutdown with a stuck connection = %v, want it to say storage was left open", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Shutdown waited on a stuck connection far past its deadline")
	}
}

// TestOneAuthenticationDeadlineCoversTLSAndSASL: a client that spends most of
// bulwark.authentication.timeout.ms before its TLS handshake does not get the whole timeout again
// for SASL; the connection closes at the one deadline counted from accept.
func TestOneAuthenticationDeadlineCoversTLSAndSASL(t *testing.T) {
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.Server("server")
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 3 * time.Second
	b := newTestBroker(t, withOptions(WithMechanism(testMechanism{})), withConfig(func(c *config.Config) {
		c.Listeners = []config.Listener{{Name: "SASL_SSL", Host: "127.0.0.1"}}
		c.SASLEnabledMechanisms = []string{"TEST"}
		c.SSLKeystoreType, c.SSLKeystoreLocation = "PEM", server.BundleFile
		c.SSLTruststoreType, c.SSLTruststoreLocation = "PEM", pki.CAFile
		c.AuthenticationTimeout = timeout
	}))
	start := time.Now()
	nc, err := net.Dial("tcp", b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	time.Sleep(timeout * 5 / 6) // most of the budget goes before the handshake
	tc := tls.Client(nc, clientTLS(t, pki, nil))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake within the deadline failed: %v", err)
	}
	_ = tc.SetReadDeadline(time.Now().Add(2 * timeout))
	var one [1]byte
	if _, err := tc.Read(one[:]); err == nil {
		t.Fatal("got bytes, want the connection closed")
	}
	// Two separate timeouts would close it at about 5.5 s; one deadline closes it at 3 s.
	if elapsed := time.Since(start); elapsed > timeout+timeout/2 {
		t.Fatalf("closed %v after accept; the TLS handshake and SASL share one %v deadline", elapsed, timeout)
	}
}

// TestScramUnknownUserLooksLikeRealOnes: the server-first message for a user who does not exist
// carries the iteration count and salt length the real users have, and follows them when they
// change.
func TestScramUnknownUserLooksLikeRealOnes(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) {
		c.Listeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1"}, {Name: "SASL_PLAINTEXT", Host: "127.0.0.1"}}
		c.SASLEnabledMechanisms = []string{"SCRAM-SHA-256"}
	}))
	var saslAddr string
	for _, l := range b.listeners {
		if l.cfg.Name == "SASL_PLAINTEXT" {
			saslAddr = l.ln.Addr().String()
		}
	}
	ctx := testContext(t)
	setUsers := func(iterations int32, users ...string) {
		var ups []kadm.UpsertSCRAM
		for _, u := range users {
			ups = append(ups, kadm.UpsertSCRAM{User: u, Mechanism: kadm.ScramSha256, Iterations: iterations, Password: "pw-" + u})
		}
		if res, err := b.Admin(t).AlterUserSCRAMs(ctx, nil, ups); err != nil || res.Error() != nil {
			t.Fatalf("alter: %v %v", err, res.Error())
		}
	}
	serverFirst := func(user string) (iterations string, saltLen int) {
		rc := dialRaw(t, saslAddr)
		handshake(t, rc, 1, "SCRAM-SHA-256")
		resp := authenticate(t, rc, 2, "n,,n="+user+",r=clientnonce")
		if resp.ErrorCode != 0 {
			t.Fatalf("client-first for %s: %+v", user, resp)
		}
		var salt string
		for _, attr := range strings.Split(string(resp.SASLAuthBytes), ",") {
			switch {
			case strings.HasPrefix(attr, "i="):
				iterations = attr[2:]
			case strings.HasPrefix(attr, "s="):
				salt = attr[2:]
			}
		}
		raw, err := base64.StdEncoding.DecodeString(salt)
		if err != nil {
			t.Fatalf("salt %q: %v", salt, err)
		}
		return iterations, len(raw)
	}
	setUsers(4096, "alice", "bob", "carol")
	realIt, realSalt := serverFirst("alice")
	fakeIt, fakeSalt := serverFirst("mallory")
	if realIt != "4096" || fakeIt != realIt || fakeSalt != realSalt {
		t.Fatalf("real user i=%s salt %d bytes; unknown user i=%s salt %d bytes", realIt, realSalt, fakeIt, fakeSalt)
	}
	setUsers(16384, "alice", "bob")
	if it, _ := serverFirst("mallory"); it != "16384" {
		t.Fatalf("after most users moved to 16384 iterations, an unknown user shows i=%s", it)
	}
}
