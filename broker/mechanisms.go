package broker

import (
	"crypto/tls"
	"fmt"

	"github.com/bulwark-kafka/bulwark/auth"
)

// newMechanism builds the SASL mechanism called name.
func (s *Server) newMechanism(name string) (auth.Mechanism, error) {
	if m, ok := s.extraMechanisms[name]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("SASL mechanism %s is not available", name)
}

// setupTLS builds the listener's TLS configuration.
func (s *Server) setupTLS(la *listenerAuth) error {
	_ = tls.VersionTLS12
	return fmt.Errorf("TLS listeners are not available")
}
