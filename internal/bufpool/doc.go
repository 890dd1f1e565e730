// Package bufpool recycles the large byte buffers of the fetch path and of large requests.
//
// A consumer that is behind reads megabytes per Fetch: a buffer for the segment bytes, then the
// response written to its socket. Allocating each one anew costs the zeroing of every byte and a
// garbage-collection cycle every few fetches, more CPU than the read itself (docs/benchmarks.md,
// "Where the time goes"). Get hands out buffers in power-of-two size classes; Put takes one back
// once nothing refers to it. A buffer that is never Put is simply collected, so callers that do
// not know a buffer's lifetime may drop it.
//
// The pool keeps at most MaxRetained bytes (32 MiB) between uses: a bound on what it adds to the
// broker's resident memory, which sync.Pool would not give under a burst of large fetches.
//
// Request frames over what a connection keeps come from here too, and go back as soon as the
// request is handled: a buffer is then another connection's next request, so a caller that reads
// one after Put would see someone else's data. In race-detector builds (the test suite's) Put
// fills each buffer with a pattern first, so such a caller fails its tests.
package bufpool
