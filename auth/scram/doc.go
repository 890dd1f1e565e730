// Package scram is the server side of SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as
// Kafka speaks them, and the derivation of the stored credential (salt, StoredKey, ServerKey,
// iterations) from a password or a salted password.
//
// Kafka compatibility: a client-final nonce is accepted when it ends with the server's combined
// nonce (librdkafka sends its own nonce again in front, and Kafka accepts that); channel binding
// and the delegation-token extension are refused. An unknown user gets a stable fake salt and
// fails at the proof, exactly like a wrong password.
//
// A Mechanism is safe for concurrent use; each Session belongs to one connection.
package scram
