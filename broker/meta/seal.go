package meta

// Encryption at rest of the metadata log (Options.Sealing): it holds SCRAM keys, IAM secrets
// and configs. A sealed meta-*.log is an envelope header followed by one sealed record per
// commit: [uint64 offset of the commit's first record][envelope frame of the commit's CRC-framed
// records], the frame bound to that offset. A sealed snapshot is a header and one frame bound to
// the snapshot's offset. A record that fails to open is a torn tail when nothing after it opens,
// and corruption otherwise.

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bulwark-kafka/bulwark/broker/envelope"
)

// ErrSealedWithoutKey means a metadata file is encrypted but the store was opened without
// Sealing.
var ErrSealedWithoutKey = errors.New("meta: metadata is encrypted but encryption is not configured")

const sealedPrefix = 8

// openSealedFile parses a file's envelope header, if it has one, and unwraps its data key.
// sealed is false for a plaintext file.
func (s *Store) openSealedFile(name string, data []byte) (*envelope.Sealer, bool, error) {
	h, err := envelope.DecodeHeader(data)
	switch {
	case errors.Is(err, envelope.ErrNotSealed):
		return nil, false, nil
	case err != nil:
		return nil, true, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	case s.opts.Sealing == nil:
		return nil, true, fmt.Errorf("%w: %s", ErrSealedWithoutKey, name)
	}
	sealer, err := s.opts.Sealing.OpenFile(h)
	if err != nil {
		return nil, true, fmt.Errorf("meta: data key of %s: %w", name, err)
	}
	return sealer, true, nil
}

// unsealLog opens the sealed records of a log file: the CRC-framed records they hold, in order,
// and the physical length of the whole records. torn is set when a damaged record ends the file.
func unsealLog(sealer *envelope.Sealer, name string, data []byte) (plain []byte, valid int, torn bool, err error) {
	valid = envelope.HeaderSize
	for valid < len(data) {
		out, n, ok := openRecord(sealer, data[valid:], plain)
		if !ok {
			for next := valid + n; n > 0 && next < len(data); {
				_, m, ok := openRecord(sealer, data[next:], nil)
				if ok {
					return nil, valid, false, fmt.Errorf("%w: %s byte %d: %v", ErrCorrupt, name, valid, envelope.ErrTampered)
				}
				if m <= 0 {
					break
				}
				next += m
			}
			return plain, valid, true, nil
		}
		plain = out
		valid += n
	}
	return plain, valid, false, nil
}

// openRecord opens the sealed record at the start of b, appending its plaintext to dst. n is the
// record's length as its header says (0 if even that is unreadable).
func openRecord(sealer *envelope.Sealer, b, dst []byte) (out []byte, n int, ok bool) {
	if len(b) < sealedPrefix+4 {
		return dst, 0, false
	}
	fl, err := envelope.FrameLen(b[sealedPrefix:])
	if err != nil {
		return dst, 0, false
	}
	n = sealedPrefix + fl
	if n > len(b) {
		return dst, n, false
	}
	off := int64(binary.BigEndian.Uint64(b))
	out, err = sealer.Open(dst, b[sealedPrefix:n], off, nil)
	if err != nil {
		return dst, n, false
	}
	return out, n, true
}

// sealRecord appends a sealed record of plaintext bound to offset off.
func sealRecord(dst []byte, sealer *envelope.Sealer, plaintext []byte, off int64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(off))
	return sealer.Seal(dst, plaintext, off, nil)
}

// sealSnapshot turns a snapshot's bytes into a sealed file's bytes.
func (s *Store) sealSnapshot(name string, data []byte, off int64) ([]byte, error) {
	hdr, sealer, err := s.opts.Sealing.NewFile(envelope.KindSnapshot, name)
	if err != nil {
		return nil, fmt.Errorf("meta: data key for %s: %w", name, err)
	}
	defer sealer.Close()
	return sealRecord(hdr, sealer, data, off), nil
}

// unsealSnapshot returns a snapshot file's plaintext bytes.
func (s *Store) unsealSnapshot(name string, data []byte, off int64) ([]byte, error) {
	sealer, sealed, err := s.openSealedFile(name, data)
	if err != nil || !sealed {
		return data, err
	}
	defer sealer.Close()
	plain, n, ok := openRecord(sealer, data[envelope.HeaderSize:], nil)
	if !ok || envelope.HeaderSize+n != len(data) {
		return nil, fmt.Errorf("%w snapshot %s: %v", ErrCorrupt, name, envelope.ErrTampered)
	}
	return plain, nil
}
