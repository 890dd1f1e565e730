// Package stats holds the counters the broker keeps for its metrics: plain atomics the hot path
// bumps through pointers resolved once (a partition holds its topic's counters, a connection its
// listener's), never a label lookup by string. It knows nothing of Prometheus; package metrics
// reads these values at scrape time and names them.
//
// Every type is safe for concurrent use, and every method accepts a nil receiver and does
// nothing, so a broker running without metrics passes nil and pays one branch.
package stats
