package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is the broker configuration: typed fields the broker reads, resolved from the file over
// the defaults, plus the raw values that were set explicitly (for DescribeConfigs sources).
//
// Fields may be changed directly (tests and embedders do), but DescribeConfigs reports the raw
// values in Values and Dynamic; use Set to change a key so that both agree.
type Config struct {
	// Server identity and listeners.
	NodeID                  int32             // node.id (alias broker.id), default 1
	Listeners               []Listener        // listeners, default PLAINTEXT://127.0.0.1:9092
	AdvertisedListeners     []Listener        // advertised.listeners; empty means = listeners
	SecurityProtocolMap     map[string]string // listener.security.protocol.map, names upper-cased
	ControllerListenerNames []string          // controller.listener.names (not served to clients)
	InterBrokerListenerName string            // inter.broker.listener.name
	LogDirs                 []string          // log.dirs (alias log.dir), default ./data

	// Topics.
	NumPartitions            int32 // num.partitions
	DefaultReplicationFactor int16 // default.replication.factor
	AutoCreateTopics         bool  // auto.create.topics.enable
	DeleteTopicEnable        bool  // delete.topic.enable

	// Requests and connections.
	MessageMaxBytes              int32            // message.max.bytes, 1048588
	SocketRequestMaxBytes        int32            // socket.request.max.bytes, 104857600
	PreAuthMaxFrameBytes         int32            // sasl.server.max.receive.size, 524288
	ConnectionsMaxIdle           time.Duration    // connections.max.idle.ms, 10m
	ConnectionsMaxReauth         time.Duration    // connections.max.reauth.ms, 0 = never
	MaxConnections               int32            // max.connections
	MaxConnectionsPerIP          int32            // max.connections.per.ip
	MaxConnectionsPerIPOverrides map[string]int32 // max.connections.per.ip.overrides
	MaxConnectionCreationRate    int32            // max.connection.creation.rate
	FailedAuthenticationDelay    time.Duration    // connection.failed.authentication.delay.ms
	FetchMaxBytes                int32            // fetch.max.bytes, 57671680
	FetchSessionCacheSlots       int              // max.incremental.fetch.session.cache.slots
	QuotaWindowNum               int32            // quota.window.num, 11
	QuotaWindowSizeSeconds       int32            // quota.window.size.seconds, 1

	// Log defaults: the broker-level synonyms of the topic keys (see EffectiveTopic).
	RetentionCheckInterval         time.Duration // log.retention.check.interval.ms
	LogRetentionMs                 int64         // log.retention.ms / .minutes / .hours
	LogRetentionBytes              int64         // log.retention.bytes
	LogSegmentBytes                int32         // log.segment.bytes
	LogRollMs                      int64         // log.roll.ms / log.roll.hours
	LogRollJitterMs                int64         // log.roll.jitter.ms / .hours
	LogIndexIntervalBytes          int32         // log.index.interval.bytes
	LogIndexSizeMaxBytes           int32         // log.index.size.max.bytes
	LogSegmentDeleteDelayMs        int64         // log.segment.delete.delay.ms
	LogCleanupPolicy               []string      // log.cleanup.policy
	CompressionType                string        // compression.type
	CompressionGzipLevel           int32         // compression.gzip.level
	CompressionLz4Level            int32         // compression.lz4.level
	CompressionZstdLevel           int32         // compression.zstd.level
	LogMessageTimestampType        string        // log.message.timestamp.type
	LogMessageTimestampBeforeMaxMs int64         // log.message.timestamp.before.max.ms
	LogMessageTimestampAfterMaxMs  int64         // log.message.timestamp.after.max.ms
	FlushIntervalMessages          int64         // log.flush.interval.messages
	FlushIntervalMs                int64         // log.flush.interval.ms (MaxInt64: never)
	MinInsyncReplicas              int32         // min.insync.replicas
	LogCleanerDeleteRetentionMs    int64         // log.cleaner.delete.retention.ms
	LogCleanerMinCompactionLagMs   int64         // log.cleaner.min.compaction.lag.ms
	LogCleanerMaxCompactionLagMs   int64         // log.cleaner.max.compaction.lag.ms
	LogCleanerMinCleanableRatio    float64       // log.cleaner.min.cleanable.ratio
	LogPreallocate                 bool          // log.preallocate
	UncleanLeaderElectionEnable    bool          // unclean.leader.election.enable
	LogLocalRetentionMs            int64         // log.local.retention.ms
	LogLocalRetentionBytes         int64         // log.local.retention.bytes
	LogMessageDownConversion       bool          // log.message.downconversion.enable

	// Groups, offsets and transactions.
	GroupInitialRebalanceDelay     time.Duration // group.initial.rebalance.delay.ms
	GroupMinSessionTimeout         time.Duration // group.min.session.timeout.ms
	GroupMaxSessionTimeout         time.Duration // group.max.session.timeout.ms
	GroupMaxSize                   int32         // group.max.size (MaxInt32: unlimited)
	GroupConsumerHeartbeatInterval time.Duration // group.consumer.heartbeat.interval.ms
	GroupConsumerSessionTimeout    time.Duration // group.consumer.session.timeout.ms
	GroupConsumerMaxSize           int32         // group.consumer.max.size (MaxInt32: unlimited)
	GroupConsumerAssignors         []string      // group.consumer.assignors
	GroupConsumerMigrationPolicy   string        // group.consumer.migration.policy (lower case)
	ShareRecordLockDuration        time.Duration // group.share.record.lock.duration.ms
	ShareMinRecordLockDuration     time.Duration // group.share.min.record.lock.duration.ms
	ShareMaxRecordLockDuration     time.Duration // group.share.max.record.lock.duration.ms
	ShareDeliveryCountLimit        int32         // group.share.delivery.count.limit
	SharePartitionMaxRecordLocks   int32         // group.share.partition.max.record.locks
	ShareSessionTimeout            time.Duration // group.share.session.timeout.ms
	ShareHeartbeatInterval         time.Duration // group.share.heartbeat.interval.ms
	ShareMaxSize                   int32         // group.share.max.size
	ShareMaxSessions               int32         // group.share.max.share.sessions
	OffsetMetadataMaxBytes         int32         // offset.metadata.max.bytes
	OffsetsRetention               time.Duration // offsets.retention.minutes
	OffsetsRetentionCheckInterval  time.Duration // offsets.retention.check.interval.ms
	OffsetsTopicSegmentBytes       int32         // offsets.topic.segment.bytes (the coordinator journal's and __consumer_offsets' segments)
	OffsetsTopicNumPartitions      int32         // offsets.topic.num.partitions
	TransactionStateNumPartitions  int32         // transaction.state.log.num.partitions
	TransactionStateSegmentBytes   int32         // transaction.state.log.segment.bytes
	TransactionMaxTimeout          time.Duration // transaction.max.timeout.ms
	TransactionalIDExpiration      time.Duration // transactional.id.expiration.ms
	TransactionAbortCheckInterval  time.Duration // transaction.abort.timed.out.transaction.cleanup.interval.ms
	ProducerIDExpirationMs         int64         // producer.id.expiration.ms

	// Security (parsed and validated now; the authentication and authorization work uses them).
	SSLKeystoreLocation       string   // ssl.keystore.location
	SSLKeystoreType           string   // ssl.keystore.type
	SSLKeystorePassword       string   // ssl.keystore.password
	SSLKeyPassword            string   // ssl.key.password
	SSLTruststoreLocation     string   // ssl.truststore.location
	SSLTruststoreType         string   // ssl.truststore.type
	SSLTruststorePassword     string   // ssl.truststore.password
	SSLClientAuth             string   // ssl.client.auth: none, requested, required
	SSLEnabledProtocols       []string // ssl.enabled.protocols
	SSLCipherSuites           []string // ssl.cipher.suites
	SASLEnabledMechanisms     []string // sasl.enabled.mechanisms
	SuperUsers                []string // super.users, "User:alice" principals
	AllowEveryoneIfNoACLFound bool     // allow.everyone.if.no.acl.found
	AuthorizerClassName       string   // authorizer.class.name

	// OPA authorizer (opa-kafka-plugin's keys, and Bulwark's for the embedded engine).
	OPAURL                string        // opa.authorizer.url
	OPAAllowOnError       bool          // opa.authorizer.allow.on.error
	OPACacheInitial       int           // opa.authorizer.cache.initial.capacity
	OPACacheMax           int           // opa.authorizer.cache.maximum.size
	OPACacheExpireSeconds int           // opa.authorizer.cache.expire.after.seconds
	OPAPolicyDir          string        // bulwark.opa.policy.dir
	OPAQuery              string        // bulwark.opa.query
	OPATimeout            time.Duration // bulwark.opa.timeout.ms
	OPAReloadCheck        time.Duration // bulwark.opa.reload.check.ms
	OPATopicPolicy        bool          // bulwark.opa.topic.policy.enabled
	OPATopicPolicyQuery   string        // bulwark.opa.topic.policy.query
	IAMAuthorizerEnabled  bool          // bulwark.authorizer.iam.enabled

	// Bulwark's own keys.
	FlushAcksAll bool // bulwark.log.flush.acks.all: acks=all waits for fsync
	// LogDirsMinFreeBytes is bulwark.log.dirs.min.free.bytes (-1: 1 GiB or 5 %, the smaller).
	LogDirsMinFreeBytes int64
	// MaxPartitions is bulwark.max.partitions (0: no limit).
	MaxPartitions int32
	MetricsListen string // bulwark.metrics.listen, 127.0.0.1:11001 ("": off)
	// MetricsLevel is bulwark.metrics.level (DEFAULT, PER_BROKER, PER_TOPIC_PER_BROKER,
	// PER_TOPIC_PER_PARTITION), dynamic.
	MetricsLevel              string
	MetricsNodeListen         string // bulwark.metrics.node.listen, 127.0.0.1:11002 ("": off)
	PprofListen               string // bulwark.pprof.listen ("": off; loopback only)
	PprofBlockProfileRate     int32  // bulwark.pprof.block.profile.rate
	PprofMutexProfileFraction int32  // bulwark.pprof.mutex.profile.fraction
	MetricsWebConfigFile      string // bulwark.metrics.web.config.file
	// CloudWatch Embedded Metric Format publishing (bulwark.metrics.cloudwatch.*).
	MetricsCloudWatchLogGroup string
	MetricsCloudWatchStream   string
	MetricsCloudWatchLevel    string
	MetricsCloudWatchNS       string
	MetricsCloudWatchInterval time.Duration
	ShutdownTimeout           time.Duration // bulwark.shutdown.timeout.ms, 30s

	// The audit trail (Bulwark's keys).
	AuditEnabled            bool          // bulwark.audit.enabled, true
	AuditDir                string        // bulwark.audit.dir ("": <first log dir>/__bulwark_audit)
	AuditAllows             string        // bulwark.audit.authorization.allows: none, management, all
	AuditCheckpointRecords  int           // bulwark.audit.checkpoint.records, 1000
	AuditCheckpointInterval time.Duration // bulwark.audit.checkpoint.interval.ms, 10 s
	AuditFileMaxBytes       int64         // bulwark.audit.file.max.bytes, 64 MiB
	AuditRetention          time.Duration // bulwark.audit.file.retention.ms, 90 days (-1: for ever)
	AuditTopicEnabled       bool          // bulwark.audit.topic.enabled, true
	AuditSpoolMaxBytes      int64         // bulwark.audit.spool.max.bytes, 10 GiB (0: no budget)
	AuditSpoolFullPolicy    string        // bulwark.audit.spool.full.policy: refuse or drop
	LogSpoolMaxBytes        int64         // bulwark.log.spool.max.bytes, 1 GiB (0: no budget)
	AuditTopicFormat        string        // bulwark.audit.topic.format: cloudtrail or ocsf
	AuditCloudWatchFormat   string        // bulwark.logs.audit.cloudwatch.format
	AuditFirehoseFormat     string        // bulwark.logs.audit.firehose.format
	AuditS3Format           string        // bulwark.logs.audit.s3.format
	AuditTopicRetention     time.Duration // bulwark.audit.topic.retention.ms, 90 days (-1: for ever)

	// The broker log (Bulwark's keys).
	LogLevel          string        // bulwark.log.level, INFO, dynamic
	LogLevelOverrides []string      // bulwark.log.level.overrides, component=level, dynamic
	LogDir            string        // bulwark.log.dir ("": <first log dir>/__bulwark_logs; "-": no files)
	LogFileMaxBytes   int64         // bulwark.log.file.max.bytes, 64 MiB
	LogFileRetention  time.Duration // bulwark.log.file.retention.ms, 7 days

	// Log shipping (Bulwark's keys, shaped like MSK's LoggingInfo).
	AWSRegion               string        // bulwark.aws.region
	AWSEndpointLogs         string        // bulwark.aws.endpoint.logs
	AuditCloudWatchLogGroup string        // bulwark.logs.audit.cloudwatch.log.group
	AuditCloudWatchStream   string        // bulwark.logs.audit.cloudwatch.log.stream ("": broker-<node.id>)
	AuditFirehoseStream     string        // bulwark.logs.audit.firehose.delivery.stream
	AuditS3Bucket           string        // bulwark.logs.audit.s3.bucket
	AuditS3Prefix           string        // bulwark.logs.audit.s3.prefix
	AuditS3RollBytes        int64         // bulwark.logs.audit.s3.roll.bytes, 16 MiB
	AuditS3RollAfter        time.Duration // bulwark.logs.audit.s3.roll.ms, 5 min
	BrokerLogShip           ShipConfig    // bulwark.logs.broker.*
	AWSEndpointFirehose     string        // bulwark.aws.endpoint.firehose
	AWSEndpointS3           string        // bulwark.aws.endpoint.s3

	// Authentication (Bulwark's keys).
	PlainAllowPlaintext   bool              // bulwark.sasl.plain.allow.plaintext
	AuthenticationTimeout time.Duration     // bulwark.authentication.timeout.ms, 10s
	SSLReloadCheck        time.Duration     // bulwark.ssl.reload.check.ms, 5s
	IAMRegion             string            // bulwark.iam.region
	IAMAccountID          string            // bulwark.iam.account.id
	ClusterName           string            // bulwark.cluster.name
	IAMMaxSkew            time.Duration     // bulwark.iam.max.clock.skew.ms, 5m
	IAMHosts              []string          // bulwark.iam.hosts
	BootstrapUsers        map[string]string // bulwark.sasl.bootstrap.users, user -> password

	// Encryption at rest (Bulwark's keys).
	EncryptionEnabled       bool          // bulwark.encryption.enabled, default true
	EncryptionProvider      string        // bulwark.encryption.provider: local or aws-kms
	EncryptionKeyringPath   string        // bulwark.encryption.local.keyring
	EncryptionMasterKeyEnv  string        // bulwark.encryption.local.master.key.env
	EncryptionMasterKeyFile string        // bulwark.encryption.local.master.key.file
	EncryptionKMSKeyID      string        // bulwark.encryption.aws.kms.key.id
	EncryptionAWSRegion     string        // bulwark.encryption.aws.region
	EncryptionAWSEndpoint   string        // bulwark.encryption.aws.endpoint.url
	EncryptionKMSTimeout    time.Duration // bulwark.encryption.kms.timeout.ms

	// Values holds every key set explicitly in the file (or via Set), key -> raw value.
	Values map[string]string
	// Dynamic holds the dynamic broker overrides applied by WithDynamic, key -> raw value.
	Dynamic map[string]string
	// DynamicDefault holds the cluster-default dynamic overrides applied by WithDynamicLayers.
	DynamicDefault map[string]string
}

