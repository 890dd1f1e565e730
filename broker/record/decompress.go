package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

const (
	// DefaultMaxUncompressedBytes caps decompression when a caller passes no limit.
	DefaultMaxUncompressedBytes = 64 << 20
	// scratchRetainBytes is the largest buffer a Scratch keeps between calls. A pooled Scratch
	// that once decompressed a huge batch would otherwise pin that memory for good.
	scratchRetainBytes = 8 << 20
	// minGrow is the first buffer size for a stream decoder whose output size is unknown.
	minGrow = 16 << 10
	// maxZeroReads bounds how often a decoder may return no bytes and no error in a row.
	maxZeroReads = 64
)

// xerialMagic starts snappy data framed by snappy-java (xerial), which the Java client
// produces: the magic, then a 4-byte version and a 4-byte compatible version, then chunks of
// a 4-byte big-endian length and a raw snappy block. Other clients (librdkafka, franz-go)
// send one raw snappy block; Kafka accepts both.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

// errTooBig reports a decompressed size over the caller's cap.
var errTooBig = errors.New("decompressed size exceeds the limit")

// Scratch holds buffers and decoders reused across validations of compressed batches. The zero
// value is ready to use. A Scratch is not safe for concurrent use; give each goroutine its own,
// or keep them in a sync.Pool.
type Scratch struct {
	buf       []byte
	src       bytes.Reader
	gz        *gzip.Reader
	lz        *lz4.Reader
	zd        *zstd.Decoder
	zstdLimit int // the WithDecoderMaxMemory zd was last set up with
}

// decompress decodes the records area src of a batch with codec c into the scratch buffer
// and returns it. The output never exceeds limit bytes (limit <= 0 means
// DefaultMaxUncompressedBytes); going over, or any decoding failure, is ErrInvalidRecord,
// since the CRC already showed these are the bytes the client meant to send.
func (s *Scratch) decompress(c Codec, src []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxUncompressedBytes
	}
	var (
		out []byte
		err error
	)
	switch c {
	case CodecGzip:
		out, err = s.gunzip(src, limit)
	case CodecSnappy:
		out, err = s.unsnappy(src, limit)
	case CodecLz4:
		out, err = s.unlz4(src, limit)
	case CodecZstd:
		out, err = s.unzstd(src, limit)
	default:
		return nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, int8(c))
	}
	s.src.Reset(nil) // drop the reference to the client's buffer
	if err != nil {
		return nil, invalidf("decompressing %s: %v", c, err)
	}
	return out, nil
}

// release drops a buffer too large to keep pooled. It is called once the caller is done with
// the slice decompress returned.
func (s *Scratch) release() {
	if cap(s.buf) > scratchRetainBytes {
		s.buf = nil
	}
}

func (s *Scratch) gunzip(src []byte, limit int) ([]byte, error) {
	s.src.Reset(src)
	if s.gz == nil {
		gz, err := gzip.NewReader(&s.src)
		if err != nil {
			return nil, err
		}
		s.gz = gz
	} else if err := s.gz.Reset(&s.src); err != nil {
		return nil, err
	}
	return s.readAll(s.gz, len(src), limit)
}

func (s *Scratch) unlz4(src []byte, limit int) ([]byte, error) {
	s.src.Reset(src)
	if s.lz == nil {
		s.lz = lz4.NewReader(&s.src)
	} else {
		s.lz.Reset(&s.src)
	}
	out, err := s.readAll(s.lz, len(src), limit)
	s.lz.Reset(nil) // return the block buffer to lz4's pool
	return out, err
}

func (s *Scratch) unzstd(src []byte, limit int) ([]byte, error) {
	s.src.Reset(src)
	// The decoder runs synchronously (concurrency 1, so it starts no goroutines and needs no
	// Close). In streaming mode WithDecoderMaxMemory caps the window, which bounds the history
	// ring the decoder allocates, at the limit.
	var err error
	switch {
	case s.zd == nil:
		s.zd, err = zstd.NewReader(&s.src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(uint64(limit)))
	case s.zstdLimit != limit:
		err = s.zd.ResetWithOptions(&s.src, zstd.WithDecoderMaxMemory(uint64(limit)))
	default:
		err = s.zd.Reset(&s.src)
	}
	if err != nil {
		s.zd = nil
		return nil, err
	}
	s.zstdLimit = limit
	out, err := s.readAll(s.zd, len(src), limit)
	if rerr := s.zd.Reset(nil); rerr != nil || largeZstdWindow(src) {
		// The decoder keeps a ring of one window (which may be up to the limit) for reuse;
		// drop it rather than pin a large one in a pooled Scratch.
		s.zd = nil
	}
	return out, err
}

// largeZstdWindow reports whether the first zstd frame in src declares a window larger than a
// Scratch should keep. Streaming producers that do not know the size up front (the Java
// client) declare windows by compression level: 2 MiB at the default level 3, up to 128 MiB.
func largeZstdWindow(src []byte) bool {
	var h zstd.Header
	return h.Decode(src) == nil && !h.SingleSegment && h.WindowSize > scratchRetainBytes
}

// unsnappy decodes raw snappy or xerial-framed snappy. Decoded lengths are declared up front
// in snappy, so each is checked against the limit before the buffer grows. The strict decoder
// rejects the s2 extensions that a plain snappy decoder (a Java consumer's) would refuse.
func (s *Scratch) unsnappy(src []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return s.snappyBlock(s.buf[:0], src, limit)
	}
	if len(src) < xerialHeaderLen {
		return nil, errors.New("truncated xerial header")
	}
	out := s.buf[:0]
	var err error
	for rest := src[xerialHeaderLen:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, errors.New("truncated xerial chunk length")
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return nil, fmt.Errorf("xerial chunk of %d bytes with %d left", n, len(rest))
		}
		if out, err = s.snappyBlock(out, rest[:n], limit); err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	return out, nil
}

// snappyBlock appends the decoding of one raw snappy block to out.
func (s *Scratch) snappyBlock(out, block []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n > limit-len(out) {
		return nil, errTooBig
	}
	out = s.grow(out, len(out)+n, limit)
	start := len(out)
	if _, err := snappy.DecodeStrict(out[start:start+n], block); err != nil {
		return nil, err
	}
	return out[:start+n], nil
}

// readAll reads r to the end into the scratch buffer, never holding more than limit+1 bytes:
// one byte over the limit is enough to know the output is too large.
func (s *Scratch) readAll(r io.Reader, srcLen, limit int) ([]byte, error) {
	out := s.buf[:0]
	zeroReads := 0
	for {
		if len(out) == cap(out) {
			if len(out) > limit {
				return nil, errTooBig
			}
			// Compressed records typically expand a few times; start from that guess.
			out = s.grow(out, min(max(len(out)+1, 4*srcLen), limit+1), limit+1)
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		switch {
		case len(out) > limit:
			return nil, errTooBig
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, err
		case n == 0:
			if zeroReads++; zeroReads > maxZeroReads {
				return nil, io.ErrNoProgress
			}
		default:
			zeroReads = 0
		}
	}
}

// grow returns out with capacity for at least need bytes, keeping its contents, and
// remembers the buffer in the scratch for reuse. It grows by doubling (at least to minGrow),
// never past ceiling; need must not exceed ceiling.
func (s *Scratch) grow(out []byte, need, ceiling int) []byte {
	if cap(out) >= need {
		return out
	}
	grown := make([]byte, len(out), min(max(need, 2*cap(out), minGrow), ceiling))
	copy(grown, out)
	s.buf = grown
	return grown
}
