package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/internal/bufpool"
)

// Frame errors. Each one means the connection is closed: Kafka answers a frame it cannot parse
// by dropping the connection, never with a response.
var (
	errFrameTooLarge   = errors.New("broker: frame exceeds size cap")
	errFrameNegative   = errors.New("broker: negative frame size")
	errHeaderShort     = errors.New("broker: request header truncated")
	errUnknownAPIKey   = errors.New("broker: unknown api key")
	errBodyMalformed   = errors.New("broker: malformed request body")
	errVersionDisabled = errors.New("broker: unsupported api version")
)

// readFrame reads one size-prefixed frame. The size is checked against limit before anything is
// allocated, so a peer cannot make the broker allocate more than limit bytes per frame; the cap
// is the small pre-authentication one until the connection has authenticated.
//
// buf is reused when it is large enough, so a connection does not allocate a fresh buffer per
// request; the caller must not keep the previous frame. A frame larger than buf comes from
// bufpool; the caller keeps it as its next buf or, if it is too large to keep, returns it to the
// pool once the request is handled (see conn.readLoop).
func readFrame(r io.Reader, sizeBuf *[4]byte, limit int32, buf []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	switch {
	case size < 0:
		return nil, errFrameNegative
	case size > limit:
		return nil, fmt.Errorf("%w: %d > %d bytes", errFrameTooLarge, size, limit)
	}
	if int(size) <= cap(buf) {
		buf = buf[:size]
	} else {
		buf = bufpool.Get(int(size))
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// requestHeader is the decoded Kafka request header (v1 or v2; v0 is only ControlledShutdown v0,
// which this broker does not serve).
type requestHeader struct {
	key           int16
	version       int16
	correlationID int32
	clientID      string
	// id is the request id: in the broker log, the hooks and authorization failure messages.
	id string
}

// parseRequest decodes a request frame: the header, then (if allowed accepts the API key) the
// body with kmsg. It returns the header even when decoding fails so the caller can log which
// request was bad. allowed is the pre-authentication gate: a key it refuses is reported with
// errNotAuthenticated before a single byte of the body is decoded.
//
// ApiVersions is special (KIP-511): any version is accepted, and for a version newer than the
// broker serves the body is not parsed at all; the handler answers with a v0 error body.
func parseRequest(frame []byte, table *handlerTable, allowed func(*apiEntry) bool) (requestHeader, kmsg.Request, error) {
	h, rest, err := parseHeader(frame)
	if err != nil {
		return h, nil, err
	}
	req := kmsg.RequestForKey(h.key)
	if req == nil {
		return h, nil, fmt.Errorf("%w %d", errUnknownAPIKey, h.key)
	}
	entry, ok := table.lookup(h.key)
	if !ok {
		return h, nil, fmt.Errorf("%w: key %d v%d", errVersionDisabled, h.key, h.version)
	}
	if allowed != nil && !allowed(entry) {
		return h, nil, errNotAuthenticated
	}
	if h.key == apiKeyApiVersions && h.version > entry.max {
		// The header of any future ApiVersions is v2 (flexible), but the body is not read.
		req.SetVersion(entry.max)
		return h, req, nil
	}
	if h.version < entry.min || h.version > entry.max {
		return h, nil, fmt.Errorf("%w: key %d v%d", errVersionDisabled, h.key, h.version)
	}
	req.SetVersion(h.version)
	if req.IsFlexible() {
		if rest, err = skipTags(rest); err != nil {
			return h, nil, err
		}
	}
	// kmsg (third_party/kmsg, patched) refuses any count the remaining input cannot hold before
	// it loops or allocates on it, so decoding costs at most a constant per byte of the frame,
	// which the frame cap bounds: before authentication too (docs/THREAT_MODEL.md).
	if err := req.ReadFrom(rest); err != nil {
		return h, nil, fmt.Errorf("%w: key %d v%d: %v", errBodyMalformed, h.key, h.version, err)
	}
	return h, req, nil
}

// parseHeader decodes a v1/v2 request header up to the client id; it returns the rest.
func parseHeader(frame []byte) (requestHeader, []byte, error) {
	var h requestHeader
	if len(frame) < 10 {
		return h, nil, errHeaderShort
	}
	h.key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.correlationID = int32(binary.BigEndian.Uint32(frame[4:]))
	idLen := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[10:]
	switch {
	case idLen > 0 && int(idLen) > len(rest), idLen < -1:
		return h, nil, errHeaderShort
	case idLen > 0:
		h.clientID = string(rest[:idLen])
		rest = rest[idLen:]
	}
	return h, rest, nil
}

// skipTags skips a tagged-field section (KIP-482): a count, then (tag, size, bytes) per field.
// Request-header tags carry nothing this broker uses.
func skipTags(b []byte) ([]byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(b)) { // every tag takes at least two bytes
		return nil, errHeaderShort
	}
	for i := uint64(0); i < n; i++ {
		if _, b, err = uvarint(b); err != nil { // tag
			return nil, err
		}
		var size uint64
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, errHeaderShort
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errHeaderShort
	}
	return v, b[n:], nil
}

// appendResponse frames a response: size, correlation id, the response-header tag section for
// flexible responses (never for ApiVersions, whose response header is always v0), then the body.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != apiKeyApiVersions {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
