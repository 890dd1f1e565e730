package scram

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
)

// mechanism is the server side of SCRAM-SHA-256 or SCRAM-SHA-512.
type mechanism struct {
	name string
	hash func() hash.Hash
	// lookup returns a user's stored credential for this mechanism.
	lookup func(user string) (Credential, bool)
	// fakeSecret makes a stable fake salt per unknown user, so that a probe cannot tell an
	// unknown user from a wrong password by the server-first message.
	fakeSecret []byte
	// serverNonce makes the server's part of the nonce (alnumNonce; tests fix it).
	serverNonce func() string
	// decoy says what an unknown user's stand-in credential looks like (nil: DefaultDecoy).
	decoy func() Decoy
}

// Decoy is the shape of the stand-in credential an unknown user gets: the iteration count and
// salt length a probe sees in server-first. To be indistinguishable from real users it should be
// what most real credentials of the mechanism use.
type Decoy struct {
	Iterations int
	SaltLen    int
}

// DefaultDecoy matches credentials made by kadm and `bulwark users set` with their defaults.
var DefaultDecoy = Decoy{Iterations: 8192, SaltLen: 24}

// Options adjust a mechanism.
type Options struct {
	// Decoy, when set, is asked at each unknown-user login for the stand-in's shape, so it can
	// follow the credentials actually stored.
	Decoy func() Decoy
}

// NewMechanism returns the server side of SCRAM-SHA-256 or SCRAM-SHA-512 over lookup.
func NewMechanism(name string, lookup Lookup) (auth.Mechanism, error) {
	return newMechanism(name, lookup)
}

// NewMechanismWithOptions is NewMechanism with Options.
func NewMechanismWithOptions(name string, lookup Lookup, o Options) (auth.Mechanism, error) {
	m, err := newMechanism(name, lookup)
	if err != nil {
		return nil, err
	}
	m.decoy = o.Decoy
	return m, nil
}

func newMechanism(name string, lookup Lookup) (*mechanism, error) {
	h := Hash(name)
	if h == nil {
		return nil, fmt.Errorf("scram: unknown mechanism %q", name)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return &mechanism{name: name, hash: h, fakeSecret: secret, serverNonce: alnumNonce,
		lookup: func(user string) (Credential, bool) { return lookup(name, user) }}, nil
}

func (m *mechanism) Name() string { return m.name }

func (m *mechanism) Start(auth.ConnInfo) auth.Session { return &session{m: m} }

// session is one exchange: client-first → server-first, client-final → server-final.
type session struct {
	m        *mechanism
	step     int
	user     string
	known    bool
	cred     Credential
	gs2      string // the GS2 header the client sent, echoed in c= of client-final
	first    string // client-first-message-bare
	srvFirst string
	nonce    string // client nonce + server nonce
}

// maxMessage bounds a SCRAM message; real ones are under 300 bytes.
const maxMessage = 4096

func (s *session) fail(reason string) error { return auth.Fail(s.m.name, s.user, reason, nil) }

func (s *session) Step(msg []byte) ([]byte, bool, error) {
	if len(msg) > maxMessage {
		return nil, false, s.fail("SCRAM message too long")
	}
	s.step++
	switch s.step {
	case 1:
		out, err := s.clientFirst(string(msg))
		return out, false, err
	case 2:
		out, err := s.clientFinal(string(msg))
		return out, err == nil, err
	}
	return nil, false, auth.ErrUnexpectedMessage
}

func (s *session) clientFirst(msg string) ([]byte, error) {
	// gs2-header: cbind-flag "," [authzid] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return nil, s.fail("malformed client-first message")
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return nil, s.fail("channel binding is not supported")
	default:
		return nil, s.fail("malformed GS2 header")
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, s.fail("malformed client-first message")
	}
	s.gs2, s.first = flag+","+authzid+",", bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, s.fail("malformed client-first message")
	}
	user, ok := decodeSaslName(attrs[0][2:])
	if !ok || user == "" {
		return nil, s.fail("malformed user name")
	}
	s.user = user
	if authzid != "" {
		if z, ok := decodeSaslName(strings.TrimPrefix(authzid, "a=")); !ok || !strings.HasPrefix(authzid, "a=") || z != user {
			return nil, s.fail("authorization id differs from the user name")
		}
	}
	for _, ext := range attrs[2:] {
		if k, _, ok := strings.Cut(ext, "="); !ok || k == "" {
			return nil, s.fail("malformed SCRAM extension")
		}
		if strings.HasPrefix(ext, "tokenauth=") {
			return nil, s.fail("delegation tokens are not supported")
		}
	}
	clientNonce := attrs[1][2:]
	if clientNonce == "" || !printableNonce(clientNonce) {
		return nil, s.fail("malformed client nonce")
	}
	s.cred, s.known = s.m.lookup(user)
	if !s.known {
		s.cred = s.fakeCredential(user)
	}
	s.nonce = clientNonce + s.m.serverNonce()
	s.srvFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.cred.Salt) + ",i=" + strconv.Itoa(s.cred.Iterations)
	return []byte(s.srvFirst), nil
}

