package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/keys"
)

// HeaderSize is the space every sealed file reserves for its header, so the wrapped key can be
// rewritten in place (keys rewrap) without moving any data.
const HeaderSize = 4096

// Kind says what a sealed file holds; it is bound into the encryption context.
type Kind uint8

// File kinds.
const (
	KindSegment     Kind = 1
	KindTimeIndex   Kind = 2
	KindMetadataLog Kind = 3
	KindSnapshot    Kind = 4
	KindCoordinator Kind = 5
)

const (
	headerVersion = 1
	maxContext    = 32 // context entries
	maxContextLen = 1024
	// FrameOverhead is what sealing adds to a plaintext: a 4-byte length, a 12-byte nonce and a
	// 16-byte tag.
	FrameOverhead = 4 + 12 + 16
	// MaxFrame bounds one sealed frame, so a damaged length cannot make a reader allocate
	// without limit.
	MaxFrame = 256 << 20
)

var magic = [8]byte{'B', 'W', 'E', 'N', 'C', 0, 0, 1}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrTampered means a frame or header failed authentication: edited, swapped, reordered or
	// cut bytes. It is never served.
	ErrTampered = errors.New("envelope: data failed authentication (tampered or corrupt)")
	// ErrNotSealed means the file does not start with a sealed-file header.
	ErrNotSealed = errors.New("envelope: not a sealed file")
)

// Header is a sealed file's header: what the file is, its random id, and its data key wrapped by
// the key provider under the encryption context. Nothing in it is secret.
type Header struct {
	Kind    Kind
	FileID  [16]byte
	Wrapped keys.Wrapped
	Context keys.EncryptionContext
}

// Sealer seals and opens the frames of one file with its data key. Close zeroes the key.
//
// A sealer keeps only the file id and the data key; its AES-GCM state is built at the first Seal
// or Open. An idle partition's segment costs about 100 bytes instead of over 1 KiB (the header's
// context map and the cipher's tables), which counts at 100,000 partitions (issue 17).
type Sealer struct {
	fileID [16]byte
	key    []byte
	once   sync.Once
	gcm    cipher.AEAD
}

// New makes a header for a new file and its sealer: a fresh file id and data key. The context
// gets the file id and kind added, so a wrapped key only opens for this file.
func New(ctx context.Context, p keys.Provider, kind Kind, ec keys.EncryptionContext) (Header, *Sealer, error) {
	h := Header{Kind: kind, Context: cloneContext(ec)}
	_, _ = rand.Read(h.FileID[:])
	h.Context["bulwark:file-id"] = hex.EncodeToString(h.FileID[:])
	h.Context["bulwark:kind"] = fmt.Sprint(int(kind))
	dk, err := p.GenerateDataKey(ctx, h.Context)
	if err != nil {
		return Header{}, nil, err
	}
	h.Wrapped = dk.Wrapped
	s, err := newSealer(h, dk.Plaintext)
	if err != nil {
		keys.Zero(dk.Plaintext)
		return Header{}, nil, err
	}
	return h, s, nil
}

// Open unwraps a header's data key.
func Open(ctx context.Context, p keys.Provider, h Header) (*Sealer, error) {
	dk, err := p.Decrypt(ctx, h.Wrapped, h.Context)
	if err != nil {
		return nil, err
	}
	return newSealer(h, dk)
}

