package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"NodeID", c.NodeID, int32(1)},
		{"Listeners", c.Listeners, []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}},
		{"EffectiveAdvertised", c.EffectiveAdvertisedListeners(), []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}},
		{"LogDirs", c.LogDirs, []string{"./data"}},
		{"SecurityProtocolMap", c.SecurityProtocolMap, map[string]string{"PLAINTEXT": "PLAINTEXT", "SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL"}},
		{"NumPartitions", c.NumPartitions, int32(1)},
		{"DefaultReplicationFactor", c.DefaultReplicationFactor, int16(1)},
		{"AutoCreateTopics", c.AutoCreateTopics, true},
		{"DeleteTopicEnable", c.DeleteTopicEnable, true},
		{"MessageMaxBytes", c.MessageMaxBytes, int32(1048588)},
		{"SocketRequestMaxBytes", c.SocketRequestMaxBytes, int32(104857600)},
		{"PreAuthMaxFrameBytes", c.PreAuthMaxFrameBytes, int32(524288)},
		{"ConnectionsMaxIdle", c.ConnectionsMaxIdle, 10 * time.Minute},
		{"FetchMaxBytes", c.FetchMaxBytes, int32(57671680)},
		{"FetchSessionCacheSlots", c.FetchSessionCacheSlots, 1000},
		{"RetentionCheckInterval", c.RetentionCheckInterval, 5 * time.Minute},
		{"FlushAcksAll", c.FlushAcksAll, true},
		{"FlushIntervalMessages", c.FlushIntervalMessages, int64(math.MaxInt64)},
		{"FlushIntervalMs", c.FlushIntervalMs, int64(math.MaxInt64)},
		{"MetricsListen", c.MetricsListen, "127.0.0.1:11001"},
		{"ShutdownTimeout", c.ShutdownTimeout, 30 * time.Second},
		{"LogRetentionMs", c.LogRetentionMs, int64(168 * 3600000)},
		{"LogRollMs", c.LogRollMs, int64(168 * 3600000)},
		{"MaxConnections", c.MaxConnections, int32(math.MaxInt32)},
		{"SSLClientAuth", c.SSLClientAuth, "none"},
		{"Values", len(c.Values), 0},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func TestParseTypedFields(t *testing.T) {
	c := mustParse(t, `
# A typical server.properties.
node.id = 7
listeners = PLAINTEXT://0.0.0.0:19092, internal://[::1]:19093
advertised.listeners = PLAINTEXT://broker.example.com:19092
listener.security.protocol.map = PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT
log.dirs = /a, /b
num.partitions = 3
auto.create.topics.enable = FALSE
message.max.bytes = 2048
connections.max.idle.ms = 1500
log.retention.minutes = 10
log.flush.interval.ms = 250
max.connections.per.ip.overrides = 10.0.0.1:5, host.example:0
bulwark.log.flush.acks.all = false
bulwark.shutdown.timeout.ms = 5000
num.network.threads = 8
offsets.topic.replication.factor = 3
`)
	if c.NodeID != 7 || c.NumPartitions != 3 || c.AutoCreateTopics || c.MessageMaxBytes != 2048 {
		t.Errorf("scalars: %+v", c)
	}
	want := []Listener{{"PLAINTEXT", "0.0.0.0", 19092}, {"INTERNAL", "::1", 19093}}
	if !reflect.DeepEqual(c.Listeners, want) {
		t.Errorf("listeners %+v", c.Listeners)
	}
	if c.Listeners[1].String() != "INTERNAL://[::1]:19093" || c.Listeners[1].Addr() != "[::1]:19093" {
		t.Errorf("ipv6 rendering %s %s", c.Listeners[1], c.Listeners[1].Addr())
	}
	if !reflect.DeepEqual(c.LogDirs, []string{"/a", "/b"}) {
		t.Errorf("log dirs %q", c.LogDirs)
	}
	if c.ConnectionsMaxIdle != 1500*time.Millisecond || c.ShutdownTimeout != 5*time.Second || c.FlushAcksAll {
		t.Errorf("durations/bools %v %v %v", c.ConnectionsMaxIdle, c.ShutdownTimeout, c.FlushAcksAll)
	}
	if c.LogRetentionMs != 600000 || c.FlushIntervalMs != 250 {
		t.Errorf("log defaults %d %d", c.LogRetentionMs, c.FlushIntervalMs)
	}
	if !reflect.DeepEqual(c.MaxConnectionsPerIPOverrides, map[string]int32{"10.0.0.1": 5, "host.example": 0}) {
		t.Errorf("ip overrides %v", c.MaxConnectionsPerIPOverrides)
	}
	if c.Values["num.partitions"] != "3" || c.Values["listeners"] == "" || len(c.Values) != 16 {
		t.Errorf("values %v", c.Values)
	}
}

