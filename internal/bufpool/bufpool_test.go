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
	// sync.Pool may drop items at any time, so reuse is checked over several tries.
	for try := 0; try < 100; try++ {
		b := Get(100 << 10)
		b[0] = 42
		Put(b)
		c := Get(70 << 10)
		if cap(c) == 128<<10 && c[:1][0] == 42 {
			return
		}
	}
	t.Fatal("a buffer put back was never handed out again")
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
