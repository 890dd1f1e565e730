package bufpool

import (
	"math/bits"
	"sync/atomic"
)

// Size classes: buffers from MinPooled to MaxPooled bytes are pooled, each in the smallest
// power-of-two class that holds it. Smaller ones cost little to allocate; larger ones are rare
// (a single-partition fetch of over 64 MiB) and would pin too much if kept.
const (
	minShift  = 16 // 64 KiB
	maxShift  = 26 // 64 MiB
	MinPooled = 1 << minShift
	MaxPooled = 1 << maxShift
	// MaxRetained bounds the bytes the pool keeps between uses, so that it adds at most this
	// much to the broker's resident memory; a buffer Put beyond it is left to the collector.
	MaxRetained = 32 << 20
)

// free holds, per class, the buffers waiting for reuse. Each channel could hold MaxRetained
// bytes of its class alone; retained enforces the bound across classes.
var (
	free     [maxShift - minShift + 1]chan []byte
	retained atomic.Int64
)

func init() {
	for i := range free {
		free[i] = make(chan []byte, max(1, MaxRetained>>(i+minShift)))
	}
}

// class returns the pool index for a buffer that holds at least n bytes, and whether n is in the
// pooled range.
func class(n int) (int, bool) {
	if n < MinPooled || n > MaxPooled {
		return 0, false
	}
	shift := bits.Len(uint(n - 1)) // smallest power of two >= n
	return shift - minShift, true
}

// Get returns a buffer of length n. Its contents are undefined: the caller overwrites it.
func Get(n int) []byte {
	i, ok := class(n)
	if !ok {
		return make([]byte, n)
	}
	select {
	case b := <-free[i]:
		retained.Add(-int64(cap(b)))
		return b[:n]
	default:
		return make([]byte, n, 1<<(i+minShift))
	}
}

// poisonByte is what Put fills a buffer with in race-detector builds (see poison).
const poisonByte = 0xA5

// Put returns b's storage for reuse. The caller must hold the only reference to it: nothing may
// read or write b, or any slice of its storage, afterwards. Buffers whose capacity is not exactly
// a pooled class (slices from the middle of one, or buffers allocated elsewhere), and buffers
// beyond MaxRetained, are left to the garbage collector.
func Put(b []byte) {
	c := cap(b)
	if c < MinPooled || c > MaxPooled || c&(c-1) != 0 {
		return
	}
	if retained.Add(int64(c)) > MaxRetained {
		retained.Add(-int64(c))
		return
	}
	if poison {
		full := b[:c]
		for j := range full {
			full[j] = poisonByte
		}
	}
	i, _ := class(c)
	select {
	case free[i] <- b[:0]:
	default:
		retained.Add(-int64(c))
	}
}
