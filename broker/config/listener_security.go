package config

import (
	"fmt"
	"strconv"
	"strings"
)

// saslMechanisms are the SASL mechanisms Bulwark implements.
var saslMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "AWS_MSK_IAM", "OAUTHBEARER"}

// ListenerSecurity is the security set-up of one listener: its protocol and the TLS and SASL
// settings after listener.name.<listener>.<key> overrides, as Kafka resolves them.
type ListenerSecurity struct {
	Name     string
	Protocol string // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL

	// TLS (SSL and SASL_SSL).
	KeystoreType     string // PEM is the only type Bulwark reads
	KeystoreLocation string // PEM file holding the certificate chain and the private key
	KeystoreCertPEM  string // ssl.keystore.certificate.chain, inline
	KeystoreKeyPEM   string // ssl.keystore.key, inline
	KeyPassword      string // ssl.key.password
	TruststoreType   string
	TruststoreFile   string // ssl.truststore.location
	TruststorePEM    string // ssl.truststore.certificates, inline
	ClientAuth       string // required, requested or none
	Protocols        []string
	CipherSuites     []string
	PrincipalRules   string // ssl.principal.mapping.rules

	// SASL (SASL_PLAINTEXT and SASL_SSL).
	Mechanisms []string
	ReauthMs   string // connections.max.reauth.ms for this listener
}

// TLS reports whether the listener speaks TLS.
func (l ListenerSecurity) TLS() bool { return l.Protocol == "SSL" || l.Protocol == "SASL_SSL" }

// SASL reports whether the listener authenticates with SASL.
func (l ListenerSecurity) SASL() bool {
	return l.Protocol == "SASL_PLAINTEXT" || l.Protocol == "SASL_SSL"
}

// listenerOverride returns listener.name.<listener>.<key> when it is set.
func (c *Config) listenerOverride(listener, key string) (string, bool) {
	v, ok := c.Values["listener.name."+strings.ToLower(listener)+"."+key]
	return v, ok
}

// ListenerValue returns key's value for a listener: listener.name.<listener>.<key> when set,
// else the broker-wide value (or its default).
func (c *Config) ListenerValue(listener, key string) string {
	if v, ok := c.listenerOverride(listener, key); ok {
		return v
	}
	v, _ := c.Get(key)
	return v
}

// ListenerSecurity resolves the security settings of the named listener: a listener override
// when set, else the broker-wide typed field.
func (c *Config) ListenerSecurity(listener string) ListenerSecurity {
	str := func(key, typed string) string {
		if v, ok := c.listenerOverride(listener, key); ok {
			return v
		}
		return typed
	}
	list := func(key string, typed []string) []string {
		if v, ok := c.listenerOverride(listener, key); ok {
			return splitList(v)
		}
		return typed
	}
	v := func(k string) string { return c.ListenerValue(listener, k) }
	return ListenerSecurity{
		Name:             listener,
		Protocol:         c.SecurityProtocolMap[listener],
		KeystoreType:     strings.ToUpper(str("ssl.keystore.type", c.SSLKeystoreType)),
		KeystoreLocation: str("ssl.keystore.location", c.SSLKeystoreLocation),
		KeystoreCertPEM:  v("ssl.keystore.certificate.chain"),
		KeystoreKeyPEM:   v("ssl.keystore.key"),
		KeyPassword:      str("ssl.key.password", c.SSLKeyPassword),
		TruststoreType:   strings.ToUpper(str("ssl.truststore.type", c.SSLTruststoreType)),
		TruststoreFile:   str("ssl.truststore.location", c.SSLTruststoreLocation),
		TruststorePEM:    v("ssl.truststore.certificates"),
		ClientAuth:       str("ssl.client.auth", c.SSLClientAuth),
		Protocols:        list("ssl.enabled.protocols", c.SSLEnabledProtocols),
		CipherSuites:     list("ssl.cipher.suites", c.SSLCipherSuites),
		PrincipalRules:   v("ssl.principal.mapping.rules"),
		Mechanisms:       list("sasl.enabled.mechanisms", c.SASLEnabledMechanisms),
		ReauthMs:         str("connections.max.reauth.ms", strconv.FormatInt(c.ConnectionsMaxReauth.Milliseconds(), 10)),
	}
}

// validBootstrapUsers checks "user:password,user2:password2".
func validBootstrapUsers(v string) error {
	_, err := parseBootstrapUsers(v)
	return err
}

func parseBootstrapUsers(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range splitList(v) {
		user, pass, ok := strings.Cut(item, ":")
		if !ok || user == "" || pass == "" {
			return nil, fmt.Errorf("entry %d is not user:password", len(out)+1)
		}
		if _, dup := out[user]; dup {
			return nil, fmt.Errorf("user %q is listed twice", user)
		}
		out[user] = pass
	}
	return out, nil
}

// ListenerMaxConnections is listener.name.<listener>.max.connections, or MaxInt32 (no
// per-listener limit) when it is not set.
func (c *Config) ListenerMaxConnections(listener string) int32 {
	v, ok := c.listenerOverride(listener, "max.connections")
	if !ok {
		return 1<<31 - 1
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 1<<31 - 1 // checked when the file was parsed; unreachable
	}
	return int32(n)
}
