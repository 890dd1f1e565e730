// Package mtls turns a verified client certificate into a principal as Kafka does: the subject
// formatted like Java's X500Principal.getName() (RFC 2253, most specific attribute first, in the
// certificate's own order), then shaped by ssl.principal.mapping.rules (DEFAULT, or
// RULE:pattern/replacement/ with an optional L or U; the first rule whose pattern matches the
// whole name wins; no match refuses the connection). Patterns use Go's RE2 syntax, which accepts
// the patterns Kafka's documentation shows; Java-only constructs (look-around, backreferences)
// are refused when the rules are parsed.
package mtls
