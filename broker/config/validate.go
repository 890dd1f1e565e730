package config

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
)

// Validate checks the typed fields and the relations between keys, reporting every problem
// (joined with errors.Join), each naming its key. Parse calls it; call it again after changing
// fields directly.
func (c *Config) Validate() error {
	var errs []error
	add := func(e *KeyError) { errs = append(errs, e) }
	c.validateListeners(add)
	c.validateRanges(add)
	c.validateSecurity(add)
	if len(c.LogDirs) == 0 {
		add(invalid("log.dirs", "at least one directory is required"))
	}
	for _, d := range c.LogDirs {
		if strings.TrimSpace(d) == "" {
			add(invalid("log.dirs", "empty directory name"))
		}
	}
	if len(c.LogCleanupPolicy) == 0 {
		add(invalid("log.cleanup.policy", "must list delete and/or compact"))
	}
	c.validateAuthorizer(add)
	c.validateSpools(add)
	if c.MetricsCloudWatchLogGroup != "" && c.MetricsListen == "" {
		add(invalid("bulwark.metrics.cloudwatch.log.group", "needs bulwark.metrics.listen: with metrics off nothing is counted"))
	}
	for key, v := range map[string]string{"bulwark.metrics.listen": c.MetricsListen, "bulwark.metrics.node.listen": c.MetricsNodeListen} {
		if v == "" {
			continue // off
		}
		if err := validHostPort(v); err != nil {
			add(invalid(key, "%v", err))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) validateListeners(add func(*KeyError)) {
	if len(c.Listeners) == 0 {
		add(invalid("listeners", "at least one listener is required"))
	}
	names := map[string]bool{}
	ports := map[int]string{}
	for _, l := range c.Listeners {
		if names[l.Name] {
			add(invalid("listeners", "listener name %s is used twice", l.Name))
		}
		names[l.Name] = true
		if l.Port < 0 || l.Port > 65535 {
			add(invalid("listeners", "listener %s: port %d out of range", l.Name, l.Port))
		}
		if other, dup := ports[l.Port]; dup && l.Port != 0 {
			add(invalid("listeners", "listeners %s and %s use the same port %d", other, l.Name, l.Port))
		}
		ports[l.Port] = l.Name
		if _, ok := c.protocolOf(l.Name); !ok {
			add(invalid("listener.security.protocol.map", "no security protocol for listener %s", l.Name))
		}
	}
	for _, a := range c.AdvertisedListeners {
		if !names[a.Name] {
			add(invalid("advertised.listeners", "listener %s is not in listeners", a.Name))
		}
		if a.Host == "0.0.0.0" || a.Host == "::" {
			add(invalid("advertised.listeners", "listener %s: cannot advertise the meta-address %s", a.Name, a.Host))
		}
		if a.Port < 0 || a.Port > 65535 {
			add(invalid("advertised.listeners", "listener %s: port %d out of range", a.Name, a.Port))
		}
		if slices.Contains(c.ControllerListenerNames, a.Name) {
			add(invalid("advertised.listeners", "controller listener %s must not be advertised", a.Name))
		}
	}
	for _, n := range c.ControllerListenerNames {
		if !names[strings.ToUpper(n)] {
			add(invalid("controller.listener.names", "listener %s is not in listeners", n))
		}
	}
	if n := c.InterBrokerListenerName; n != "" && !names[strings.ToUpper(n)] {
		add(invalid("inter.broker.listener.name", "listener %s is not in listeners", n))
	}
}

// protocolOf returns a listener's security protocol. As in Kafka's KRaft mode, a controller
// listener missing from the map is PLAINTEXT.
func (c *Config) protocolOf(name string) (string, bool) {
	if p, ok := c.SecurityProtocolMap[name]; ok {
		return p, true
	}
	if slices.Contains(c.ControllerListenerNames, name) {
		return "PLAINTEXT", true
	}
	return "", false
}

// validateRanges re-checks the typed fields against the same bounds the key table enforces,
// because tests and embedders set fields directly.
func (c *Config) validateRanges(add func(*KeyError)) {
	type bound struct {
		key string
		val int64
		min int64
	}
	for _, b := range []bound{
		{"node.id", int64(c.NodeID), 0},
		{"num.partitions", int64(c.NumPartitions), 1},
		{"default.replication.factor", int64(c.DefaultReplicationFactor), 1},
		{"message.max.bytes", int64(c.MessageMaxBytes), 0},
		{"socket.request.max.bytes", int64(c.SocketRequestMaxBytes), 1},
		{"sasl.server.max.receive.size", int64(c.PreAuthMaxFrameBytes), 1},
		{"connections.max.idle.ms", int64(c.ConnectionsMaxIdle), 1},
		{"connections.max.reauth.ms", int64(c.ConnectionsMaxReauth), 0},
		{"max.connections", int64(c.MaxConnections), 0},
		{"max.connections.per.ip", int64(c.MaxConnectionsPerIP), 0},
		{"max.connection.creation.rate", int64(c.MaxConnectionCreationRate), 0},
		{"connection.failed.authentication.delay.ms", int64(c.FailedAuthenticationDelay), 0},
		{"fetch.max.bytes", int64(c.FetchMaxBytes), 1024},
		{"max.incremental.fetch.session.cache.slots", int64(c.FetchSessionCacheSlots), 0},
		{"log.retention.check.interval.ms", int64(c.RetentionCheckInterval), 1},
		{"log.retention.ms", c.LogRetentionMs, -1},
		{"log.segment.bytes", int64(c.LogSegmentBytes), 14},
		{"log.roll.ms", c.LogRollMs, 1},
		{"log.roll.jitter.ms", c.LogRollJitterMs, 0},
		{"log.index.interval.bytes", int64(c.LogIndexIntervalBytes), 0},
		{"log.index.size.max.bytes", int64(c.LogIndexSizeMaxBytes), 4},
		{"log.segment.delete.delay.ms", c.LogSegmentDeleteDelayMs, 0},
		{"log.flush.interval.messages", c.FlushIntervalMessages, 1},
		{"log.flush.interval.ms", c.FlushIntervalMs, 0},
		{"log.message.timestamp.before.max.ms", c.LogMessageTimestampBeforeMaxMs, 0},
		{"log.message.timestamp.after.max.ms", c.LogMessageTimestampAfterMaxMs, 0},
		{"min.insync.replicas", int64(c.MinInsyncReplicas), 1},
		{"bulwark.shutdown.timeout.ms", int64(c.ShutdownTimeout), 0},
	} {
		if b.val < b.min {
			add(invalid(b.key, "must be at least %d, is %d", b.min, b.val))
		}
	}
	if c.SocketRequestMaxBytes > 0 && c.PreAuthMaxFrameBytes > c.SocketRequestMaxBytes {
		add(invalid("sasl.server.max.receive.size", "%d exceeds socket.request.max.bytes %d", c.PreAuthMaxFrameBytes, c.SocketRequestMaxBytes))
	}
	if err := oneOf(false, compressionTypes...)(c.CompressionType); err != nil {
		add(invalid("compression.type", "%v", err))
	}
	if err := oneOf(false, "CreateTime", "LogAppendTime")(c.LogMessageTimestampType); err != nil {
		add(invalid("log.message.timestamp.type", "%v", err))
	}
}

// validateSecurity checks that TLS and SASL listeners have what they need.
func (c *Config) validateSecurity(add func(*KeyError)) {
	var tls, sasl bool
	for _, l := range c.Listeners {
		p, _ := c.protocolOf(l.Name)
		tls = tls || p == "SSL" || p == "SASL_SSL"
		sasl = sasl || p == "SASL_PLAINTEXT" || p == "SASL_SSL"
	}
	_, pemChain := c.Get("ssl.keystore.certificate.chain")
	if tls && c.SSLKeystoreLocation == "" && !pemChain && !c.anyListenerKey("ssl.keystore.location") {
		add(invalid("ssl.keystore.location", "required by an SSL or SASL_SSL listener"))
	}
	if sasl && len(c.SASLEnabledMechanisms) == 0 && !c.anyListenerKey("sasl.enabled.mechanisms") {
		add(invalid("sasl.enabled.mechanisms", "required by a SASL listener"))
	}
	if c.SSLClientAuth != "" {
		if err := oneOf(false, "required", "requested", "none")(c.SSLClientAuth); err != nil {
			add(invalid("ssl.client.auth", "%v", err))
		}
	}
	if c.EncryptionEnabled && c.EncryptionProvider == "aws-kms" && c.EncryptionKMSKeyID == "" {
		add(invalid("bulwark.encryption.aws.kms.key.id", "required when bulwark.encryption.provider=aws-kms"))
	}
	if c.EncryptionMasterKeyEnv != "" && c.EncryptionMasterKeyFile != "" {
		add(invalid("bulwark.encryption.local.master.key.file", "set only one of it and bulwark.encryption.local.master.key.env"))
	}
}

// KeyringPath is where the local key provider keeps its keyring: bulwark.encryption.local.keyring,
// or bulwark.keyring beside the first log directory.
func (c *Config) KeyringPath() string {
	if c.EncryptionKeyringPath != "" {
		return c.EncryptionKeyringPath
	}
	return filepath.Join(filepath.Dir(filepath.Clean(c.LogDirs[0])), "bulwark.keyring")
}

// anyListenerKey reports whether some listener.name.<l>.<key> is set.
func (c *Config) anyListenerKey(key string) bool {
	for k := range c.Values {
		if _, rest, ok := splitListenerKey(k); ok && rest == key {
			return true
		}
	}
	return false
}

// Authorizer class names authorizer.class.name accepts.
const (
	ACLAuthorizerClass       = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	LegacyACLAuthorizerClass = "kafka.security.authorizer.AclAuthorizer"
	OPAAuthorizerClass       = "org.openpolicyagent.kafka.OpaAuthorizer"
)

// AuthorizerEngine names the engine authorizer.class.name selects: "acl", "opa" or "" (none).
func (c *Config) AuthorizerEngine() string {
	switch c.AuthorizerClassName {
	case ACLAuthorizerClass, LegacyACLAuthorizerClass:
		return "acl"
	case OPAAuthorizerClass:
		return "opa"
	}
	return ""
}

func (c *Config) validateAuthorizer(add func(*KeyError)) {
	engine := c.AuthorizerEngine()
	if engine == "opa" && (c.OPAURL == "") == (c.OPAPolicyDir == "") {
		add(invalid("authorizer.class.name", "%s needs exactly one of opa.authorizer.url (a remote OPA server) and bulwark.opa.policy.dir (in-process)", OPAAuthorizerClass))
	}
	if engine != "opa" && (c.OPAURL != "" || c.OPAPolicyDir != "") {
		add(invalid("authorizer.class.name", "opa.authorizer.url or bulwark.opa.policy.dir is set but authorizer.class.name is not %s", OPAAuthorizerClass))
	}
	if c.OPATopicPolicy && engine != "opa" {
		add(invalid("bulwark.opa.topic.policy.enabled", "the topic policy is evaluated by OPA: authorizer.class.name must be %s", OPAAuthorizerClass))
	}
	if c.IAMAuthorizerEnabled && engine == "" {
		add(invalid("bulwark.authorizer.iam.enabled", "IAM policies judge IAM principals only when an authorizer is configured (authorizer.class.name)"))
	}
	if len(c.SuperUsers) > 0 && engine == "" {
		add(invalid("super.users", "super.users has no effect without authorizer.class.name"))
	}
}

// validateSpools: a disk budget must hold the open file and one closed one, or it could never
// be met.
func (c *Config) validateSpools(add func(*KeyError)) {
	if c.AuditSpoolMaxBytes > 0 && c.AuditSpoolMaxBytes < 2*c.AuditFileMaxBytes {
		add(invalid("bulwark.audit.spool.max.bytes", "%d is less than twice bulwark.audit.file.max.bytes (%d)", c.AuditSpoolMaxBytes, c.AuditFileMaxBytes))
	}
	if c.LogSpoolMaxBytes > 0 && c.LogSpoolMaxBytes < 2*c.LogFileMaxBytes {
		add(invalid("bulwark.log.spool.max.bytes", "%d is less than twice bulwark.log.file.max.bytes (%d)", c.LogSpoolMaxBytes, c.LogFileMaxBytes))
	}
}
