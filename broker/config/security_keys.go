package config

import "time"

// securityDefs are the TLS, SASL and authorization keys. They are parsed and validated now;
// the broker acts on them once authentication and authorization land.
func securityDefs() []*Def {
	str := func(f func(*Config) *string) opt { return setStr(f) }
	return []*Def{
		def("ssl.keystore.location", TypeString, "", "The broker's key store (file path).",
			noDefault, str(func(c *Config) *string { return &c.SSLKeystoreLocation })),
		def("ssl.keystore.type", TypeString, "JKS", "Key store format: JKS, PKCS12 or PEM.",
			check(oneOf(true, "JKS", "PKCS12", "PEM")), str(func(c *Config) *string { return &c.SSLKeystoreType })),
		def("ssl.keystore.password", TypePassword, "", "Key store password.",
			noDefault, str(func(c *Config) *string { return &c.SSLKeystorePassword })),
		def("ssl.key.password", TypePassword, "", "Private key password.",
			noDefault, str(func(c *Config) *string { return &c.SSLKeyPassword })),
		def("ssl.keystore.certificate.chain", TypePassword, "", "PEM certificate chain given inline (ssl.keystore.type=PEM).", noDefault),
		def("ssl.keystore.key", TypePassword, "", "PEM private key given inline (ssl.keystore.type=PEM).", noDefault),
		def("ssl.truststore.location", TypeString, "", "Trust store for client certificates (file path).",
			noDefault, str(func(c *Config) *string { return &c.SSLTruststoreLocation })),
		def("ssl.truststore.type", TypeString, "JKS", "Trust store format: JKS, PKCS12 or PEM.",
			check(oneOf(true, "JKS", "PKCS12", "PEM")), str(func(c *Config) *string { return &c.SSLTruststoreType })),
		def("ssl.truststore.password", TypePassword, "", "Trust store password.",
			noDefault, str(func(c *Config) *string { return &c.SSLTruststorePassword })),
		def("ssl.truststore.certificates", TypePassword, "", "PEM trusted certificates given inline.", noDefault),
		def("ssl.client.auth", TypeString, "none", "Client certificates: required, requested or none.",
			check(oneOf(false, "required", "requested", "none")), str(func(c *Config) *string { return &c.SSLClientAuth })),
		def("ssl.enabled.protocols", TypeList, "TLSv1.2,TLSv1.3", "TLS versions offered.",
			check(listOf(false, "TLSv1.2", "TLSv1.3")), setList(func(c *Config) *[]string { return &c.SSLEnabledProtocols })),
		def("ssl.protocol", TypeString, "TLSv1.3", "TLS protocol family.", noEffect, check(oneOf(false, "TLS", "TLSv1.2", "TLSv1.3"))),
		def("ssl.cipher.suites", TypeList, "", "TLS 1.2 cipher suites (empty: Go's secure defaults).",
			setList(func(c *Config) *[]string { return &c.SSLCipherSuites })),
		def("ssl.endpoint.identification.algorithm", TypeString, "https", "Host name verification of peers.", noEffect),
		def("ssl.principal.mapping.rules", TypeString, "DEFAULT", "Rules mapping a certificate's distinguished name to a principal name."),
		def("sasl.enabled.mechanisms", TypeList, "GSSAPI", "SASL mechanisms offered on SASL listeners (Bulwark implements SCRAM-SHA-256, SCRAM-SHA-512, PLAIN and AWS_MSK_IAM).",
			setList(func(c *Config) *[]string { return &c.SASLEnabledMechanisms })),
		def("sasl.mechanism.inter.broker.protocol", TypeString, "GSSAPI", "SASL mechanism between brokers.", noEffect),
		def("sasl.jaas.config", TypePassword, "", "JAAS login configuration; usually set per listener and mechanism.", noDefault, noEffect),
		def("sasl.kerberos.service.name", TypeString, "", "Kerberos service name.", noDefault, noEffect),
		def("super.users", TypeString, "", "Principals allowed everything, separated by ';' (User:alice;User:CN=admin).",
			noDefault, check(validSuperUsers), setFunc(func(c *Config, v string) { c.SuperUsers, _ = parseSuperUsers(v) })),
		def("allow.everyone.if.no.acl.found", TypeBoolean, "false", "Allow an operation on a resource that has no ACLs.",
			setBool(func(c *Config) *bool { return &c.AllowEveryoneIfNoACLFound })),
		def("authorizer.class.name", TypeString, "", "The authorizer; empty disables authorization.",
			str(func(c *Config) *string { return &c.AuthorizerClassName })),
		def("principal.builder.class", TypeClass, "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder", "Principal builder.", noEffect),
	}
}

// bulwarkDefs are Bulwark's own keys.
func bulwarkDefs() []*Def {
	return []*Def{
		def("bulwark.log.flush.acks.all", TypeBoolean, "true", "Answer an acks=all produce only after its batch is fsynced (group commit). false behaves like Kafka, which relies on replication.",
			setBool(func(c *Config) *bool { return &c.FlushAcksAll })),
		def("bulwark.metrics.listen", TypeString, "127.0.0.1:11001", "Address of the Prometheus metrics endpoint (the MSK open-monitoring port).",
			check(validHostPort), setStr(func(c *Config) *string { return &c.MetricsListen })),
		def("bulwark.shutdown.timeout.ms", TypeLong, "30000", "How long a graceful shutdown waits for in-flight requests.",
			check(atLeast(0)), setMs(func(c *Config) *time.Duration { return &c.ShutdownTimeout })),
	}
}
