package broker

// The broker's side of the authentication mechanisms in package auth: it builds each mechanism
// over the credentials in the metadata log. A lookup reads the current metadata state, so a
// credential committed a moment ago is already there.

import (
	"fmt"
	"strings"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/auth/iam"
	"github.com/bulwark-kafka/bulwark/auth/plain"
	"github.com/bulwark-kafka/bulwark/auth/scram"
)

// newMechanism builds the SASL mechanism called name.
func (s *Server) newMechanism(name string) (auth.Mechanism, error) {
	if m, ok := s.extraMechanisms[name]; ok {
		return m, nil
	}
	switch name {
	case scram.SHA256, scram.SHA512:
		return scram.NewMechanism(name, s.lookupSCRAM)
	case "PLAIN":
		return plain.NewMechanism(s.lookupSCRAM), nil
	case "AWS_MSK_IAM":
		return iam.NewMSKIAM(s.iamVerifier()), nil
	case "OAUTHBEARER":
		return iam.NewOAuthBearer(s.iamVerifier()), nil
	}
	return nil, fmt.Errorf("SASL mechanism %s is not available", name)
}

// lookupSCRAM finds a user's SCRAM credential for a mechanism.
func (s *Server) lookupSCRAM(mechanism, user string) (scram.Credential, bool) {
	c, ok := s.cluster.store.State().ScramUsers[user][mechanism]
	return scram.Credential{Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations}, ok
}

// iamVerifier checks IAM signatures against this broker's names and the access keys in the
// metadata log.
func (s *Server) iamVerifier() *iam.Verifier {
	hosts := map[string]bool{}
	for _, l := range s.cfg.EffectiveAdvertisedListeners() {
		if l.Host != "" {
			hosts[strings.ToLower(l.Host)] = true
		}
	}
	for _, h := range s.cfg.IAMHosts {
		hosts[strings.ToLower(h)] = true
	}
	return &iam.Verifier{Region: s.cfg.IAMRegion, MaxSkew: s.cfg.IAMMaxSkew, Hosts: hosts,
		Now: func() time.Time { return s.now() },
		Lookup: func(id string) (iam.Key, bool) {
			k, ok := s.cluster.store.State().IAMKeys[id]
			return iam.Key{AccessKeyID: k.AccessKeyID, Secret: k.Secret, PrincipalARN: k.PrincipalARN, Expiry: k.Expiry}, ok
		}}
}
