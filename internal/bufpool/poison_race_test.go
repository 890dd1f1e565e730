//go:build race

package bufpool

import "testing"

// In race-detector builds (the test suite's) Put poisons what it takes back, so a caller that
// keeps reading a buffer after Put sees garbage in tests.
func TestPutPoisonsUnderTheRaceDetector(t *testing.T) {
	b := Get(64 << 10)
	for i := range b {
		b[i] = 1
	}
	kept := b
	Put(b)
	if kept[0] != poisonByte || kept[len(kept)-1] != poisonByte {
		t.Fatalf("a buffer put back still reads %d, %d", kept[0], kept[len(kept)-1])
	}
	_ = Get(64 << 10) // take it back out, so later tests start from an empty class
}
