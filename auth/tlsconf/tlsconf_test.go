package tlsconf

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/bulwark-kafka/bulwark/internal/testpki"
)

func TestOptionsChecked(t *testing.T) {
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.Server("server")
	if err != nil {
		t.Fatal(err)
	}
	ok := Options{KeystoreFile: server.BundleFile, Protocols: []string{"TLSv1.2", "TLSv1.3"}}
	r, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := r.Config().GetConfigForClient(nil); cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 1 {
		t.Fatalf("config = %+v", cfg)
	}
	cases := map[string]func(o *Options){
		"only TLSv1.2 and TLSv1.3":   func(o *Options) { o.Protocols = []string{"TLSv1.1"} },
		"not a secure TLS 1.2 suite": func(o *Options) { o.CipherSuites = []string{"TLS_RSA_WITH_RC4_128_SHA"} },
		"needs a trust store":        func(o *Options) { o.ClientAuth = "required" },
		"no PEM certificates":        func(o *Options) { o.TrustPEM = "junk" },
		"not required, requested":    func(o *Options) { o.ClientAuth = "maybe" },
		"ssl.keystore.location":      func(o *Options) { o.KeystoreFile = server.BundleFile + ".missing" },
		"the private key is encrypted": func(o *Options) {
			o.KeystoreFile, o.CertPEM, o.KeyPEM = "", "x", "-----BEGIN ENCRYPTED PRIVATE KEY-----"
		},
	}
	for want, mutate := range cases {
		o := ok
		mutate(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}
