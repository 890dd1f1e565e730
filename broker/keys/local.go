package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LocalProvider is the value of Wrapped.Provider for the local keyring.
const LocalProvider = "local"

// localWrapFormat is the first byte of a locally wrapped key: [format][12-byte nonce][sealed key].
const localWrapFormat = 1

// maxKeyringSize bounds a keyring file read from disk.
const maxKeyringSize = 1 << 20

// Local is the local keyring: master key versions in a file of the broker's own (mode 0600), one
// of them current. New data keys are wrapped under the current version; any version unwraps
// what it wrapped. Safe for concurrent use.
type Local struct {
	path     string // empty for a key supplied from the environment or a key file
	observer Observer

	mu       sync.RWMutex
	versions []localVersion
	current  int
}

// localVersion is one master key.
type localVersion struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Key     []byte    `json:"key"`
}

// keyringFile is the keyring's on-disk form (docs/format/keyring.md).
type keyringFile struct {
	Format   string         `json:"format"`
	Current  int            `json:"current"`
	Versions []localVersion `json:"versions"`
	// Check is the hex SHA-256 of the versions' fingerprints, so a damaged file is refused
	// rather than used with a wrong key.
	Check string `json:"check"`
}

const keyringFormat = "bulwark-keyring-v1"

// LocalOptions configure OpenLocal.
type LocalOptions struct {
	// Create makes a new keyring with one random version when the file does not exist.
	Create   bool
	Observer Observer
}

// VersionInfo describes one master key version, without the key.
type VersionInfo struct {
	Version     int
	Created     time.Time
	Current     bool
	Fingerprint string
}