func TestParseSynonymPrecedence(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"log.retention.hours=1", 3600000},
		{"log.retention.hours=1\nlog.retention.minutes=2", 120000},
		{"log.retention.ms=5\nlog.retention.hours=1\nlog.retention.minutes=2", 5},
		{"log.retention.minutes=2\nlog.retention.ms=-1", -1},
		{"log.retention.hours=-1", -1},
		{"log.retention.hours=2147483647", 2147483647 * 3600000},
	}
	for _, tc := range tests {
		if got := mustParse(t, tc.in).LogRetentionMs; got != tc.want {
			t.Errorf("%q: LogRetentionMs = %d, want %d", tc.in, got, tc.want)
		}
	}
	c := mustParse(t, "log.dir=/x")
	if l, err := ParseListener("plaintext://::1:9092"); err != nil || l != (Listener{"PLAINTEXT", "::1", 9092}) {
		t.Errorf("unbracketed IPv6 listener: %+v %v", l, err)
	}
	if !reflect.DeepEqual(c.LogDirs, []string{"/x"}) {
		t.Errorf("log.dir: %q", c.LogDirs)
	}
	c = mustParse(t, "log.dirs=/y\nlog.dir=/x")
	if !reflect.DeepEqual(c.LogDirs, []string{"/y"}) {
		t.Errorf("log.dirs must win: %q", c.LogDirs)
	}
	if c = mustParse(t, "broker.id=4"); c.NodeID != 4 {
		t.Errorf("broker.id alias: %d", c.NodeID)
	}
	if c = mustParse(t, "broker.id=4\nnode.id=4"); c.NodeID != 4 {
		t.Errorf("agreeing aliases: %d", c.NodeID)
	}
	if c = mustParse(t, "num.partitions=2\nnum.partitions=5"); c.NumPartitions != 5 {
		t.Errorf("duplicate key: last must win, got %d", c.NumPartitions)
	}
	if c = mustParse(t, "log.roll.hours=2\nlog.roll.ms=60000"); c.LogRollMs != 60000 {
		t.Errorf("log.roll.ms must win: %d", c.LogRollMs)
	}
}

