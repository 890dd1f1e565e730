// Package opa is the Open Policy Agent authorization engine, compatible with opa-kafka-plugin:
// the same input document (action and requestContext, reference §5 of the facts) and the same
// decision, data.kafka.authz.allow, so policies written for Kafka's OPA authorizer run unchanged.
//
// Two evaluators sit behind one Engine: Embedded compiles the Rego files (and JSON/YAML data
// files) of a directory with OPA's Go library into a prepared query, and checks the directory
// for changes, swapping in the new policy without a restart (a policy that does not compile is
// logged and the previous one kept); Remote asks an `opa run --server` decision URL with a
// timeout, failing closed unless allow-on-error is set, and watches the server's policies and
// data for changes.
//
// Decisions are cached on everything in the input that can differ between two requests of the
// same kind (principal, client address and software, listener, connection id, client id, API key
// and version, operation, resource), leaving out only the correlation id and the reference count,
// which differ on every request. The cache is dropped whenever the policy or its data changes,
// and entries also expire after opa.authorizer.cache.expire.after.seconds. Errors are never
// cached.
//
// "Decided by" names the query and its answer, the policy revision, and, on a denial, the
// package's optional `reason` rule (a string or a set of strings) when the policy defines one.
package opa
