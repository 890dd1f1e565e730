package broker

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/config"
)

// tlsMaterial is a listener's certificate and trusted client CAs as loaded from disk (or from
// inline PEM settings), with what is needed to notice that the files changed.
type tlsMaterial struct {
	cert     tls.Certificate
	clientCA *x509.CertPool
	stamp    string // sizes and modification times of the files read
}

// tlsReloader serves a listener's TLS configuration, re-reading the key store and trust store
// files when they change (checked at most every bulwark.ssl.reload.check.ms), so rotating a
// certificate needs no restart. A file that no longer loads keeps the previous material in use
// and is logged.
type tlsReloader struct {
	sec    config.ListenerSecurity
	base   *tls.Config
	every  time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	cur     tlsMaterial
	checked time.Time
}

// setupTLS builds the listener's TLS configuration and client-certificate principal mapping.
func (s *Server) setupTLS(la *listenerAuth) error {
	sec := la.sec
	base, err := tlsBase(sec)
	if err != nil {
		return err
	}
	r := &tlsReloader{sec: sec, base: base, every: s.cfg.SSLReloadCheck, logger: s.logger.With("listener", sec.Name)}
	if r.cur, err = loadTLSMaterial(sec); err != nil {
		return err
	}
	r.checked = time.Now()
	la.tls = &tls.Config{MinVersion: base.MinVersion, GetConfigForClient: r.configForClient}
	rules, err := parsePrincipalRules(sec.PrincipalRules)
	if err != nil {
		return err
	}
	la.certPrincipal = func(st *tls.ConnectionState) (auth.Principal, error) {
		return rules.certPrincipal(st.PeerCertificates[0])
	}
	return nil
}

// tlsBase is the part of the configuration that never reloads: versions, suites, client auth.
func tlsBase(sec config.ListenerSecurity) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13}
	switch {
	case slices.Contains(sec.Protocols, "TLSv1.2"):
		cfg.MinVersion = tls.VersionTLS12
		if !slices.Contains(sec.Protocols, "TLSv1.3") {
			cfg.MaxVersion = tls.VersionTLS12
		}
	case !slices.Contains(sec.Protocols, "TLSv1.3"):
		return nil, errors.New("ssl.enabled.protocols: Bulwark speaks TLSv1.2 and TLSv1.3 only")
	}
	for _, name := range sec.CipherSuites {
		id, ok := cipherSuiteID(name)
		if !ok {
			return nil, fmt.Errorf("ssl.cipher.suites: %s is not a secure TLS 1.2 suite Go implements", name)
		}
		cfg.CipherSuites = append(cfg.CipherSuites, id)
	}
	switch sec.ClientAuth {
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "requested":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
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

// configForClient hands each handshake the current material, reloading it first when due.
func (r *tlsReloader) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	r.mu.Lock()
	if time.Since(r.checked) >= r.every {
		r.checked = time.Now()
		if stamp := fileStamp(r.sec); stamp != r.cur.stamp {
			if m, err := loadTLSMaterial(r.sec); err != nil {
				r.logger.Error("TLS material changed on disk but does not load; keeping the previous certificate", "err", err)
				r.cur.stamp = stamp // log once per change
			} else {
				r.cur = m
				r.logger.Info("TLS certificate reloaded", "subject", m.cert.Leaf.Subject.String(), "not_after", m.cert.Leaf.NotAfter)
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

// fileStamp identifies the versions of the files a listener's TLS material comes from.
func fileStamp(sec config.ListenerSecurity) string {
	var b bytes.Buffer
	for _, p := range []string{sec.KeystoreLocation, sec.TruststoreFile} {
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

// loadTLSMaterial reads the PEM key store (one file with the chain and the key, or the inline
// settings) and the PEM trust store.
func loadTLSMaterial(sec config.ListenerSecurity) (tlsMaterial, error) {
	if sec.KeystoreType != "PEM" {
		return tlsMaterial{}, fmt.Errorf("ssl.keystore.type %s: Bulwark reads PEM key stores only", sec.KeystoreType)
	}
	m := tlsMaterial{stamp: fileStamp(sec)}
	certPEM, keyPEM := []byte(sec.KeystoreCertPEM), []byte(sec.KeystoreKeyPEM)
	if sec.KeystoreLocation != "" {
		data, err := os.ReadFile(sec.KeystoreLocation)
		if err != nil {
			return tlsMaterial{}, fmt.Errorf("ssl.keystore.location: %w", err)
		}
		certPEM, keyPEM = data, data
	}
	if bytes.Contains(keyPEM, []byte("ENCRYPTED")) {
		return tlsMaterial{}, errors.New("ssl.keystore: the private key is encrypted; Bulwark needs an unencrypted PEM key (protect the file with permissions instead)")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tlsMaterial{}, fmt.Errorf("ssl.keystore: %w", err)
	}
	m.cert = cert
	trust := []byte(sec.TruststorePEM)
	if sec.TruststoreFile != "" {
		if sec.TruststoreType != "PEM" {
			return tlsMaterial{}, fmt.Errorf("ssl.truststore.type %s: Bulwark reads PEM trust stores only", sec.TruststoreType)
		}
		if trust, err = os.ReadFile(sec.TruststoreFile); err != nil {
			return tlsMaterial{}, fmt.Errorf("ssl.truststore.location: %w", err)
		}
	}
	if len(trust) > 0 {
		m.clientCA = x509.NewCertPool()
		if !m.clientCA.AppendCertsFromPEM(trust) {
			return tlsMaterial{}, errors.New("ssl.truststore: no PEM certificates found")
		}
	} else if sec.ClientAuth == "required" || sec.ClientAuth == "requested" {
		return tlsMaterial{}, fmt.Errorf("ssl.client.auth=%s needs ssl.truststore.location or ssl.truststore.certificates", sec.ClientAuth)
	}
	return m, nil
}
