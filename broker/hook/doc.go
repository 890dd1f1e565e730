// Package hook is the broker's observability seam: the typed events the broker emits (requests,
// connections, authentications, key-service calls, configuration changes) and the Dispatcher
// that hands them to the packages that observe them (metrics, audit).
//
// It is a leaf: it imports only the auth contract, so metrics/ and audit/ implement its
// interfaces without importing the broker.
//
// # Contract
//
//   - Registration is typed: a Registration names one value per event kind it observes; there is
//     no "any".
//   - A hook never runs on the request path. Each registration has its own goroutine and a bounded
//     queue, and it receives its events in the order they were emitted.
//   - The registration declares what happens when its queue is full: OverflowDrop (metrics: the
//     event is dropped and counted) or OverflowBlock (audit: the emitter waits, up to BlockTimeout,
//     then the event is dropped, counted as lost and logged at error level). Nothing is lost
//     silently, and no connection waits without bound.
//   - A panic in a hook is recovered, counted and logged with its stack; the hook keeps receiving
//     later events, and the process and the request path never see it.
//
// # Concurrency
//
// Emit methods are safe for concurrent use and never block longer than a registration's
// BlockTimeout. Hook methods of one registration are called from a single goroutine, never
// concurrently with each other.
package hook
