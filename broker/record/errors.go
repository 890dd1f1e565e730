package record

import "errors"

// Sentinel errors. Every error this package returns wraps exactly one of them (test with
// errors.Is); ErrorCode maps them to Kafka error codes.
var (
	// ErrShort means the input ends before a whole header or batch; when walking a stream of
	// batches it marks the (possibly torn) end.
	ErrShort = errors.New("record: short batch")
	// ErrCorrupt means the bytes are damaged: a CRC mismatch or an impossible batch length.
	// Kafka answers CORRUPT_MESSAGE, which clients retry.
	ErrCorrupt = errors.New("record: corrupt batch")
	// ErrInvalidRecord means the batch is well formed on the wire but breaks a rule a client
	// produce must follow. Kafka answers INVALID_RECORD, which clients do not retry.
	ErrInvalidRecord = errors.New("record: invalid record")
	// ErrTooLarge means the batch exceeds max.message.bytes.
	ErrTooLarge = errors.New("record: batch too large")
	// ErrUnsupportedCompression means an unknown codec, or zstd on a Produce version below 7.
	ErrUnsupportedCompression = errors.New("record: unsupported compression")
)

// Kafka error codes from Errors.java, kept here so the package does not depend on kerr.
const (
	codeNone                       int16 = 0
	codeCorruptMessage             int16 = 2
	codeMessageTooLarge            int16 = 10
	codeUnsupportedCompressionType int16 = 76
	codeInvalidRecord              int16 = 87
)

// ErrorCode maps an error from this package to the Kafka error code a Produce response
// carries: CORRUPT_MESSAGE (2), MESSAGE_TOO_LARGE (10), UNSUPPORTED_COMPRESSION_TYPE (76) or
// INVALID_RECORD (87). A nil error is 0 (NONE); any other error, ErrShort included, is
// INVALID_RECORD, which is what Kafka answers when a produce carries no whole batch.
func ErrorCode(err error) int16 {
	switch {
	case err == nil:
		return codeNone
	case errors.Is(err, ErrCorrupt):
		return codeCorruptMessage
	case errors.Is(err, ErrTooLarge):
		return codeMessageTooLarge
	case errors.Is(err, ErrUnsupportedCompression):
		return codeUnsupportedCompressionType
	default:
		return codeInvalidRecord
	}
}
