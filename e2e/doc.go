// Package e2e holds Bulwark's end-to-end tests: they build the real bulwark binary, run it as a
// separate process on 127.0.0.1 with a generated server.properties file, and drive it with
// unmodified external Kafka clients — kcat (librdkafka), kafka-python and confluent-kafka-python
// run with the Debian /usr/bin/python3 — and with franz-go for the crash and drain tests, which
// kill or stop the process and check that every acknowledged record survives a restart.
//
// The package has no non-test code besides this file. Its tests run only when BULWARK_E2E is set
// (scripts/test.sh sets it and installs the clients first); otherwise the whole package skips
// with a message, so a plain `go test ./...` on a developer machine needs no external tools. When
// BULWARK_E2E is set, a missing client is a test failure, never a skip. BULWARK_E2E_RACE=1 builds
// the broker binary with the race detector; BULWARK_E2E_PYTHON overrides /usr/bin/python3.
//
// The harness's own franz-go clients (topic creation, reading logs back, the crash and drain
// producers) cap request versions at Kafka 4.0's, so a negotiation bug shows up once, in
// TestFranzGoDefaults, instead of failing every test before it reaches what it checks.
//
// Concurrency model: every test owns its broker processes. A process's combined stdout and stderr
// go to one mutex-guarded buffer (printed when the test fails) that also watches for the
// `msg=listening` line to learn the bound port; one goroutine per process waits for its exit and
// closes a channel. Tests poll with deadlines; sleeps only choose kill points.
package e2e
