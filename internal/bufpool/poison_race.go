//go:build race

package bufpool

// poison is on in race-detector builds (the test suite's): Put fills a buffer with poisonByte
// before the pool takes it, so a caller that breaks Put's contract and still reads the buffer
// (a handler keeping request bytes past its return, say) sees garbage in a test instead of
// another request's data in production.
const poison = true
