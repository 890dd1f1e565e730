package plain

import (
	"bytes"
	"crypto/subtle"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/auth/scram"
)

// mechanism is SASL PLAIN checked against SCRAM credentials.
type mechanism struct {
	lookup scram.Lookup
}

// NewMechanism returns PLAIN over the SCRAM credentials that lookup finds.
func NewMechanism(lookup scram.Lookup) auth.Mechanism { return mechanism{lookup: lookup} }

func (mechanism) Name() string { return "PLAIN" }

func (m mechanism) Start(auth.ConnInfo) auth.Session { return &session{m: m} }

type session struct {
	m    mechanism
	user string
	done bool
}

// maxMessage bounds a PLAIN message: three fields of at most 255 UTF-8 characters each.
const maxMessage = 3*255*4 + 2

func (s *session) Step(msg []byte) ([]byte, bool, error) {
	if s.done {
		return nil, false, auth.ErrUnexpectedMessage
	}
	s.done = true
	if len(msg) > maxMessage {
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
	for _, mech := range []string{scram.SHA512, scram.SHA256} {
		c, ok := s.m.lookup(mech, user)
		if !ok {
			continue
		}
		derived, err := scram.FromPassword(mech, pass, c.Salt, c.Iterations)
		if err == nil && subtle.ConstantTimeCompare(derived.StoredKey, c.StoredKey) == 1 {
			// Kafka's PLAIN server answers an empty token.
			return []byte{}, true, nil
		}
		return nil, false, auth.Fail("PLAIN", user, "wrong password", nil)
	}
	// Spend the same work as a real check, so timing does not reveal unknown users.
	_, _ = scram.FromPassword(scram.SHA512, pass, []byte("bulwark-unknown-user"), 8192)
	return nil, false, auth.Fail("PLAIN", user, "unknown user", nil)
}

func (s *session) Principal() auth.Principal { return auth.User(s.user) }
func (s *session) Expiry() time.Time         { return time.Time{} }
