package broker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/bulwark-kafka/bulwark/auth"
)

// newMechanism builds the SASL mechanism called name.
func (s *Server) newMechanism(name string) (auth.Mechanism, error) {
	if m, ok := s.extraMechanisms[name]; ok {
		return m, nil
	}
	switch name {
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		return newScramMechanism(name, s.lookupSCRAM), nil
	}
	return nil, fmt.Errorf("SASL mechanism %s is not available", name)
}

// setupTLS builds the listener's TLS configuration.
func (s *Server) setupTLS(la *listenerAuth) error {
	sec := la.sec
	if sec.KeystoreType != "PEM" {
		return fmt.Errorf("ssl.keystore.type %s: Bulwark reads PEM key stores only", sec.KeystoreType)
	}
	pemData, err := os.ReadFile(sec.KeystoreLocation)
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(pemData, pemData)
	if err != nil {
		return fmt.Errorf("ssl.keystore.location: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if sec.TruststoreFile != "" {
		ca, err := os.ReadFile(sec.TruststoreFile)
		if err != nil {
			return err
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(ca) {
			return fmt.Errorf("ssl.truststore.location: no certificates")
		}
	}
	switch sec.ClientAuth {
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "requested":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	la.tls = cfg
	la.certPrincipal = func(st *tls.ConnectionState) (auth.Principal, error) {
		return auth.User(st.PeerCertificates[0].Subject.String()), nil
	}
	return nil
}
