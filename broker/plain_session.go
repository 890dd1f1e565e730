package broker

import (
	"bytes"
	"crypto/subtle"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// plainMechanism is SASL PLAIN (RFC 4616) checked against the SCRAM credentials: the password
// is salted and hashed with a stored credential's salt and iterations and compared with its
// StoredKey, so there is one credential store and no password is ever kept.
type plainMechanism struct {
	lookup func(mech, user string) (meta.ScramCredential, bool)
}

func (plainMechanism) Name() string { return "PLAIN" }

func (m plainMechanism) Start(auth.ConnInfo) auth.Session { return &plainSession{m: m} }

type plainSession struct {
	m    plainMechanism
	user string
	done bool
}

// maxPlainMessage bounds a PLAIN message: three fields of at most 255 UTF-8 characters each.
const maxPlainMessage = 3*255*4 + 2

func (s *plainSession) Step(msg []byte) ([]byte, bool, error) {
	if s.done {
		return nil, false, auth.ErrUnexpectedMessage
	}
	s.done = true
	if len(msg) > maxPlainMessage {
		return nil, false, auth.Fail("PLAIN", "", "PLAIN message too long", nil)
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return nil, false, auth.Fail("PLAIN", "", "malformed PLAIN message", nil)
	}
	authzid, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	s.user = user
	if authzid != "" && authzid != user {
		return nil, false, auth.Fail("PLAIN", user, "authorization id differs from the user name", nil)
	}
	for _, mech := range []string{"SCRAM-SHA-512", "SCRAM-SHA-256"} {
		c, ok := s.m.lookup(mech, user)
		if !ok {
			continue
		}
		derived := scramCredentialFromPasswordWithSalt(mech, pass, c.Salt, c.Iterations)
		if subtle.ConstantTimeCompare(derived.StoredKey, c.StoredKey) == 1 {
			// Kafka's PLAIN server answers an empty token.
			return []byte{}, true, nil
		}
		return nil, false, auth.Fail("PLAIN", user, "wrong password", nil)
	}
	// Spend the same work as a real check, so timing does not reveal unknown users.
	scramCredentialFromPasswordWithSalt("SCRAM-SHA-512", pass, []byte("bulwark-unknown-user"), 8192)
	return nil, false, auth.Fail("PLAIN", user, "unknown user", nil)
}

func (s *plainSession) Principal() auth.Principal { return auth.User(s.user) }
func (s *plainSession) Expiry() time.Time         { return time.Time{} }
