// Package auth holds what every authentication mechanism shares: the Principal, the SASL
// Mechanism/Session contract the broker drives, and Failure, whose precise reason goes to logs
// and audit but never to the client. The mechanisms live in subpackages (scram, plain, iam, mtls)
// and never import the broker; credentials reach them through small lookup interfaces the
// broker implements over its metadata store.
package auth
