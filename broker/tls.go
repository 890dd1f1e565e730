package broker

import (
	"crypto/tls"
	"fmt"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/auth/mtls"
	"github.com/bulwark-kafka/bulwark/auth/tlsconf"
)

// setupTLS builds the listener's TLS configuration (reloading its certificate files when they
// change) and its client-certificate principal mapping.
func (s *Server) setupTLS(la *listenerAuth) error {
	sec := la.sec
	if sec.KeystoreType != "PEM" {
		return fmt.Errorf("ssl.keystore.type %s: Bulwark reads PEM key stores only", sec.KeystoreType)
	}
	if sec.TruststoreFile != "" && sec.TruststoreType != "PEM" {
		return fmt.Errorf("ssl.truststore.type %s: Bulwark reads PEM trust stores only", sec.TruststoreType)
	}
	r, err := tlsconf.New(tlsconf.Options{
		KeystoreFile: sec.KeystoreLocation, CertPEM: sec.KeystoreCertPEM, KeyPEM: sec.KeystoreKeyPEM,
		TrustFile: sec.TruststoreFile, TrustPEM: sec.TruststorePEM, ClientAuth: sec.ClientAuth,
		Protocols: sec.Protocols, CipherSuites: sec.CipherSuites, ReloadEvery: s.cfg.SSLReloadCheck,
		Logger: s.logger.With("listener", sec.Name),
	})
	if err != nil {
		return err
	}
	la.tls = r.Config()
	rules, err := mtls.ParseRules(sec.PrincipalRules)
	if err != nil {
		return err
	}
	la.certPrincipal = func(st *tls.ConnectionState) (auth.Principal, error) {
		return rules.Principal(st.PeerCertificates[0])
	}
	return nil
}
