package meta

import (
	"fmt"
	"maps"
	"time"
	"unicode/utf8"
)

// Credential record types (see records.go for the others).
const (
	TypeSetScramCredential    RecordType = 9
	TypeDeleteScramCredential RecordType = 10
	TypeSetIAMKey             RecordType = 11
	TypeDeleteIAMKey          RecordType = 12
)

// SCRAM limits, as Kafka enforces them (KIP-554).
const (
	MinScramIterations = 4096
	MaxScramIterations = 16384
	maxUserNameLen     = 1024
	maxSaltLen         = 1024
)

// ScramCredential is what the broker keeps of a SCRAM password (RFC 5802): never the password,
// only what verifies a proof and proves the server to the client.
type ScramCredential struct {
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"storedKey"`
	ServerKey  []byte `json:"serverKey"`
	Iterations int    `json:"iterations"`
}

// scramKeySize is the hash size of each SCRAM mechanism: StoredKey and ServerKey are that long.
var scramKeySize = map[string]int{"SCRAM-SHA-256": 32, "SCRAM-SHA-512": 64}

// IAMKey is an IAM-style access key: SigV4 verification needs the secret itself (the signing
// key derives from it per day and region), so it is stored; the metadata log is encrypted at rest
// and no API ever returns it.
type IAMKey struct {
	AccessKeyID  string    `json:"accessKeyId"`
	Secret       string    `json:"secret"`
	PrincipalARN string    `json:"principalArn"`
	Expiry       time.Time `json:"expiry,omitzero"`
	CreatedAt    time.Time `json:"createdAt"`
}

// SetScramCredential creates or replaces one user's credential for one mechanism.
type SetScramCredential struct {
	User       string          `json:"user"`
	Mechanism  string          `json:"mechanism"`
	Credential ScramCredential `json:"credential"`
}

func (SetScramCredential) Type() RecordType { return TypeSetScramCredential }

func (r SetScramCredential) validate(*State) error {
	if err := validUserName(r.User); err != nil {
		return err
	}
	size, ok := scramKeySize[r.Mechanism]
	if !ok {
		return fmt.Errorf("%w: SCRAM mechanism %q", ErrInvalidRecord, r.Mechanism)
	}
	c := r.Credential
	switch {
	case c.Iterations < MinScramIterations || c.Iterations > MaxScramIterations:
		return fmt.Errorf("%w: %d SCRAM iterations (allowed %d..%d)", ErrInvalidRecord, c.Iterations, MinScramIterations, MaxScramIterations)
	case len(c.Salt) == 0 || len(c.Salt) > maxSaltLen:
		return fmt.Errorf("%w: SCRAM salt of %d bytes", ErrInvalidRecord, len(c.Salt))
	case len(c.StoredKey) != size || len(c.ServerKey) != size:
		return fmt.Errorf("%w: %s keys must be %d bytes", ErrInvalidRecord, r.Mechanism, size)
	}
	return nil
}

func (r SetScramCredential) apply(b *builder) {
	users := maps.Clone(b.st.ScramUsers)
	if users == nil {
		users = map[string]map[string]ScramCredential{}
	}
	mechs := maps.Clone(users[r.User])
	if mechs == nil {
		mechs = map[string]ScramCredential{}
	}
	mechs[r.Mechanism] = r.Credential
	users[r.User] = mechs
	b.st.ScramUsers = users
}

// DeleteScramCredential removes one user's credential for one mechanism.
type DeleteScramCredential struct {
	User      string `json:"user"`
	Mechanism string `json:"mechanism"`
}

func (DeleteScramCredential) Type() RecordType { return TypeDeleteScramCredential }

func (r DeleteScramCredential) validate(st *State) error {
	if _, ok := st.ScramUsers[r.User][r.Mechanism]; !ok {
		return fmt.Errorf("%w: no %s credential for user %q", ErrInvalidRecord, r.Mechanism, r.User)
	}
	return nil
}

func (r DeleteScramCredential) apply(b *builder) {
	users := maps.Clone(b.st.ScramUsers)
	mechs := maps.Clone(users[r.User])
	delete(mechs, r.Mechanism)
	if len(mechs) == 0 {
		delete(users, r.User)
	} else {
		users[r.User] = mechs
	}
	if len(users) == 0 {
		users = nil
	}
	b.st.ScramUsers = users
}

// SetIAMKey creates or replaces an IAM-style access key.
type SetIAMKey struct {
	Key IAMKey `json:"key"`
}

func (SetIAMKey) Type() RecordType { return TypeSetIAMKey }

func (r SetIAMKey) validate(*State) error { return validIAMKey(r.Key) }

func (r SetIAMKey) apply(b *builder) {
	keys := maps.Clone(b.st.IAMKeys)
	if keys == nil {
		keys = map[string]IAMKey{}
	}
	k := r.Key
	// The same instant as replay will decode it, so a State built in memory equals one rebuilt
	// from disk.
	k.Expiry, k.CreatedAt = k.Expiry.UTC().Round(0), k.CreatedAt.UTC().Round(0)
	keys[k.AccessKeyID] = k
	b.st.IAMKeys = keys
}

// DeleteIAMKey removes an access key.
type DeleteIAMKey struct {
	AccessKeyID string `json:"accessKeyId"`
}

func (DeleteIAMKey) Type() RecordType { return TypeDeleteIAMKey }

func (r DeleteIAMKey) validate(st *State) error {
	if _, ok := st.IAMKeys[r.AccessKeyID]; !ok {
		return fmt.Errorf("%w: no access key %q", ErrInvalidRecord, r.AccessKeyID)
	}
	return nil
}

func (r DeleteIAMKey) apply(b *builder) {
	keys := maps.Clone(b.st.IAMKeys)
	delete(keys, r.AccessKeyID)
	if len(keys) == 0 {
		keys = nil
	}
	b.st.IAMKeys = keys
}

func validUserName(u string) error {
	if u == "" || len(u) > maxUserNameLen || !utf8.ValidString(u) {
		return fmt.Errorf("%w: user name %q", ErrInvalidRecord, u)
	}
	return nil
}

// validIAMKey checks an access key: ids look like AWS's (16 to 128 upper-case letters and digits).
func validIAMKey(k IAMKey) error {
	if len(k.AccessKeyID) < 16 || len(k.AccessKeyID) > 128 {
		return fmt.Errorf("%w: access key id must be 16 to 128 characters", ErrInvalidRecord)
	}
	for _, r := range k.AccessKeyID {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("%w: access key id %q: only A-Z and 0-9", ErrInvalidRecord, k.AccessKeyID)
		}
	}
	switch {
	case k.Secret == "" || len(k.Secret) > 128:
		return fmt.Errorf("%w: access key secret must be 1 to 128 characters", ErrInvalidRecord)
	case k.PrincipalARN == "" || len(k.PrincipalARN) > 2048 || !utf8.ValidString(k.PrincipalARN):
		return fmt.Errorf("%w: principal ARN", ErrInvalidRecord)
	}
	return nil
}

// validSnapshotCredentials checks the credentials of a snapshot with the same rules as records.
func validSnapshotCredentials(users map[string]map[string]ScramCredential, keys map[string]IAMKey) error {
	for u, mechs := range users {
		for m, c := range mechs {
			if err := (SetScramCredential{User: u, Mechanism: m, Credential: c}).validate(nil); err != nil {
				return err
			}
		}
	}
	for id, k := range keys {
		if id != k.AccessKeyID {
			return fmt.Errorf("%w: access key %q filed under %q", ErrInvalidRecord, k.AccessKeyID, id)
		}
		if err := validIAMKey(k); err != nil {
			return err
		}
	}
	return nil
}
