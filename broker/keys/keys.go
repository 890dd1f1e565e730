package keys

import (
	"context"
	"errors"
	"time"
)

// DataKeySize is the size of every data key: AES-256.
const DataKeySize = 32

// EncryptionContext is non-secret context bound to a wrapped data key, with AWS KMS semantics:
// unwrapping under a different context fails. Bulwark names the cluster, topic, partition and
// file in it, so a wrapped key copied into another file's header does not open.
type EncryptionContext map[string]string

// Wrapped is a data key as stored in a file header: which provider and master key wrapped it,
// and the wrapped bytes. Nothing in it is secret.
type Wrapped struct {
	// Provider is "local" or "aws-kms".
	Provider string
	// KeyID names the master key version: "local:3" for the local keyring's version 3, the key
	// ARN for AWS KMS.
	KeyID string
	// Ciphertext is the wrapped data key (opaque, provider-specific, bounded by MaxWrappedSize).
	Ciphertext []byte
}

// MaxWrappedSize bounds a wrapped key's ciphertext; decoders refuse larger values before
// allocating. AWS KMS ciphertext blobs for a 32-byte key are under 200 bytes.
const MaxWrappedSize = 4096

// DataKey is a freshly generated data key: the plaintext for sealing, and its wrapped form for
// the file header. The holder must Zero the plaintext when the file closes.
type DataKey struct {
	Plaintext []byte
	Wrapped   Wrapped
}

// Provider generates and unwraps data keys under a master key. Implementations are safe for
// concurrent use.
type Provider interface {
	// Name is the value stored in Wrapped.Provider.
	Name() string
	// GenerateDataKey returns a new random data key wrapped under the current master key.
	GenerateDataKey(ctx context.Context, ec EncryptionContext) (DataKey, error)
	// Decrypt unwraps a data key. It fails with ErrWrongKey when the master key cannot open it
	// (wrong key, edited ciphertext or a different context) and ErrUnavailable when the key
	// service cannot be reached.
	Decrypt(ctx context.Context, w Wrapped, ec EncryptionContext) ([]byte, error)
}

// Rewrapper is a Provider that can re-wrap an existing data key under its current master key
// without exposing it to the caller (`bulwark keys rewrap`).
type Rewrapper interface {
	Rewrap(ctx context.Context, w Wrapped, ec EncryptionContext) (Wrapped, error)
}

var (
	// ErrUnavailable means the key service could not be reached or throttled us; retriable.
	ErrUnavailable = errors.New("keys: key provider unavailable")
	// ErrWrongKey means the wrapped key does not open under this master key and context.
	ErrWrongKey = errors.New("keys: data key does not open under this master key")
)

// Zero overwrites a plaintext key in memory.
func Zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// Call is one key-service operation, reported to an Observer for metrics and audit.
type Call struct {
	Provider string
	// Op is "GenerateDataKey", "Decrypt" or "Rewrap".
	Op       string
	KeyID    string
	Context  EncryptionContext
	Duration time.Duration
	// Err is nil on success.
	Err error
}

// Observer receives every key-service call. It must not block.
type Observer interface {
	OnKeyCall(Call)
}
