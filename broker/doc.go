// Package broker is Bulwark's Kafka protocol server: listeners, connections, the request
// pipeline and one handler per Kafka API (files named by API key, NN_name.go).
//
// # Request path
//
// A connection's reader goroutine reads a size-capped frame (a small cap until the connection
// has authenticated), decodes the header and body with kmsg, refuses anything but the
// pre-authentication APIs before authentication, and runs the handler. Handlers answer with
// Kafka error codes inside the response; a Go error, a malformed frame or an unknown API closes
// the connection with a log line, as Kafka does. The handler table (handlers.go) drives both
// dispatch and the ApiVersions answer.
//
// # Concurrency
//
//   - Per connection: one reader goroutine handles requests in order (so appends and fetch
//     session updates happen in request order) and one writer goroutine writes responses in the
//     same order. A reply that must wait (acks=all fsync, Fetch long poll) runs on its own
//     goroutine; the writer waits for it before writing anything later. At most maxInFlight
//     requests per connection are outstanding.
//   - cluster (cluster.go): adminMu serializes topic changes, which commit to the metadata log
//     before the in-memory maps change; mu (an RWMutex) guards the maps. Lock order: adminMu, mu.
//     Topic values are replaced, never mutated, so a handler holding one sees a consistent view.
//   - Each partition log synchronizes itself (package broker/log).
//   - fetchSessionCache has its own mutex; each session has one too, taken after the cache's.
//
// # Hooks and quotas
//
// Observability plugs in through typed registrations of package broker/hook (WithHook): request,
// connection, authentication, key-service and configuration events, each observer behind its own
// bounded queue; this package imports no metrics or audit package. Client quotas (package
// broker/quota, wired in quotas.go) are checked on the reader goroutine after each handler; a
// throttled connection's reader stops reading until the throttle ends (KIP-219).
//
// # Authorization
//
// The broker asks an authz.Authorizer (WithAuthorizer; the engines live in acl/ and are wired by
// cmd/bulwark) and never imports an engine. Each handler collects the (operation, resource)
// actions its request needs in an authBatch (authorize.go), asks once, and answers refused parts
// with Kafka's error codes; with no authorizer the batch is nil and everything is allowed. The
// coordinator adapters (groups_api.go, txn_api.go, authorize_coord.go) authorize before the group
// and transaction coordinators see a request, hand them only the allowed part, and filter what
// their answers reveal. ACLs and IAM policies live in the metadata log and are pushed to the
// engines in log order (syncACLs); the ACL APIs are 29–31 (30_create_acls.go). A topic policy
// (WithTopicPolicy) checks topic creations and config changes.
package broker
