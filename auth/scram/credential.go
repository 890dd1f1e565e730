package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// Mechanism names.
const (
	SHA256 = "SCRAM-SHA-256"
	SHA512 = "SCRAM-SHA-512"
)

// Iteration limits, as Kafka enforces them (KIP-554).
const (
	MinIterations = 4096
	MaxIterations = 16384
)

// Credential is what a server keeps of a SCRAM password (RFC 5802): never the password, only
// what verifies a proof (StoredKey) and proves the server to the client (ServerKey).
type Credential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int
}

// Lookup returns a user's credential for a mechanism.
type Lookup func(mechanism, user string) (Credential, bool)

// Hash returns the hash function of a SCRAM mechanism, or nil for an unknown one.
func Hash(mechanism string) func() hash.Hash {
	switch mechanism {
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

// FromSalted derives the stored credential from a salted password (what
// AlterUserScramCredentials carries): StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key").
func FromSalted(mechanism string, salt, salted []byte, iterations int) (Credential, error) {
	h := Hash(mechanism)
	if h == nil {
		return Credential{}, fmt.Errorf("scram: unknown mechanism %q", mechanism)
	}
	d := h()
	d.Write(hmacSum(h, salted, []byte("Client Key")))
	return Credential{Salt: append([]byte(nil), salt...), StoredKey: d.Sum(nil),
		ServerKey: hmacSum(h, salted, []byte("Server Key")), Iterations: iterations}, nil
}

// FromPassword salts and hashes a password: SaltedPassword = Hi(password, salt, iterations),
// PBKDF2 with HMAC of the mechanism's hash. A nil salt means a fresh random 24-byte one.
func FromPassword(mechanism, password string, salt []byte, iterations int) (Credential, error) {
	h := Hash(mechanism)
	if h == nil {
		return Credential{}, fmt.Errorf("scram: unknown mechanism %q", mechanism)
	}
	if salt == nil {
		salt = make([]byte, 24)
		_, _ = rand.Read(salt)
	}
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return Credential{}, fmt.Errorf("scram: %w", err)
	}
	return FromSalted(mechanism, salt, salted, iterations)
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}
