package record

// Kafka's record fields use zigzag varints (ByteUtils.readVarint / readVarlong). These readers
// follow Kafka exactly: at most 5 bytes for a varint and 10 for a varlong, with excess high
// bits of the last byte dropped as Java's int and long shifts drop them.

const (
	maxVarintLen  = 5
	maxVarlongLen = 10
)

// readVarint decodes a zigzag varint from the start of b. It returns the value and the number
// of bytes read, or n = 0 if b ends first or the encoding is longer than 5 bytes.
func readVarint(b []byte) (v int32, n int) {
	var u uint32
	for shift := uint(0); n < maxVarintLen; shift += 7 {
		if n >= len(b) {
			return 0, 0
		}
		c := b[n]
		n++
		u |= uint32(c&0x7f) << shift
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), n
		}
	}
	return 0, 0
}

// readVarlong decodes a zigzag varlong from the start of b, like readVarint with 10 bytes.
func readVarlong(b []byte) (v int64, n int) {
	var u uint64
	for shift := uint(0); n < maxVarlongLen; shift += 7 {
		if n >= len(b) {
			return 0, 0
		}
		c := b[n]
		n++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), n
		}
	}
	return 0, 0
}

// appendVarint appends v as a zigzag varint.
func appendVarint(b []byte, v int32) []byte {
	return appendUvarint(b, uint64(uint32(v<<1)^uint32(v>>31)))
}

// appendVarlong appends v as a zigzag varlong.
func appendVarlong(b []byte, v int64) []byte {
	return appendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

func appendUvarint(b []byte, u uint64) []byte {
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// varintLen returns the encoded size of v as a zigzag varint.
func varintLen(v int32) int { return uvarintLen(uint64(uint32(v<<1) ^ uint32(v>>31))) }

// varlongLen returns the encoded size of v as a zigzag varlong.
func varlongLen(v int64) int { return uvarintLen(uint64(v<<1) ^ uint64(v>>63)) }

func uvarintLen(u uint64) int {
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