// TestParseErrors covers every kind of error Parse reports, one per case, each naming its key.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, key, msg string
		sentinel     error
	}{
		{"foo.bar=1", "foo.bar", "unknown key", ErrUnknownKey},
		{"zookeeper.connect=localhost:2181", "zookeeper.connect", "ZooKeeper", ErrUnsupported},
		{"log.retention.ms=abc", "log.retention.ms", `not a number: "abc"`, ErrInvalidValue},
		{"num.partitions=0", "num.partitions", "at least 1", ErrInvalidValue},
		{"num.partitions=99999999999", "num.partitions", "out of range", ErrInvalidValue},
		{"default.replication.factor=40000", "default.replication.factor", "between", ErrInvalidValue},
		{"auto.create.topics.enable=yes", "auto.create.topics.enable", "not a boolean", ErrInvalidValue},
		{"log.cleaner.min.cleanable.ratio=1.5", "log.cleaner.min.cleanable.ratio", "between 0 and 1", ErrInvalidValue},
		{"log.cleaner.min.cleanable.ratio=NaN", "log.cleaner.min.cleanable.ratio", "not a number", ErrInvalidValue},
		{"log.cleanup.policy=delete,shred", "log.cleanup.policy", "one of", ErrInvalidValue},
		{"log.cleanup.policy=", "log.cleanup.policy", "at least one", ErrInvalidValue},
		{"compression.type=brotli", "compression.type", "one of", ErrInvalidValue},
		{"log.message.timestamp.type=createtime", "log.message.timestamp.type", "one of", ErrInvalidValue},
		{"listeners=", "listeners", "at least one", ErrInvalidValue},
		{"listeners=localhost:9092", "listeners", "NAME://host:port", ErrInvalidValue},
		{"listeners=PLAINTEXT://[::1:9092", "listeners", "host:port", ErrInvalidValue},
		{"listeners=PLAINTEXT://:70000", "listeners", "0..65535", ErrInvalidValue},
		{"listeners=PLAINTEXT://:x", "listeners", "0..65535", ErrInvalidValue},
		{"listeners=PLAIN TEXT://:1", "listeners", "letters", ErrInvalidValue},
		{"listeners=A://:1,a://:2", "listeners", "twice", ErrInvalidValue},
		{"listener.security.protocol.map=PLAINTEXT:TLS", "listener.security.protocol.map", "one of", ErrInvalidValue},
		{"listener.security.protocol.map=PLAINTEXT", "listener.security.protocol.map", "NAME:PROTOCOL", ErrInvalidValue},
		{"ssl.client.auth=always", "ssl.client.auth", "one of", ErrInvalidValue},
		{"ssl.keystore.type=P12", "ssl.keystore.type", "one of", ErrInvalidValue},
		{"ssl.enabled.protocols=TLSv1", "ssl.enabled.protocols", "one of", ErrInvalidValue},
		{"super.users=User:alice", "super.users", "no effect without authorizer.class.name", ErrInvalidValue},
		{"authorizer.class.name=kafka.security.auth.SimpleAclAuthorizer", "authorizer.class.name", "one of", ErrInvalidValue},
		{"authorizer.class.name=org.openpolicyagent.kafka.OpaAuthorizer", "authorizer.class.name", "exactly one of opa.authorizer.url", ErrInvalidValue},
		{"opa.authorizer.url=http://127.0.0.1:8181/v1/data/kafka/authz/allow", "authorizer.class.name", "is not org.openpolicyagent.kafka.OpaAuthorizer", ErrInvalidValue},
		{"opa.authorizer.url=ftp://x", "opa.authorizer.url", "http", ErrInvalidValue},
		{"bulwark.opa.query=kafka.authz.allow", "bulwark.opa.query", "data.<package>.<rule>", ErrInvalidValue},
		{"opa.authorizer.truststore.path=/t", "opa.authorizer.truststore.path", "not supported yet", ErrUnsupported},
		{"bulwark.authorizer.iam.enabled=true", "bulwark.authorizer.iam.enabled", "authorizer is configured", ErrInvalidValue},
		{"controller.quorum.voters=1@h:9093", "controller.quorum.voters", "not supported yet", ErrUnsupported},
		{"max.connections.per.ip.overrides=a", "max.connections.per.ip.overrides", "host:count", ErrInvalidValue},
		{"max.connections.per.ip.overrides=a:-1", "max.connections.per.ip.overrides", "non-negative", ErrInvalidValue},
		{"bulwark.metrics.level=PER_TOPIC", "bulwark.metrics.level", "must be one of DEFAULT", ErrInvalidValue},
		{"bulwark.metrics.node.listen=localhost", "bulwark.metrics.node.listen", "not host:port", ErrInvalidValue},
		{"bulwark.unknown=1", "bulwark.unknown", "unknown key", ErrUnknownKey},
		{"process.roles=broker,observer", "process.roles", "one of", ErrInvalidValue},
		{"compression.gzip.level=0", "compression.gzip.level", "between 1 and 9", ErrInvalidValue},
		{"log.dirs=,", "log.dirs", "must not be empty", ErrInvalidValue},
		{"broker.id=2\nnode.id=3", "broker.id", "differs from node.id", ErrInvalidValue},
		{"advertised.listeners=OTHER://h:1", "advertised.listeners", "not in listeners", ErrInvalidValue},
		{"advertised.listeners=PLAINTEXT://0.0.0.0:9092", "advertised.listeners", "meta-address", ErrInvalidValue},
		{"listeners=A://:1,B://:1\nlistener.security.protocol.map=A:SSL,B:PLAINTEXT\nssl.keystore.location=/k", "listeners", "same port", ErrInvalidValue},
		{"listeners=CUSTOM://:1", "listener.security.protocol.map", "no security protocol", ErrInvalidValue},
		{"controller.listener.names=CONTROLLER", "controller.listener.names", "not in listeners", ErrInvalidValue},
		{"listeners=PLAINTEXT://:1,CONTROLLER://:2\ncontroller.listener.names=CONTROLLER\nadvertised.listeners=CONTROLLER://h:2", "advertised.listeners", "must not be advertised", ErrInvalidValue},
		{"inter.broker.listener.name=REPL", "inter.broker.listener.name", "not in listeners", ErrInvalidValue},
		{"listeners=SSL://:9093", "ssl.keystore.location", "required", ErrInvalidValue},
		{"listeners=SASL_PLAINTEXT://:9093\nsasl.enabled.mechanisms=", "sasl.enabled.mechanisms", "required", ErrInvalidValue},
		{"sasl.server.max.receive.size=200000000", "sasl.server.max.receive.size", "exceeds socket.request.max.bytes", ErrInvalidValue},
		{"listener.name.other.ssl.keystore.location=/k", "listener.name.other.ssl.keystore.location", "not in listeners", ErrInvalidValue},
		{"listener.name.plaintext.num.partitions=3", "listener.name.plaintext.num.partitions", "unknown key", ErrUnknownKey},
		{"listener.name.plaintext.ssl.client.auth=maybe", "listener.name.plaintext.ssl.client.auth", "one of", ErrInvalidValue},
		{`a=\u00zz`, "", `\uxxxx`, ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.in))
			if err == nil || c != nil {
				t.Fatalf("no error (config %v)", c != nil)
			}
			errs := unjoin(err)
			if len(errs) != 1 {
				t.Fatalf("want exactly one problem, got %d: %v", len(errs), err)
			}
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("got %q, want key %q, %q, %v", err, tc.key, tc.msg, tc.sentinel)
			}
			var ke *KeyError
			if tc.key != "" && (!errors.As(err, &ke) || ke.Key != tc.key) {
				t.Fatalf("error is not a KeyError for %s: %#v", tc.key, err)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse(strings.NewReader("a=1\nnum.partitions=x\nlog.retention.ms=abc\nadvertised.listeners=X://h:1\n"))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`config: a (line 1): unknown key`,
		`config: num.partitions (line 2): not a number: "x"`,
		`config: log.retention.ms (line 3): not a number: "abc"`,
		`config: advertised.listeners: listener X is not in listeners`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if n := len(unjoin(err)); n != 4 {
		t.Errorf("%d problems, want 4", n)
	}
}