func newSealer(h Header, key []byte) (*Sealer, error) {
	if _, err := newAEAD(key); err != nil {
		return nil, err
	}
	return &Sealer{fileID: h.FileID, key: key}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != keys.DataKeySize {
		return nil, fmt.Errorf("envelope: data key of %d bytes", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// aead returns the cipher, building it on first use. newSealer built it once already, so the key
// is known to be valid and an error here would be a broken invariant, not bad input.
func (s *Sealer) aead() cipher.AEAD {
	s.once.Do(func() {
		var err error
		if s.gcm, err = newAEAD(s.key); err != nil {
			panic(fmt.Sprintf("envelope: a sealer's validated key no longer builds a cipher: %v", err))
		}
	})
	return s.gcm
}

// Close zeroes the data key.
func (s *Sealer) Close() {
	keys.Zero(s.key)
	s.gcm = nil
}

// aad is the authenticated data of a frame: the file id, the number the caller binds the frame
// to (its position in the file, or for a segment the batch's base offset), and the caller's own
// fields.
func (s *Sealer) aad(pos int64, extra []byte) []byte {
	b := make([]byte, 0, 16+8+len(extra))
	b = append(b, s.fileID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(pos))
	return append(b, extra...)
}

// Seal appends the frame for plaintext bound to pos (a position or an offset, see aad) to dst:
// [uint32 length of what follows][12-byte random nonce][ciphertext and 16-byte tag].
// The nonce is random, not derived from the position: a torn tail truncated at recovery is
// re-appended at the same position under the same key.
func (s *Sealer) Seal(dst, plaintext []byte, pos int64, extra []byte) []byte {
	n := 12 + len(plaintext) + 16
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	nonceAt := len(dst)
	dst = append(dst, make([]byte, 12)...)
	_, _ = rand.Read(dst[nonceAt:])
	return s.aead().Seal(dst, dst[nonceAt:nonceAt+12], plaintext, s.aad(pos, extra))
}

// FrameLen reads a frame's total length (header included) from its first 4 bytes.
func FrameLen(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, io.ErrUnexpectedEOF
	}
	n := int(binary.BigEndian.Uint32(b))
	if n < 12+16 || n > MaxFrame {
		return 0, fmt.Errorf("%w: frame length %d", ErrTampered, n)
	}
	return 4 + n, nil
}

// Open authenticates and decrypts the frame at pos, appending the plaintext to dst.
func (s *Sealer) Open(dst, frame []byte, pos int64, extra []byte) ([]byte, error) {
	n, err := FrameLen(frame)
	if err != nil {
		return nil, err
	}
	if len(frame) != n {
		return nil, fmt.Errorf("%w: frame at %d is %d bytes, its length says %d", ErrTampered, pos, len(frame), n)
	}
	out, err := s.aead().Open(dst, frame[4:16], frame[16:], s.aad(pos, extra))
	if err != nil {
		return nil, fmt.Errorf("%w: frame at position %d", ErrTampered, pos)
	}
	return out, nil
}

// Encode renders the header into its HeaderSize bytes:
//
//	magic(8) version(2) kind(1) reserved(1) fileID(16)
//	provider(u16 len + bytes) keyID(u16 len + bytes) wrapped(u16 len + bytes)
//	context(keys.AppendContext) zero padding, CRC-32C of everything before it (last 4 bytes)
func (h Header) Encode() ([]byte, error) {
	b := make([]byte, 0, HeaderSize)
	b = append(b, magic[:]...)
	b = binary.BigEndian.AppendUint16(b, headerVersion)
	b = append(b, byte(h.Kind), 0)
	b = append(b, h.FileID[:]...)
	for _, f := range []string{h.Wrapped.Provider, h.Wrapped.KeyID, string(h.Wrapped.Ciphertext)} {
		if len(f) > keys.MaxWrappedSize {
			return nil, fmt.Errorf("envelope: header field of %d bytes", len(f))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	b = keys.AppendContext(b, h.Context)
	if len(b) > HeaderSize-4 {
		return nil, fmt.Errorf("envelope: header of %d bytes exceeds %d", len(b), HeaderSize)
	}
	b = append(b, make([]byte, HeaderSize-4-len(b))...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// DecodeHeader parses a header, checking every length before using it.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize || [8]byte(b[:8]) != magic {
		return Header{}, ErrNotSealed
	}
	b = b[:HeaderSize]
	if crc32.Checksum(b[:HeaderSize-4], castagnoli) != binary.BigEndian.Uint32(b[HeaderSize-4:]) {
		return Header{}, fmt.Errorf("%w: header checksum", ErrTampered)
	}
	if v := binary.BigEndian.Uint16(b[8:]); v != headerVersion {
		return Header{}, fmt.Errorf("envelope: header version %d", v)
	}
	h := Header{Kind: Kind(b[10]), Context: keys.EncryptionContext{}}
	copy(h.FileID[:], b[12:28])
	r := reader{b: b[:HeaderSize-4], off: 28}
	h.Wrapped.Provider = string(r.bytes16())
	h.Wrapped.KeyID = string(r.bytes16())
	h.Wrapped.Ciphertext = slices.Clone(r.bytes16())
	n := r.u32()
	if n > maxContext {
		r.err = true
	}
	for i := uint32(0); i < n && !r.err; i++ {
		k, v := r.bytes32(), r.bytes32()
		h.Context[string(k)] = string(v)
	}
	if r.err {
		return Header{}, fmt.Errorf("%w: malformed header", ErrTampered)
	}
	return h, nil
}

type reader struct {
	b   []byte
	off int
	err bool
}

func (r *reader) take(n int) []byte {
	if r.err || n < 0 || n > len(r.b)-r.off {
		r.err = true
		return nil
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *reader) u16() int {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) bytes16() []byte { return r.take(r.u16()) }

func (r *reader) bytes32() []byte {
	n := r.u32()
	if n > maxContextLen {
		r.err = true
		return nil
	}
	return r.take(int(n))
}

func cloneContext(ec keys.EncryptionContext) keys.EncryptionContext {
	out := make(keys.EncryptionContext, len(ec)+2)
	for k, v := range ec {
		out[k] = v
	}
	return out
}

// IsHeaderPrefix reports whether b could be the start of a header cut short (a crash while the
// header was written): it starts with the magic, or with as much of it as b holds, or is all
// zero bytes.
func IsHeaderPrefix(b []byte) bool {
	if len(b) < len(magic) {
		return string(b) == string(magic[:len(b)]) || allZero(b)
	}
	return [8]byte(b[:8]) == magic || allZero(b)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ReadHeader reads and parses the header of the file at path.
func ReadHeader(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, err
	}
	defer f.Close()
	b := make([]byte, HeaderSize)
	if _, err := io.ReadFull(f, b); err != nil {
		return Header{}, ErrNotSealed
	}
	return DecodeHeader(b)
}

// Rewrap re-wraps a sealed file's data key under the provider's current master key, rewriting
// only the header in place (and fsyncing it): `bulwark keys rewrap`.
func Rewrap(ctx context.Context, path string, rw keys.Rewrapper) error {
	h, err := ReadHeader(path)
	if err != nil {
		return fmt.Errorf("envelope: %s: %w", path, err)
	}
	w, err := rw.Rewrap(ctx, h.Wrapped, h.Context)
	if err != nil {
		return fmt.Errorf("envelope: %s: %w", path, err)
	}
	h.Wrapped = w
	b, err := h.Encode()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteAt(b, 0)
	serr := f.Sync()
	return errors.Join(werr, serr, f.Close())
}

// Shred destroys a sealed file's data key by overwriting its header with zeros (fsynced), then
// removes the file: what remains of it on disk, or in a backup of its blocks, cannot be opened.
func Shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteAt(make([]byte, HeaderSize), 0)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		return err
	}
	return os.Remove(path)
}

// Config is how a store seals its files: the key provider, the context naming what the store
// holds (cluster, topic, partition, ...; each file adds its name), and a bound on each
// key-service call. Stores hold a *Config; nil means plaintext.
type Config struct {
	Provider keys.Provider
	// Context may be shared by many Configs (a topic's partitions share their topic's), so
	// nothing modifies it.
	Context keys.EncryptionContext
	// Partition, when set, is added to each file's context as "bulwark:partition". It is kept
	// apart from Context so that a broker's 100,000 partitions do not hold a copy of their
	// topic's context each: a third of a megabyte of heap per thousand partitions (issue 17).
	Partition string
	// Timeout bounds each key-service call (default 5 s).
	Timeout time.Duration
}

// ContextFor is the encryption context of one file: Context and Partition plus the file's name.
func (c *Config) ContextFor(file string) keys.EncryptionContext {
	ec := make(keys.EncryptionContext, len(c.Context)+2)
	for k, v := range c.Context {
		ec[k] = v
	}
	if c.Partition != "" {
		ec["bulwark:partition"] = c.Partition
	}
	ec["bulwark:file"] = filepath.Base(file)
	return ec
}

// Call returns a context bounded by Timeout for one key-service call.
func (c *Config) Call() (context.Context, context.CancelFunc) {
	t := c.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	return context.WithTimeout(context.Background(), t)
}

// NewFile makes the header bytes and sealer of a new file named name.
func (c *Config) NewFile(kind Kind, name string) ([]byte, *Sealer, error) {
	ctx, cancel := c.Call()
	defer cancel()
	h, s, err := New(ctx, c.Provider, kind, c.ContextFor(name))
	if err != nil {
		return nil, nil, err
	}
	b, err := h.Encode()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return b, s, nil
}

// OpenFile unwraps the data key of a file whose header is h.
func (c *Config) OpenFile(h Header) (*Sealer, error) {
	ctx, cancel := c.Call()
	defer cancel()
	return Open(ctx, c.Provider, h)
}
