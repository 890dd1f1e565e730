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
		return scram.NewMechanismWithOptions(name, s.lookupSCRAM, scram.Options{
			Decoy: func() scram.Decoy { return s.scramDecoy(name) }})
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

// scramDecoy is the shape of the stand-in credential an unknown user gets: the iteration count
// and salt length most stored credentials of the mechanism have, so a probe's server-first
// message looks like a real user's. It is recomputed only when the metadata state changes.
func (s *Server) scramDecoy(mechanism string) scram.Decoy {
	st := s.cluster.store.State()
	s.decoyMu.Lock()
	defer s.decoyMu.Unlock()
	if s.decoyState == st {
		if d, ok := s.decoys[mechanism]; ok {
			return d
		}
	} else {
		s.decoyState, s.decoys = st, map[string]scram.Decoy{}
	}
	iters, salts := map[int]int{}, map[int]int{}
	for _, mechs := range st.ScramUsers {
		if c, ok := mechs[mechanism]; ok {
			iters[c.Iterations]++
			salts[len(c.Salt)]++
		}
	}
	d := scram.DefaultDecoy
	if len(iters) > 0 {
		d = scram.Decoy{Iterations: mostCommon(iters), SaltLen: mostCommon(salts)}
	}
	s.decoys[mechanism] = d
	return d
}

// mostCommon is the key with the highest count, the smallest on a tie (deterministic).
func mostCommon(counts map[int]int) int {
	best, bestN := 0, -1
	for k, n := range counts {
		if n > bestN || (n == bestN && k < best) {
			best, bestN = k, n
		}
	}
	return best
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