func TestAcceptedKafkaKeys(t *testing.T) {
	// Keys MSK and Kafka users commonly carry load without complaint.
	c := mustParse(t, `
process.roles=broker,controller
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=-1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
ssl.keystore.password=secret
sasl.enabled.mechanisms=SCRAM-SHA-512,AWS_MSK_IAM
listener.name.plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.plaintext.ssl.client.auth=required
`)
	if c.SSLKeystorePassword != "secret" || len(c.SASLEnabledMechanisms) != 2 {
		t.Errorf("security fields: %+v", c)
	}
	if v, ok := c.Get("listener.name.plaintext.ssl.client.auth"); !ok || v != "required" {
		t.Errorf("listener-prefixed key: %q %v", v, ok)
	}
	if c.SSLClientAuth != "none" {
		t.Error("a listener-prefixed key must not change the global field")
	}
}

func TestSecurityListeners(t *testing.T) {
	mustParse(t, "listeners=SSL://:9093\nssl.keystore.location=/k.jks")
	mustParse(t, "listeners=SSL://:9093\nlistener.name.ssl.ssl.keystore.location=/k.jks")
	mustParse(t, "listeners=SSL://:9093\nssl.keystore.type=PEM\nssl.keystore.certificate.chain=-----BEGIN")
	mustParse(t, "listeners=SASL_PLAINTEXT://:9094")
	// A controller listener missing from the map is PLAINTEXT, as in Kafka's KRaft mode.
	c := mustParse(t, "listeners=PLAINTEXT://:9092,CONTROLLER://:9093\ncontroller.listener.names=CONTROLLER")
	if got := c.EffectiveAdvertisedListeners(); len(got) != 1 || got[0].Name != "PLAINTEXT" {
		t.Errorf("controller listener advertised: %v", got)
	}
}

func TestValidateTypedFields(t *testing.T) {
	c := Default()
	c.Listeners = nil
	c.LogDirs = []string{" "}
	c.NumPartitions = 0
	c.MessageMaxBytes = -1
	c.FetchSessionCacheSlots = -1
	c.CompressionType = "brotli"
	c.MetricsListen = "nowhere"
	c.AdvertisedListeners = []Listener{{Name: "X", Host: "h", Port: 70000}}
	err := c.Validate()
	for _, key := range []string{"listeners", "log.dirs", "num.partitions", "message.max.bytes",
		"max.incremental.fetch.session.cache.slots", "compression.type", "bulwark.metrics.listen", "advertised.listeners"} {
		if err == nil || !strings.Contains(err.Error(), "config: "+key+":") {
			t.Errorf("missing problem for %s in %v", key, err)
		}
	}
	if n := len(unjoin(err)); n != 9 {
		t.Errorf("%d problems, want 9: %v", n, err)
	}
	// Port 0 (tests) and nil advertised listeners (= listeners) are fine.
	c = Default()
	c.Listeners = []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 0}}
	c.AdvertisedListeners = nil
	if err := c.Validate(); err != nil {
		t.Errorf("test broker config: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(path, []byte("num.partitions=4\r\nlog.dirs="+dir+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil || c.NumPartitions != 4 || c.LogDirs[0] != dir {
		t.Fatalf("Load: %v %+v", err, c)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSet(t *testing.T) {
	c := Default()
	c.MessageMaxBytes = 4096 // set directly; Set of another key must not undo it
	if err := c.Set("log.retention.ms", "1000"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("log.retention.hours", "1"); err != nil {
		t.Fatal(err)
	}
	if c.LogRetentionMs != 1000 || c.MessageMaxBytes != 4096 || c.Values["log.retention.hours"] != "1" {
		t.Errorf("Set: retention %d max %d values %v", c.LogRetentionMs, c.MessageMaxBytes, c.Values)
	}
	if err := c.Set("num.partitions", "zero"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("Set bad value: %v", err)
	}
	if err := c.Set("nope", "1"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Set unknown: %v", err)
	}
}
