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
		def("sasl.enabled.mechanisms", TypeList, "SCRAM-SHA-256,SCRAM-SHA-512", "SASL mechanisms offered on SASL listeners: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN, AWS_MSK_IAM and OAUTHBEARER (an MSK IAM token). Bulwark default SCRAM-SHA-256,SCRAM-SHA-512 (Kafka: GSSAPI, which Bulwark does not implement).",
			check(listOf(true, saslMechanisms...)), setList(func(c *Config) *[]string { return &c.SASLEnabledMechanisms })),
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
		def("bulwark.sasl.plain.allow.plaintext", TypeBoolean, "false", "Offer PLAIN on SASL_PLAINTEXT listeners, where the password crosses the network in the clear. PLAIN is always offered over TLS when enabled.",
			setBool(func(c *Config) *bool { return &c.PlainAllowPlaintext })),
		def("bulwark.authentication.timeout.ms", TypeLong, "10000", "Longest a new connection may take to finish its TLS handshake and SASL authentication before it is closed.",
			check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.AuthenticationTimeout })),
		def("bulwark.ssl.reload.check.ms", TypeLong, "5000", "How often certificate, key and trust store files are checked for changes; a changed file is used by the next TLS handshake.",
			check(atLeast(100)), setMs(func(c *Config) *time.Duration { return &c.SSLReloadCheck })),
		def("bulwark.iam.region", TypeString, "us-east-1", "Region an AWS_MSK_IAM or OAUTHBEARER signature must be scoped to.",
			setStr(func(c *Config) *string { return &c.IAMRegion })),
		def("bulwark.iam.max.clock.skew.ms", TypeLong, "300000", "Largest difference allowed between a signature's date and the broker's clock.",
			check(atLeast(0)), setMs(func(c *Config) *time.Duration { return &c.IAMMaxSkew })),
		def("bulwark.iam.hosts", TypeList, "", "Host names an IAM signature may name besides the advertised listener hosts (a load balancer name, kafka.<region>.amazonaws.com for OAUTHBEARER tokens).",
			noDefault, setList(func(c *Config) *[]string { return &c.IAMHosts })),
		def("bulwark.sasl.bootstrap.users", TypePassword, "", "SCRAM users created at first start when the metadata holds no SCRAM credentials, user:password pairs separated by commas; each gets SCRAM-SHA-256 and SCRAM-SHA-512 credentials.",
			noDefault, check(validBootstrapUsers), setFunc(func(c *Config, v string) { c.BootstrapUsers, _ = parseBootstrapUsers(v) })),
		def("bulwark.shutdown.timeout.ms", TypeLong, "30000", "How long a graceful shutdown waits for in-flight requests.",
			check(atLeast(0)), setMs(func(c *Config) *time.Duration { return &c.ShutdownTimeout })),
	}
}
