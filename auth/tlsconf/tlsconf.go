package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"
)

// Options describe a listener's TLS set-up in Kafka's terms, PEM only.
type Options struct {
	// KeystoreFile is one PEM file holding the certificate chain and the unencrypted private key
	// (ssl.keystore.location with ssl.keystore.type=PEM). Or give CertPEM and KeyPEM inline.
	KeystoreFile    string
	CertPEM, KeyPEM string
	// TrustFile or TrustPEM are the CA certificates client certificates must chain to.
	TrustFile string
	TrustPEM  string
	// ClientAuth is "required", "requested" or "none".
	ClientAuth string
	// Protocols are Kafka's names, TLSv1.2 and TLSv1.3; older versions are refused.
	Protocols []string
	// CipherSuites are IANA names of TLS 1.2 suites; empty means Go's secure defaults.
	CipherSuites []string
	// ReloadEvery is how often the files are checked for changes (default 5 s).
	ReloadEvery time.Duration
	Logger      *slog.Logger
}

// Reloader serves a TLS configuration whose certificate and trust store are re-read from disk
// when the files change, so rotating a certificate needs no restart. A changed file that does not
// load keeps the previous material in use and is logged once. Safe for concurrent use.
type Reloader struct {
	o    Options
	base *tls.Config

	mu      sync.Mutex
	cur     material
	checked time.Time
}

// material is a loaded certificate and client CA pool, with the file versions they came from.
type material struct {
	cert     tls.Certificate
	clientCA *x509.CertPool
	stamp    string
}

// New loads the material and checks the options.
func New(o Options) (*Reloader, error) {
	if o.ReloadEvery <= 0 {
		o.ReloadEvery = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	base, err := baseConfig(o)
	if err != nil {
		return nil, err
	}
	r := &Reloader{o: o, base: base, checked: time.Now()}
	if r.cur, err = load(o); err != nil {
		return nil, err
	}
	return r, nil
}

// Config is the *tls.Config for the listener: each handshake gets the current material.
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{MinVersion: r.base.MinVersion, GetConfigForClient: r.configForClient}
}

// baseConfig is the part that never reloads: versions, suites, client auth.
func baseConfig(o Options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13}
	switch {
	case slices.Contains(o.Protocols, "TLSv1.2"):
		cfg.MinVersion = tls.VersionTLS12
		if !slices.Contains(o.Protocols, "TLSv1.3") {
			cfg.MaxVersion = tls.VersionTLS12
		}
	case !slices.Contains(o.Protocols, "TLSv1.3"):
		return nil, errors.New("ssl.enabled.protocols: only TLSv1.2 and TLSv1.3 are supported")
	}
	for _, name := range o.CipherSuites {
		id, ok := cipherSuiteID(name)
		if !ok {
			return nil, fmt.Errorf("ssl.cipher.suites: %s is not a secure TLS 1.2 suite Go implements", name)
		}
		cfg.CipherSuites = append(cfg.CipherSuites, id)
	}
	switch o.ClientAuth {
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "requested":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "none", "":
	default:
		return nil, fmt.Errorf("ssl.client.auth: %q is not required, requested or none", o.ClientAuth)
	}
	return cfg, nil
}

func cipherSuiteID(name string) (uint16, bool) {
	for _, cs := range tls.CipherSuites() {
		if cs.Name == name {
			return cs.ID, true
		}
	}
	return 0, false
}

func (r *Reloader) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	r.mu.Lock()
	if time.Since(r.checked) >= r.o.ReloadEvery {
		r.checked = time.Now()
		if stamp := fileStamp(r.o); stamp != r.cur.stamp {
			if m, err := load(r.o); err != nil {
				r.o.Logger.Error("TLS material changed on disk but does not load; keeping the previous certificate", "err", err)
				r.cur.stamp = stamp // log once per change
			} else {
				r.cur = m
				r.o.Logger.Info("TLS certificate reloaded", "subject", m.cert.Leaf.Subject.String(), "not_after", m.cert.Leaf.NotAfter)
			}
		}
	}
	m := r.cur
	r.mu.Unlock()
	cfg := r.base.Clone()
	cfg.Certificates = []tls.Certificate{m.cert}
	cfg.ClientCAs = m.clientCA
	return cfg, nil
}

// fileStamp identifies the versions of the files the material comes from.
func fileStamp(o Options) string {
	var b bytes.Buffer
	for _, p := range []string{o.KeystoreFile, o.TrustFile} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
		} else {
			fmt.Fprintf(&b, "%s:missing;", p)
		}
	}
	return b.String()
}

// load reads the key store and the trust store.
func load(o Options) (material, error) {
	m := material{stamp: fileStamp(o)}
	certPEM, keyPEM := []byte(o.CertPEM), []byte(o.KeyPEM)
	if o.KeystoreFile != "" {
		data, err := os.ReadFile(o.KeystoreFile)
		if err != nil {
			return material{}, fmt.Errorf("ssl.keystore.location: %w", err)
		}
		certPEM, keyPEM = data, data
	}
	if bytes.Contains(keyPEM, []byte("ENCRYPTED")) {
		return material{}, errors.New("ssl.keystore: the private key is encrypted; an unencrypted PEM key is needed (protect the file with permissions instead)")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return material{}, fmt.Errorf("ssl.keystore: %w", err)
	}
	m.cert = cert
	trust := []byte(o.TrustPEM)
	if o.TrustFile != "" {
		if trust, err = os.ReadFile(o.TrustFile); err != nil {
			return material{}, fmt.Errorf("ssl.truststore.location: %w", err)
		}
	}
	if len(trust) > 0 {
		m.clientCA = x509.NewCertPool()
		if !m.clientCA.AppendCertsFromPEM(trust) {
			return material{}, errors.New("ssl.truststore: no PEM certificates found")
		}
	} else if o.ClientAuth == "required" || o.ClientAuth == "requested" {
		return material{}, fmt.Errorf("ssl.client.auth=%s needs a trust store", o.ClientAuth)
	}
	return m, nil
}
