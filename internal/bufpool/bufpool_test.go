package bufpool

import "testing"

func TestGetSizes(t *testing.T) {
	for _, n := range []int{0, 1, MinPooled - 1, MinPooled, MinPooled + 1, 3 << 20, MaxPooled, MaxPooled + 1} {
		b := Get(n)
		if len(b) != n {
			t.Fatalf("Get(%d): len %d", n, len(b))
		}
		if n >= MinPooled && n <= MaxPooled {
			if c := cap(b); c&(c-1) != 0 || c < n || c >= 2*n && n > MinPooled {
				t.Fatalf("Get(%d): cap %d is not the smallest power-of-two class", n, c)
			}
		}
		Put(b)
	}
}

func TestPutReusesStorage(t *testing.T) {
	b := Get(100 << 10)
	first := &b[0]
	Put(b)
	c := Get(70 << 10)
	if cap(c) != 128<<10 || &c[:1][0] != first {
		t.Fatal("a buffer put back was not handed out again")
	}
	Put(c)
}

func TestRetainedIsBounded(t *testing.T) {
	var bufs [][]byte
	for range 2 * MaxRetained / (4 << 20) {
		bufs = append(bufs, Get(4<<20))
	}
	for _, b := range bufs {
		Put(b)
	}
	if got := retained.Load(); got > MaxRetained {
		t.Fatalf("retained %d bytes, bound %d", got, MaxRetained)
	}
	if got := len(free[6]); got*(4<<20) > MaxRetained { // class 6: 4 MiB
		t.Fatalf("%d buffers of 4 MiB kept", got)
	}
	for range len(free[6]) {
		Get(4 << 20)
	}
	// What is retained is exactly what waits in the free lists.
	var held int64
	for i := range free {
		held += int64(len(free[i])) << (i + minShift)
	}
	if got := retained.Load(); got != held {
		t.Fatalf("retained counts %d bytes, the free lists hold %d", got, held)
	}
}

func TestPutIgnoresForeignBuffers(t *testing.T) {
	whole := Get(256 << 10)
	Put(whole[1:])              // capacity not a class: dropped
	Put(make([]byte, 10))       // too small: dropped
	Put(make([]byte, 0, 3<<20)) // not a power of two: dropped
	for i := 0; i < 10; i++ {
		if b := Get(3 << 20); cap(b) != 4<<20 {
			t.Fatalf("Get(3 MiB) handed out capacity %d", cap(b))
		}
	}
}
