// Package bench is the load generator behind `bulwark bench`: a producer
// throughput test in the spirit of Kafka's kafka-producer-perf-test combined
// with the end-to-end latency measurement of Kafka's EndToEndLatency tool.
//
// It talks to any Kafka broker through franz-go (kgo), so the same numbers can
// be taken against Bulwark and against Apache Kafka on the same machine.
//
// # What is measured
//
// Every record value starts with its send time (8 bytes, big-endian unix
// nanoseconds); the rest of the value is a pseudo-random payload generated once
// and reused. Produce latency is the time from the Produce call to the
// record's promise; end-to-end latency is the time from the Produce call to the
// consumer's poll returning the record. Records whose send time falls inside
// the warmup period are produced and consumed but excluded from every figure,
// so producer and consumer classify records identically by the embedded
// timestamp and "consumed vs produced" compares the same set.
//
// # Concurrency model
//
// Run owns the lifecycle. It starts one goroutine per producer, each with its
// own kgo.Client (so batching, compression and connections scale with
// producers), one goroutine per consumer, each with its own group-less
// kgo.Client assigned partitions directly, an optional RSS sampler goroutine
// and a progress goroutine. Producers share only the rate limiter, whose state
// is guarded by a single mutex held for a few arithmetic operations and never
// while sleeping. Promises run on kgo's promise goroutine of the owning client;
// they return the record to the producer's free list (a buffered channel, never
// blocking) and update counters and histograms through atomics, so figures
// can be read by the progress goroutine while the run is in flight. There are
// no other locks, so there is no lock ordering to respect.
package bench