func (s *session) clientFinal(msg string) ([]byte, error) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, s.fail("client-final message has no proof")
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, s.fail("malformed client-final message")
	}
	if cb, err := base64.StdEncoding.DecodeString(attrs[0][2:]); err != nil || string(cb) != s.gs2 {
		return nil, s.fail("channel binding data differs from the GS2 header")
	}
	// Kafka accepts a final nonce that ends with the server's: librdkafka sends its own nonce
	// again in front of the combined one.
	if !strings.HasSuffix(attrs[1][2:], s.nonce) {
		return nil, s.fail("nonce differs from the one the server sent")
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	size := s.m.hash().Size()
	if err != nil || len(proof) != size {
		return nil, s.fail("malformed client proof")
	}
	authMessage := []byte(s.first + "," + s.srvFirst + "," + withoutProof)
	sig := hmacSum(s.m.hash, s.cred.StoredKey, authMessage)
	clientKey := make([]byte, size)
	subtle.XORBytes(clientKey, proof, sig)
	h := s.m.hash()
	h.Write(clientKey)
	match := subtle.ConstantTimeCompare(h.Sum(nil), s.cred.StoredKey) == 1
	switch {
	case !s.known:
		return nil, s.fail("unknown user")
	case !match:
		return nil, s.fail("wrong password (client proof does not match)")
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSum(s.m.hash, s.cred.ServerKey, authMessage))), nil
}

func (s *session) Principal() auth.Principal { return auth.User(s.user) }
func (s *session) Expiry() time.Time         { return time.Time{} }

// fakeCredential stands in for an unknown user: a salt stable per user name (so repeated probes
// see the same one), of the length and iteration count real users have, and keys that no proof
// can match. The exchange then does the same work as for a real user with a wrong password.
func (s *session) fakeCredential(user string) Credential {
	d := DefaultDecoy
	if s.m.decoy != nil {
		d = s.m.decoy()
	}
	d.SaltLen = min(max(d.SaltLen, 8), 64)
	salt := hmacSum(sha512.New, s.m.fakeSecret, []byte(user))[:d.SaltLen]
	keys := make([]byte, 2*s.m.hash().Size())
	_, _ = rand.Read(keys)
	return Credential{Salt: salt, Iterations: d.Iterations, StoredKey: keys[:len(keys)/2], ServerKey: keys[len(keys)/2:]}
}

// decodeSaslName undoes SCRAM's user-name escaping ("=2C" is ',' and "=3D" is '='); any other
// '=' is malformed.
func decodeSaslName(s string) (string, bool) {
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// printableNonce reports whether n is RFC 5802's printable: 0x21..0x7e except ','.
func printableNonce(n string) bool {
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// alnumNonce is a 32-character server nonce of letters and digits.
func alnumNonce() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
