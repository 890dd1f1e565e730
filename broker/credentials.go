package broker

// SCRAM credentials and IAM access keys live in the metadata log; this file is the broker's side
// of them: deriving stored keys, committing changes (usable by the very next login, unlike
// Kafka, where brokers learn of new credentials asynchronously: KAFKA-15513) and bootstrapping
// users from configuration at first start.

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"sort"

	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// scramMechanisms maps KIP-554's mechanism numbers to names.
var scramMechanisms = map[int8]string{1: "SCRAM-SHA-256", 2: "SCRAM-SHA-512"}

func scramHash(mechanism string) func() hash.Hash {
	if mechanism == "SCRAM-SHA-512" {
		return sha512.New
	}
	return sha256.New
}

// scramCredentialFromSalted derives what the broker stores from a salted password (RFC 5802):
// StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key").
func scramCredentialFromSalted(mechanism string, salt, salted []byte, iterations int) meta.ScramCredential {
	h := scramHash(mechanism)
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(h, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	d := h()
	d.Write(mac(salted, "Client Key"))
	return meta.ScramCredential{Salt: append([]byte(nil), salt...), StoredKey: d.Sum(nil),
		ServerKey: mac(salted, "Server Key"), Iterations: iterations}
}

// scramCredentialFromPassword salts and hashes a password with a fresh random salt.
func scramCredentialFromPassword(mechanism, password string, iterations int) meta.ScramCredential {
	salt := make([]byte, 24)
	_, _ = rand.Read(salt)
	return scramCredentialFromPasswordWithSalt(mechanism, password, salt, iterations)
}

// scramCredentialFromPasswordWithSalt salts and hashes a password: SaltedPassword =
// Hi(password, salt, iterations), PBKDF2 with HMAC of the mechanism's hash.
func scramCredentialFromPasswordWithSalt(mechanism, password string, salt []byte, iterations int) meta.ScramCredential {
	h := scramHash(mechanism)
	// pbkdf2.Key fails only for FIPS-mode parameter checks, which these values pass.
	salted, _ := pbkdf2.Key(h, password, salt, iterations, h().Size())
	return scramCredentialFromSalted(mechanism, salt, salted, iterations)
}

// bootstrapUsers creates bulwark.sasl.bootstrap.users at first start: only when the metadata
// holds no SCRAM credential at all, so a later edit of the file never resets a changed password.
func (s *Server) bootstrapUsers() error {
	if len(s.cfg.BootstrapUsers) == 0 || len(s.cluster.store.State().ScramUsers) > 0 {
		return nil
	}
	users := make([]string, 0, len(s.cfg.BootstrapUsers))
	for u := range s.cfg.BootstrapUsers {
		users = append(users, u)
	}
	sort.Strings(users)
	var recs []meta.Record
	for _, u := range users {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			recs = append(recs, meta.SetScramCredential{User: u, Mechanism: mech,
				Credential: scramCredentialFromPassword(mech, s.cfg.BootstrapUsers[u], meta.MinScramIterations)})
		}
	}
	if _, err := s.cluster.store.Commit(recs...); err != nil {
		return fmt.Errorf("broker: bootstrap SCRAM users: %w", err)
	}
	s.logger.Info("created bootstrap SCRAM users", "users", users)
	return nil
}

// lookupSCRAM returns a user's stored SCRAM credential for a mechanism, from the current
// metadata state: a credential committed a moment ago is already there.
func (s *Server) lookupSCRAM(mechanism, user string) (meta.ScramCredential, bool) {
	c, ok := s.cluster.store.State().ScramUsers[user][mechanism]
	return c, ok
}