// Default returns the embedded defaults: `bulwark serve` with no configuration file.
func Default() *Config {
	c := &Config{Values: map[string]string{}, Dynamic: map[string]string{}}
	for _, d := range brokerApplyOrder {
		if !d.NoDefault && d.set != nil {
			d.set(c, d.normalize(d.Default))
		}
	}
	return c
}

// Load reads and parses a configuration file.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads a configuration in server.properties syntax over the defaults. Duplicate keys:
// the last one wins. The error lists every problem (joined with errors.Join), each naming its
// key; the Config is nil when there is any.
func Parse(r io.Reader) (*Config, error) {
	props, errs := readProperties(r)
	last := map[string]property{}
	for _, p := range props {
		last[p.key] = p
	}
	var uniq []property
	for _, p := range props {
		if last[p.key] == p {
			uniq = append(uniq, p)
		}
	}
	values := map[string]string{}
	for _, p := range uniq {
		v, err := checkBrokerKey(p.key, p.value)
		if err != nil {
			err.Line = p.line
			errs = append(errs, err)
			continue
		}
		values[p.key] = v
	}
	c := Default()
	c.apply(values)
	c.Values = values
	errs = append(errs, c.crossKeyErrors()...)
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// checkBrokerKey checks one broker key and value, returning the normalised value.
func checkBrokerKey(key, value string) (string, *KeyError) {
	if why := rejectedKey(key); why != "" {
		return "", &KeyError{Key: key, Msg: why, Err: ErrUnsupported}
	}
	d := brokerDef(key)
	if d == nil {
		return "", &KeyError{Key: key, Msg: "unknown key", Err: ErrUnknownKey}
	}
	if d.NotYet != "" {
		return "", &KeyError{Key: key, Msg: "not supported yet: " + d.NotYet + "; remove this key", Err: ErrUnsupported}
	}
	if err := d.check(value); err != nil {
		return "", &KeyError{Key: key, Msg: err.Error(), Err: ErrInvalidValue}
	}
	return d.normalize(value), nil
}

// apply stores checked values in the typed fields. Synonyms are applied lowest precedence first
// so that, say, log.retention.ms wins over log.retention.hours when both are set.
func (c *Config) apply(values map[string]string) {
	for _, d := range brokerApplyOrder {
		if v, ok := values[d.Name]; ok && d.set != nil {
			d.set(c, v)
		}
	}
}

// Set validates one broker key and stores it as if it came from the configuration file, keeping
// the typed fields and Values in agreement. It does not run the cross-key checks of Validate.
func (c *Config) Set(key, value string) error {
	v, err := checkBrokerKey(key, value)
	if err != nil {
		return err
	}
	if c.Values == nil {
		c.Values = map[string]string{}
	}
	c.Values[key] = v
	// Re-apply the key with its synonyms (file values, then dynamic ones, which take precedence)
	// so that precedence holds; other typed fields are left as they are.
	d := brokerDef(key)
	static, dynamic := map[string]string{key: v}, map[string]string{}
	if d.group != "" {
		for k, val := range c.Values {
			if brokerDef(k).group == d.group {
				static[k] = val
			}
		}
		for k, val := range c.Dynamic {
			if bd := brokerDef(k); bd != nil && bd.group == d.group {
				dynamic[k] = val
			}
		}
	}
	c.apply(static)
	c.apply(dynamic)
	return nil
}

// Get returns a broker key's effective raw value (dynamic, cluster-default dynamic, file, default) and whether
// it has one. It serves keys that have no typed field.
func (c *Config) Get(key string) (string, bool) {
	if v, ok := c.Dynamic[key]; ok {
		return v, true
	}
	if v, ok := c.DynamicDefault[key]; ok {
		return v, true
	}
	if v, ok := c.Values[key]; ok {
		return v, true
	}
	if d := brokerDef(key); d != nil && !d.NoDefault {
		return d.Default, true
	}
	return "", false
}

// crossKeyErrors reports conflicts between explicitly set keys that the typed fields no longer
// show (an alias set to a different value than its key).
func (c *Config) crossKeyErrors() []error {
	var errs []error
	if n, ok := c.Values["node.id"]; ok {
		if b, ok := c.Values["broker.id"]; ok && mustInt(n) != mustInt(b) {
			errs = append(errs, invalid("broker.id", "%s differs from node.id %s; set only node.id", b, n))
		}
	}
	names := map[string]bool{}
	for _, l := range c.Listeners {
		names[l.Name] = true
	}
	for _, k := range slices.Sorted(maps.Keys(c.Values)) {
		if l, _, ok := splitListenerKey(k); ok && !names[l] {
			errs = append(errs, invalid(k, "listener %s is not in listeners", l))
		}
	}
	return errs
}

// WithDynamic returns a copy of c with dynamic broker overrides applied over the file values
// (for EffectiveTopic and DescribeConfigs). Unknown, static or invalid keys are skipped: they
// were rejected by ValidateBrokerDynamic before being stored.
func (c *Config) WithDynamic(dynamic map[string]string) *Config {
	n := c.clone()
	n.applyDynamic(dynamic, n.Dynamic)
	return n
}

// applyDynamic applies the valid keys of dynamic to the typed fields and records them in layer.
func (c *Config) applyDynamic(dynamic, layer map[string]string) {
	checked := map[string]string{}
	for k, v := range dynamic {
		d := brokerDef(k)
		if d == nil || !d.Dynamic || d.check(v) != nil {
			continue
		}
		checked[k] = d.normalize(v)
		layer[k] = checked[k]
	}
	c.apply(checked)
}

// clone deep-copies c.
func (c *Config) clone() *Config {
	n := *c
	n.Listeners = slices.Clone(c.Listeners)
	n.AdvertisedListeners = slices.Clone(c.AdvertisedListeners)
	n.SecurityProtocolMap = maps.Clone(c.SecurityProtocolMap)
	n.ControllerListenerNames = slices.Clone(c.ControllerListenerNames)
	n.LogDirs = slices.Clone(c.LogDirs)
	n.MaxConnectionsPerIPOverrides = maps.Clone(c.MaxConnectionsPerIPOverrides)
	n.LogCleanupPolicy = slices.Clone(c.LogCleanupPolicy)
	n.SSLEnabledProtocols = slices.Clone(c.SSLEnabledProtocols)
	n.SSLCipherSuites = slices.Clone(c.SSLCipherSuites)
	n.SASLEnabledMechanisms = slices.Clone(c.SASLEnabledMechanisms)
	n.IAMHosts = slices.Clone(c.IAMHosts)
	n.BootstrapUsers = maps.Clone(c.BootstrapUsers)
	n.SuperUsers = slices.Clone(c.SuperUsers)
	n.GroupConsumerAssignors = slices.Clone(c.GroupConsumerAssignors)
	n.Values = maps.Clone(c.Values)
	if n.Values == nil {
		n.Values = map[string]string{}
	}
	n.Dynamic = maps.Clone(c.Dynamic)
	if n.Dynamic == nil {
		n.Dynamic = map[string]string{}
	}
	n.DynamicDefault = maps.Clone(c.DynamicDefault)
	return &n
}

// EffectiveAdvertisedListeners returns advertised.listeners, or listeners when it is unset,
// without the controller listeners (Kafka never advertises those to clients).
func (c *Config) EffectiveAdvertisedListeners() []Listener {
	src := c.AdvertisedListeners
	if len(src) == 0 {
		src = c.Listeners
	}
	var out []Listener
	for _, l := range src {
		if !slices.Contains(c.ControllerListenerNames, l.Name) {
			out = append(out, l)
		}
	}
	return out
}

// sortedErrs orders errors by message so reports are stable.
func sortedErrs(errs []error) []error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// rejectedKey explains why a Kafka key is refused, or returns "".
func rejectedKey(key string) string {
	if strings.HasPrefix(key, "zookeeper.") {
		return "ZooKeeper mode is not supported: Bulwark keeps its own metadata log; remove this key"
	}
	return ""
}
