// Package tlsconf builds a listener's *tls.Config from Kafka-style PEM settings (key store, trust
// store, client auth, protocols, cipher suites) and reloads the certificate and trust store from
// disk when the files change, so certificates rotate without a restart. TLS 1.2 is the floor.
package tlsconf
