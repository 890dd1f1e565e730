// Package plain is SASL PLAIN (RFC 4616) checked against SCRAM credentials: the password is
// salted and hashed with a stored credential's salt and iterations and compared with its
// StoredKey in constant time, so there is one credential store and no password is kept. Whether
// PLAIN may be offered without TLS is the broker's decision.
package plain
