package broker

import (
	"fmt"
	"strings"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// newMechanism builds the SASL mechanism called name.
func (s *Server) newMechanism(name string) (auth.Mechanism, error) {
	if m, ok := s.extraMechanisms[name]; ok {
		return m, nil
	}
	switch name {
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		return newScramMechanism(name, s.lookupSCRAM), nil
	case "PLAIN":
		return plainMechanism{lookup: s.lookupSCRAM}, nil
	case "AWS_MSK_IAM":
		return mskIAMMechanism{v: s.sigV4Verifier()}, nil
	case "OAUTHBEARER":
		return oauthBearerMechanism{v: s.sigV4Verifier()}, nil
	}
	return nil, fmt.Errorf("SASL mechanism %s is not available", name)
}

// sigV4Verifier checks IAM signatures against this broker's names and the access keys in the
// metadata log.
func (s *Server) sigV4Verifier() *sigV4Verifier {
	hosts := map[string]bool{}
	for _, l := range s.cfg.EffectiveAdvertisedListeners() {
		if l.Host != "" {
			hosts[strings.ToLower(l.Host)] = true
		}
	}
	for _, h := range s.cfg.IAMHosts {
		hosts[strings.ToLower(h)] = true
	}
	return &sigV4Verifier{region: s.cfg.IAMRegion, maxSkew: s.cfg.IAMMaxSkew, hosts: hosts,
		now: func() time.Time { return s.now() },
		lookup: func(id string) (meta.IAMKey, bool) {
			k, ok := s.cluster.store.State().IAMKeys[id]
			return k, ok
		}}
}
