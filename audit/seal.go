package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/bulwark-kafka/bulwark/broker/keys"
)

// Sealed files: with encryption at rest on, a stream's files (the trail, the broker log, and so
// the sinks' spool) are encrypted like everything else under log.dirs. Each file starts with a
// header line naming its own data key, wrapped by the key provider; every later line is one line
// of the stream encrypted with AES-256-GCM under that key, as base64(nonce || ciphertext), with
// the header line as additional data (a line moved to another file does not open). The hash
// chain is over the plaintext lines, so a shipped copy (plaintext at the sink) verifies alike.
// docs/format/audit.md has the layout.

// sealPrefix starts a sealed file's header line (and no line of any stream).
const sealPrefix = `{"bulwarkSealed":`

type sealHeader struct {
	Version    int    `json:"bulwarkSealed"`
	Stream     string `json:"stream"`
	FirstSeq   uint64 `json:"firstSeq"`
	Cipher     string `json:"cipher"`
	Provider   string `json:"provider"`
	KeyID      string `json:"keyId"`
	WrappedKey []byte `json:"wrappedKey"`
}

// sealContext is the encryption context of a stream file's data key.
func sealContext(stream string) keys.EncryptionContext {
	return keys.EncryptionContext{"purpose": "log-spool", "stream": stream}
}

// sealer encrypts or opens the lines of one sealed file.
type sealer struct {
	aead cipher.AEAD
	aad  []byte // the file's header line
}

func newSealer(key, header []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, aad: header}, nil
}

// newFileKey makes the data key of a file to come.
func newFileKey(kp keys.Provider, stream string) (*keys.DataKey, error) {
	dk, err := kp.GenerateDataKey(context.Background(), sealContext(stream))
	if err != nil {
		return nil, fmt.Errorf("audit: file key: %w", err)
	}
	return &dk, nil
}

// newFileSealer returns a new file's header line and sealer, under a key from newFileKey (which
// it zeroes).
func newFileSealer(dk *keys.DataKey, stream string, firstSeq uint64) ([]byte, *sealer, error) {
	defer keys.Zero(dk.Plaintext)
	header, err := json.Marshal(sealHeader{Version: 1, Stream: stream, FirstSeq: firstSeq, Cipher: "AES-256-GCM",
		Provider: dk.Wrapped.Provider, KeyID: dk.Wrapped.KeyID, WrappedKey: dk.Wrapped.Ciphertext})
	if err != nil {
		return nil, nil, err
	}
	s, err := newSealer(dk.Plaintext, header)
	return header, s, err
}

// seal encrypts one line.
func (s *sealer) seal(line []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(line)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("audit: no randomness for a nonce: " + err.Error()) // crypto/rand does not fail on Linux
	}
	sealed := s.aead.Seal(nonce, nonce, line, s.aad)
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sealed)))
	base64.StdEncoding.Encode(out, sealed)
	return out
}

// open decrypts one stored line.
func (s *sealer) open(stored []byte) ([]byte, error) {
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(stored)))
	n, err := base64.StdEncoding.Decode(raw, stored)
	if err != nil || n < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, errors.New("audit: a sealed line that is not base64 of an encrypted line")
	}
	raw = raw[:n]
	ns := s.aead.NonceSize()
	line, err := s.aead.Open(nil, raw[:ns], raw[ns:], s.aad)
	if err != nil {
		return nil, errors.New("audit: a sealed line that does not open under its file's key (altered, or moved from another file)")
	}
	return line, nil
}

// maxStoredLine bounds a stored line: a sealed one is base64 of the line plus nonce and tag.
const maxStoredLine = (maxLineBytes+64)/3*4 + 8

// fileKeys opens sealed files' headers, caching their data keys (a KMS call per file, not per
// read).
type fileKeys struct {
	kp     keys.Provider
	stream string
	mu     sync.Mutex
	cache  map[string]*sealer // by header line
}

func newFileKeys(kp keys.Provider, stream string) *fileKeys {
	return &fileKeys{kp: kp, stream: stream, cache: map[string]*sealer{}}
}

// sealerFor returns the sealer of the file whose header line this is.
func (k *fileKeys) sealerFor(header []byte) (*sealer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.cache[string(header)]; ok {
		return s, nil
	}
	var h sealHeader
	if err := json.Unmarshal(header, &h); err != nil || h.Version != 1 || h.Cipher != "AES-256-GCM" {
		return nil, fmt.Errorf("audit: a sealed file's header does not parse (%v)", err)
	}
	if h.Stream != k.stream {
		return nil, fmt.Errorf("audit: a sealed file of stream %q among the %q stream's", h.Stream, k.stream)
	}
	if k.kp == nil {
		return nil, errors.New("audit: the file is encrypted and there is no key provider to open it (give --config)")
	}
	key, err := k.kp.Decrypt(context.Background(), keys.Wrapped{Provider: h.Provider, KeyID: h.KeyID, Ciphertext: h.WrappedKey}, sealContext(k.stream))
	if err != nil {
		return nil, fmt.Errorf("audit: the file's key does not open: %w", err)
	}
	defer keys.Zero(key)
	s, err := newSealer(key, append([]byte(nil), header...))
	if err != nil {
		return nil, err
	}
	if len(k.cache) >= 64 {
		clear(k.cache) // a bound; files are read mostly in order, so this rarely costs a call
	}
	k.cache[string(header)] = s
	return s, nil
}

// lineReader reads a stream file's lines, opening them when the file is sealed.
type lineReader struct {
	br     *bufio.Reader
	keys   *fileKeys
	s      *sealer
	first  bool
	Sealed bool
}

func newLineReader(rd io.Reader, fk *fileKeys) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(rd, 64<<10), keys: fk, first: true}
}

// next returns the next line of the stream (the header of a sealed file is not one), without
// its newline. A last line without its newline comes with io.EOF (a torn write); errLineTooLong
// and errors opening a sealed line are returned as they are met.
func (r *lineReader) next() ([]byte, error) {
	for {
		b, err := readStoredLine(r.br)
		if r.first {
			r.first = false
			if err == nil && bytes.HasPrefix(b, []byte(sealPrefix)) {
				if r.keys == nil {
					return nil, errors.New("audit: the file is encrypted and there is no key provider to open it")
				}
				s, serr := r.keys.sealerFor(b)
				if serr != nil {
					return nil, serr
				}
				r.s, r.Sealed = s, true
				continue
			}
		}
		if err != nil || r.s == nil {
			return b, err
		}
		line, oerr := r.s.open(bytes.TrimRight(b, "\r"))
		if oerr != nil {
			return nil, fmt.Errorf("%w: %v", errBadSealedLine, oerr)
		}
		return line, nil
	}
}

// errBadSealedLine marks a sealed line that does not open: the reader can go on to the next.
var errBadSealedLine = errors.New("audit: unreadable sealed line")

var errLineTooLong = fmt.Errorf("audit: a line longer than %d bytes", maxStoredLine)

// readStoredLine returns the next stored line without its newline (io.EOF with what is left when
// the input ends without one).
func readStoredLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		out = append(out, chunk...)
		if len(out) > maxStoredLine+1 {
			return nil, errLineTooLong
		}
		switch err {
		case nil:
			return out[:len(out)-1], nil
		case bufio.ErrBufferFull:
			continue
		default:
			return out, err
		}
	}
}