// OpenLocal opens (or with Create, creates) the keyring file at path. A keyring readable by
// group or others is refused, as ssh refuses such private keys.
func OpenLocal(path string, o LocalOptions) (*Local, error) {
	l := &Local{path: path, observer: o.Observer}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && o.Create:
		key := make([]byte, DataKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		l.versions = []localVersion{{Version: 1, Created: time.Now().UTC().Round(0), Key: key}}
		l.current = 1
		if err := l.save(); err != nil {
			return nil, err
		}
		return l, nil
	case err != nil:
		return nil, fmt.Errorf("keys: keyring %s: %w", path, err)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("keys: keyring %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	case fi.Size() > maxKeyringSize:
		return nil, fmt.Errorf("keys: keyring %s is %d bytes, larger than any keyring", path, fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: keyring %s: %w", path, err)
	}
	if err := l.decode(data); err != nil {
		return nil, fmt.Errorf("keys: keyring %s: %w", path, err)
	}
	return l, nil
}

// LocalFromKey makes a one-version keyring from a base64 256-bit master key (from an
// environment variable or a key file). Its key id carries the key's fingerprint, so data wrapped
// under a different key is refused with a clear error.
func LocalFromKey(b64 string, o LocalOptions) (*Local, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(key) != DataKeySize {
		return nil, errors.New("keys: master key must be 32 bytes in base64")
	}
	return &Local{observer: o.Observer, versions: []localVersion{{Version: 1, Key: key}}, current: 1}, nil
}

func (l *Local) decode(data []byte) error {
	var f keyringFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("%w: not a keyring: %v", ErrCorruptKeyring, err)
	}
	if f.Format != keyringFormat {
		return fmt.Errorf("%w: format %q", ErrCorruptKeyring, f.Format)
	}
	seen := map[int]bool{}
	for _, v := range f.Versions {
		if v.Version < 1 || seen[v.Version] || len(v.Key) != DataKeySize {
			return fmt.Errorf("%w: version %d", ErrCorruptKeyring, v.Version)
		}
		seen[v.Version] = true
	}
	if !seen[f.Current] {
		return fmt.Errorf("%w: current version %d is missing", ErrCorruptKeyring, f.Current)
	}
	if f.Check != checksum(f.Versions) {
		return fmt.Errorf("%w: checksum mismatch", ErrCorruptKeyring)
	}
	l.versions, l.current = f.Versions, f.Current
	return nil
}

// ErrCorruptKeyring means the keyring file does not parse or fails its checksum.
var ErrCorruptKeyring = errors.New("keys: corrupt keyring")

func checksum(vs []localVersion) string {
	h := sha256.New()
	for _, v := range vs {
		fmt.Fprintf(h, "%d:%s;", v.Version, fingerprint(v.Key))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fingerprint identifies a master key without revealing it.
func fingerprint(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("bulwark-key-fingerprint"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// save writes the keyring atomically: temporary file (0600), fsync, rename, fsync directory.
func (l *Local) save() error {
	if l.path == "" {
		return errors.New("keys: this master key was supplied directly and cannot be rotated here")
	}
	data, err := json.MarshalIndent(keyringFile{Format: keyringFormat, Current: l.current, Versions: l.versions,
		Check: checksum(l.versions)}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(l.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keys: keyring directory: %w", err)
	}
	tmp := l.path + ".tmp"
	if err := writeSync(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("keys: keyring: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func writeSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("keys: keyring: %w", err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("keys: keyring: %w", err)
	}
	return nil
}

// Name implements Provider.
func (l *Local) Name() string { return LocalProvider }

// keyID names a version: "local:<version>:<fingerprint>".
func keyID(v localVersion) string {
	return "local:" + strconv.Itoa(v.Version) + ":" + fingerprint(v.Key)
}

// GenerateDataKey implements Provider.
func (l *Local) GenerateDataKey(_ context.Context, ec EncryptionContext) (DataKey, error) {
	start := time.Now()
	l.mu.RLock()
	v := l.version(l.current)
	l.mu.RUnlock()
	dk := make([]byte, DataKeySize)
	_, _ = rand.Read(dk)
	w, err := wrapLocal(v, dk, ec)
	l.report("GenerateDataKey", w.KeyID, ec, start, err)
	if err != nil {
		Zero(dk)
		return DataKey{}, err
	}
	return DataKey{Plaintext: dk, Wrapped: w}, nil
}

// Decrypt implements Provider.
func (l *Local) Decrypt(_ context.Context, w Wrapped, ec EncryptionContext) ([]byte, error) {
	start := time.Now()
	dk, err := l.unwrap(w, ec)
	l.report("Decrypt", w.KeyID, ec, start, err)
	return dk, err
}

// Rewrap implements Rewrapper: the data key moves to the current master key version without
// leaving this process.
func (l *Local) Rewrap(ctx context.Context, w Wrapped, ec EncryptionContext) (Wrapped, error) {
	start := time.Now()
	dk, err := l.unwrap(w, ec)
	if err != nil {
		l.report("Rewrap", w.KeyID, ec, start, err)
		return Wrapped{}, err
	}
	defer Zero(dk)
	l.mu.RLock()
	v := l.version(l.current)
	l.mu.RUnlock()
	nw, err := wrapLocal(v, dk, ec)
	l.report("Rewrap", nw.KeyID, ec, start, err)
	return nw, err
}

// Rotate adds a new master key version and makes it current; existing data keys keep opening
// under their versions until rewrapped.
func (l *Local) Rotate() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := make([]byte, DataKeySize)
	_, _ = rand.Read(key)
	next := 0
	for _, v := range l.versions {
		next = max(next, v.Version)
	}
	next++
	old, oldCurrent := l.versions, l.current
	l.versions = append(slices.Clone(l.versions), localVersion{Version: next, Created: time.Now().UTC().Round(0), Key: key})
	l.current = next
	if err := l.save(); err != nil {
		l.versions, l.current = old, oldCurrent
		return 0, err
	}
	return next, nil
}

// Versions lists the master key versions.
func (l *Local) Versions() []VersionInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]VersionInfo, len(l.versions))
	for i, v := range l.versions {
		out[i] = VersionInfo{Version: v.Version, Created: v.Created, Current: v.Version == l.current, Fingerprint: fingerprint(v.Key)}
	}
	return out
}

// Close zeroes the master keys held in memory.
func (l *Local) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.versions {
		Zero(v.Key)
	}
	l.versions = nil
}

func (l *Local) version(n int) localVersion {
	for _, v := range l.versions {
		if v.Version == n {
			return v
		}
	}
	return localVersion{}
}

func (l *Local) unwrap(w Wrapped, ec EncryptionContext) ([]byte, error) {
	if w.Provider != LocalProvider {
		return nil, fmt.Errorf("%w: wrapped by provider %q, not the local keyring", ErrWrongKey, w.Provider)
	}
	parts := strings.Split(w.KeyID, ":")
	n, err := strconv.Atoi(parts[min(1, len(parts)-1)])
	if len(parts) != 3 || parts[0] != "local" || err != nil {
		return nil, fmt.Errorf("%w: malformed key id %q", ErrWrongKey, w.KeyID)
	}
	l.mu.RLock()
	v := l.version(n)
	l.mu.RUnlock()
	switch {
	case v.Key == nil:
		return nil, fmt.Errorf("%w: master key version %d is not in this keyring", ErrWrongKey, n)
	case fingerprint(v.Key) != parts[2]:
		return nil, fmt.Errorf("%w: data key wrapped by master key %s, but version %d here has fingerprint %s", ErrWrongKey, w.KeyID, n, fingerprint(v.Key))
	}
	return unwrapLocal(v, w, ec)
}

func (l *Local) report(op, id string, ec EncryptionContext, start time.Time, err error) {
	if l.observer != nil {
		l.observer.OnKeyCall(Call{Provider: LocalProvider, Op: op, KeyID: id, Context: ec, Duration: time.Since(start), Err: err})
	}
}

// wrapAAD binds a wrapped key to its master key id and encryption context.
func wrapAAD(id string, ec EncryptionContext) []byte {
	b := []byte("bulwark-local-wrap-v1\x00" + id + "\x00")
	return AppendContext(b, ec)
}

// AppendContext appends a canonical encoding of ec: keys sorted, each key and value
// length-prefixed, so no two contexts encode alike.
func AppendContext(b []byte, ec EncryptionContext) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

func wrapLocal(v localVersion, dk []byte, ec EncryptionContext) (Wrapped, error) {
	gcm, err := newGCM(v.Key)
	if err != nil {
		return Wrapped{}, err
	}
	id := keyID(v)
	out := make([]byte, 1+gcm.NonceSize(), 1+gcm.NonceSize()+len(dk)+gcm.Overhead())
	out[0] = localWrapFormat
	_, _ = rand.Read(out[1:])
	out = gcm.Seal(out, out[1:1+gcm.NonceSize()], dk, wrapAAD(id, ec))
	return Wrapped{Provider: LocalProvider, KeyID: id, Ciphertext: out}, nil
}

func unwrapLocal(v localVersion, w Wrapped, ec EncryptionContext) ([]byte, error) {
	gcm, err := newGCM(v.Key)
	if err != nil {
		return nil, err
	}
	c := w.Ciphertext
	if len(c) != 1+gcm.NonceSize()+DataKeySize+gcm.Overhead() || c[0] != localWrapFormat {
		return nil, fmt.Errorf("%w: malformed wrapped key", ErrWrongKey)
	}
	dk, err := gcm.Open(nil, c[1:1+gcm.NonceSize()], c[1+gcm.NonceSize():], wrapAAD(w.KeyID, ec))
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped key %s does not open under this key and context", ErrWrongKey, w.KeyID)
	}
	return dk, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return cipher.NewGCM(block)
}
