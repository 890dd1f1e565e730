package broker

// SCRAM credentials and IAM access keys live in the metadata log; this file is the broker's side
// of them: deriving stored keys, committing changes (usable by the very next login, unlike
// Kafka, where brokers learn of new credentials asynchronously: KAFKA-15513) and bootstrapping
// users from configuration at first start.

import (
	"fmt"
	"sort"

	"github.com/bulwark-kafka/bulwark/auth/scram"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// scramMechanisms maps KIP-554's mechanism numbers to names.
var scramMechanisms = map[int8]string{1: scram.SHA256, 2: scram.SHA512}

// storedCredential converts a derived credential to its metadata form.
func storedCredential(c scram.Credential) meta.ScramCredential {
	return meta.ScramCredential{Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations}
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
		for _, mech := range []string{scram.SHA256, scram.SHA512} {
			c, err := scram.FromPassword(mech, s.cfg.BootstrapUsers[u], nil, 8192)
			if err != nil {
				return fmt.Errorf("broker: bootstrap SCRAM users: %w", err)
			}
			recs = append(recs, meta.SetScramCredential{User: u, Mechanism: mech, Credential: storedCredential(c)})
		}
	}
	if _, err := s.cluster.store.Commit(recs...); err != nil {
		return fmt.Errorf("broker: bootstrap SCRAM users: %w", err)
	}
	s.logger.Info("created bootstrap SCRAM users", "users", users)
	return nil
}
