package broker

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/internal/testpki"
)

// tlsBroker starts a broker whose only listener is SSL with the given client-auth mode.
func tlsBroker(t *testing.T, rec *authRecorder, clientAuth string, more ...func(*config.Config)) (*testBroker, *testpki.PKI, testpki.Pair) {
	t.Helper()
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.Server("server")
	if err != nil {
		t.Fatal(err)
	}
	b := newTestBroker(t, withOptions(WithHook(rec.registration())), withConfig(func(c *config.Config) {
		c.Listeners = []config.Listener{{Name: "SSL", Host: "127.0.0.1"}}
		c.SSLKeystoreType, c.SSLKeystoreLocation = "PEM", server.BundleFile
		c.SSLTruststoreType, c.SSLTruststoreLocation = "PEM", pki.CAFile
		c.SSLClientAuth = clientAuth
		c.SSLReloadCheck = 100 * time.Millisecond
		for _, f := range more {
			f(c)
		}
	}))
	return b, pki, server
}

func clientTLS(t *testing.T, pki *testpki.PKI, pair *testpki.Pair) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"}
	cfg.RootCAs.AppendCertsFromPEM(ca)
	if pair != nil {
		cert, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

func TestMutualTLSPrincipal(t *testing.T) {
	rec := &authRecorder{}
	b, pki, _ := tlsBroker(t, rec, "required", func(c *config.Config) {
		c.Values["ssl.principal.mapping.rules"] = `RULE:^CN=([^,]+),OU=eng,.*$/$1/L,DEFAULT`
	})
	client, err := pki.Client("alice", pkix.Name{CommonName: "Alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Acme"}})
	if err != nil {
		t.Fatal(err)
	}
	cl := b.Client(t, kgo.DialTLSConfig(clientTLS(t, pki, &client)))
	if err := cl.Ping(testContext(t)); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, func(ev hook.Authentication) bool {
		return ev.Outcome == hook.AuthSuccess && ev.Principal.String() == "User:alice"
	})

	// Without a certificate the handshake fails and is recorded.
	cfg := clientTLS(t, pki, nil)
	nc, err := tls.Dial("tcp", b.Addr, cfg)
	if err == nil {
		// TLS 1.3 reports a missing client certificate on the first read.
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(make([]byte, 1))
		nc.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate got through")
	}
	rec.waitFor(t, func(ev hook.Authentication) bool {
		return ev.Outcome == hook.AuthFailure && strings.Contains(ev.Reason, "certificate")
	})

	// A plaintext client never gets past the handshake either.
	rc := dialRaw(t, b.Addr)
	metaReq := encodeRequest(kmsgMetadata(), 1, "plain")
	rc.writeBytes(metaReq)
	rc.expectClosed()
}

func TestTLSRefusesOldProtocolsAndReloadsCertificates(t *testing.T) {
	rec := &authRecorder{}
	b, pki, server := tlsBroker(t, rec, "none")
	old := clientTLS(t, pki, nil)
	old.MaxVersion = tls.VersionTLS11
	if nc, err := tls.Dial("tcp", b.Addr, old); err == nil {
		nc.Close()
		t.Fatal("a TLS 1.1 client connected")
	}

	first := peerSerial(t, b.Addr, clientTLS(t, pki, nil))
	// Rotate the certificate on disk; the next handshake after the check interval serves it.
	if _, err := pki.Server("server"); err != nil {
		t.Fatal(err)
	}
	_ = server
	deadline := time.Now().Add(10 * time.Second)
	for peerSerial(t, b.Addr, clientTLS(t, pki, nil)) == first {
		if time.Now().After(deadline) {
			t.Fatal("the rotated certificate was never served")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A broken file keeps the current certificate in use.
	if err := os.WriteFile(server.BundleFile, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if s := peerSerial(t, b.Addr, clientTLS(t, pki, nil)); s == "" {
		t.Fatal("no certificate after a broken reload")
	}
}

func peerSerial(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	nc, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer nc.Close()
	return nc.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func kmsgMetadata() *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(9)
	return req
}
