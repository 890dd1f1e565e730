package broker

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// describeConfigs sends one DescribeConfigs resource at version and returns its result.
func describeConfigs(t testing.TB, b *testBroker, version int16, typ kmsg.ConfigResourceType, name string, keys ...string) kmsg.DescribeConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = version >= 1
	req.IncludeDocumentation = version >= 3
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, keys
	req.Resources = append(req.Resources, rr)
	return rawAt[*kmsg.DescribeConfigsResponse](t, b, version, req).Resources[0]
}

// configEntry finds a key in a DescribeConfigs result.
func configEntry(t testing.TB, res kmsg.DescribeConfigsResponseResource, key string) kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	for _, c := range res.Configs {
		if c.Name == key {
			return c
		}
	}
	t.Fatalf("%s not in the %s %q result", key, res.ResourceType, res.ResourceName)
	return kmsg.DescribeConfigsResponseResourceConfig{}
}

func strOrNil(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestDescribeTopicConfigs(t *testing.T) {
	b := newTestBroker(t)
	mustCreateTopic(t, b.Admin(t), "described", 1, map[string]*string{"retention.ms": kadm.StringPtr("1000")})

	rcs, err := b.Admin(t).DescribeTopicConfigs(testContext(t), "described")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("described", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("kadm describe: %v %v", err, rc.Err)
	}
	if len(rc.Configs) < 10 {
		t.Fatalf("only %d topic configs described", len(rc.Configs))
	}

	res := describeConfigs(t, b, 4, kmsg.ConfigResourceTypeTopic, "described")
	wantCode(t, "describe", res.ErrorCode, nil)
	ret := configEntry(t, res, "retention.ms")
	if strOrNil(ret.Value) != "1000" || ret.Source != kmsg.ConfigSourceDynamicTopicConfig || ret.ConfigType != kmsg.ConfigTypeLong {
		t.Errorf("retention.ms: value %s source %v type %v", strOrNil(ret.Value), ret.Source, ret.ConfigType)
	}
	if len(ret.ConfigSynonyms) < 2 || ret.ConfigSynonyms[0].Source != kmsg.ConfigSourceDynamicTopicConfig ||
		ret.ConfigSynonyms[len(ret.ConfigSynonyms)-1].Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("retention.ms synonyms %+v, want the override first and the default last", ret.ConfigSynonyms)
	}
	if ret.Documentation == nil || *ret.Documentation == "" {
		t.Error("documentation missing though requested")
	}
	if seg := configEntry(t, res, "segment.bytes"); seg.Source != kmsg.ConfigSourceDefaultConfig || seg.ReadOnly {
		t.Errorf("segment.bytes: source %v read-only %v", seg.Source, seg.ReadOnly)
	}

	// Requested keys only (unknown ones left out); v0 reports is_default instead of a source.
	res = describeConfigs(t, b, 0, kmsg.ConfigResourceTypeTopic, "described", "retention.ms", "segment.bytes", "no.such.key")
	if len(res.Configs) != 2 {
		t.Fatalf("%d entries for two known keys", len(res.Configs))
	}
	if configEntry(t, res, "retention.ms").IsDefault || !configEntry(t, res, "segment.bytes").IsDefault {
		t.Error("v0 is_default wrong")
	}
	res = describeConfigs(t, b, 2, kmsg.ConfigResourceTypeTopic, "described", "retention.ms")
	if d := res.Configs[0].Documentation; d != nil {
		t.Error("documentation sent though not requested")
	}

	wantCode(t, "unknown topic", describeConfigs(t, b, 4, kmsg.ConfigResourceTypeTopic, "nope").ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "invalid name", describeConfigs(t, b, 4, kmsg.ConfigResourceTypeTopic, "a/b").ErrorCode, kerr.InvalidTopicException)
}

func TestDescribeBrokerConfigs(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) {
		if err := c.Set("ssl.key.password", "secret"); err != nil {
			t.Fatal(err)
		}
	}))
	node := strconv.Itoa(int(b.cfg.NodeID))
	res := describeConfigs(t, b, 4, kmsg.ConfigResourceTypeBroker, node)
	wantCode(t, "broker", res.ErrorCode, nil)
	if np := configEntry(t, res, "num.partitions"); np.ReadOnly || np.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("num.partitions: read-only %v source %v", np.ReadOnly, np.Source)
	}
	if ld := configEntry(t, res, "log.dirs"); !ld.ReadOnly || ld.Source != kmsg.ConfigSourceStaticBrokerConfig && ld.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("log.dirs: read-only %v source %v", ld.ReadOnly, ld.Source)
	}
	pw := configEntry(t, res, "ssl.key.password")
	if pw.Value != nil || !pw.IsSensitive {
		t.Errorf("password described as %q, sensitive %v", strOrNil(pw.Value), pw.IsSensitive)
	}
	for _, syn := range pw.ConfigSynonyms {
		if syn.Value != nil {
			t.Errorf("password synonym %s carries a value", syn.Name)
		}
	}

	// The cluster default resource lists only what is set in that layer.
	if res := describeConfigs(t, b, 4, kmsg.ConfigResourceTypeBroker, ""); res.ErrorCode != 0 || len(res.Configs) != 0 {
		t.Fatalf("empty cluster default layer: error %d, %d entries", res.ErrorCode, len(res.Configs))
	}
	for _, tc := range []struct {
		name string
		typ  kmsg.ConfigResourceType
		res  string
		want *kerr.Error
	}{
		{"other broker", kmsg.ConfigResourceTypeBroker, "2", kerr.InvalidRequest},
		{"non-numeric broker", kmsg.ConfigResourceTypeBroker, "x", kerr.InvalidRequest},
		{"broker logger", kmsg.ConfigResourceTypeBrokerLogger, node, nil},
		{"broker logger without id", kmsg.ConfigResourceTypeBrokerLogger, "", kerr.InvalidRequest},
		{"broker logger of another node", kmsg.ConfigResourceTypeBrokerLogger, "9", kerr.InvalidRequest},
		{"group", kmsg.ConfigResourceTypeGroupConfig, "g", nil}, // group configs (share_test.go)
		{"group without id", kmsg.ConfigResourceTypeGroupConfig, "", kerr.InvalidRequest},
		{"unknown type", kmsg.ConfigResourceType(99), "x", kerr.InvalidRequest},
	} {
		got := describeConfigs(t, b, 4, tc.typ, tc.res)
		wantCode(t, tc.name, got.ErrorCode, tc.want)
		if tc.want != nil && got.ErrorMessage == nil {
			t.Errorf("%s: no error message", tc.name)
		}
	}
}

// alterConfigs sends one legacy AlterConfigs resource and returns its error code and message.
func alterConfigs(t testing.TB, b *testBroker, validateOnly bool, typ kmsg.ConfigResourceType, name string, kv ...*string) (int16, string) {
	t.Helper()
	req := kmsg.NewPtrAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	for i := 0; i+1 < len(kv); i += 2 {
		rr.Configs = append(rr.Configs, kmsg.AlterConfigsRequestResourceConfig{Name: *kv[i], Value: kv[i+1]})
	}
	req.Resources = append(req.Resources, rr)
	out := rawAt[*kmsg.AlterConfigsResponse](t, b, 2, req).Resources[0]
	return out.ErrorCode, strOrNil(out.ErrorMessage)
}

var strp = kadm.StringPtr

func TestAlterConfigsReplacesTheSet(t *testing.T) {
	b := newTestBroker(t)
	mustCreateTopic(t, b.Admin(t), "legacy", 1, map[string]*string{"retention.ms": strp("1000"), "segment.ms": strp("5000")})

	code, msg := alterConfigs(t, b, false, kmsg.ConfigResourceTypeTopic, "legacy", strp("max.message.bytes"), strp("2000"))
	wantCode(t, "replace "+msg, code, nil)
	tp := b.cluster.lookupTopic("legacy")
	if len(tp.overrides) != 1 || tp.overrides["max.message.bytes"] != "2000" || tp.cfg.MaxMessageBytes != 2000 {
		t.Fatalf("overrides after replace: %v (max.message.bytes in effect %d)", tp.overrides, tp.cfg.MaxMessageBytes)
	}
	if ret := configEntry(t, describeConfigs(t, b, 4, kmsg.ConfigResourceTypeTopic, "legacy"), "retention.ms"); ret.Source == kmsg.ConfigSourceDynamicTopicConfig {
		t.Error("retention.ms override survived a legacy replace that did not name it")
	}

	code, _ = alterConfigs(t, b, true, kmsg.ConfigResourceTypeTopic, "legacy", strp("retention.ms"), strp("5"))
	wantCode(t, "validate only", code, nil)
	if _, ok := b.cluster.lookupTopic("legacy").overrides["retention.ms"]; ok {
		t.Fatal("validate_only changed the topic")
	}

	// Broker resources: the cluster default and this node, each shown with its own source.
	node := strconv.Itoa(int(b.cfg.NodeID))
	code, msg = alterConfigs(t, b, false, kmsg.ConfigResourceTypeBroker, "", strp("log.retention.ms"), strp("7200000"))
	wantCode(t, "cluster default "+msg, code, nil)
	ret := configEntry(t, describeConfigs(t, b, 4, kmsg.ConfigResourceTypeTopic, "legacy"), "retention.ms")
	if strOrNil(ret.Value) != "7200000" || ret.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("retention.ms after cluster default: %s source %v", strOrNil(ret.Value), ret.Source)
	}
	if got := b.cluster.lookupTopic("legacy").cfg.RetentionMs; got != 7200000 {
		t.Errorf("retention in effect %d, want the new cluster default", got)
	}
	def := describeConfigs(t, b, 4, kmsg.ConfigResourceTypeBroker, "")
	if len(def.Configs) != 1 || def.Configs[0].Name != "log.retention.ms" || def.Configs[0].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("cluster default resource: %+v", def.Configs)
	}
	// "01" names node 1 too, and must land in the set node 1 reads.
	code, _ = alterConfigs(t, b, false, kmsg.ConfigResourceTypeBroker, "0"+node, strp("log.retention.ms"), strp("3600000"))
	wantCode(t, "node", code, nil)
	if got := b.cluster.store.State().NodeBrokerConfigs[node]; got["log.retention.ms"] != "3600000" {
		t.Fatalf("node %s dynamic set %v", node, got)
	}
	ret = configEntry(t, describeConfigs(t, b, 4, kmsg.ConfigResourceTypeTopic, "legacy"), "retention.ms")
	if strOrNil(ret.Value) != "3600000" || ret.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Errorf("retention.ms after node override: %s source %v", strOrNil(ret.Value), ret.Source)
	}

	// Everything survives a restart.
	dir := b.Dir
	b.stop(t)
	b2 := startTestBroker(t, dir)
	if tp := b2.cluster.lookupTopic("legacy"); tp.overrides["max.message.bytes"] != "2000" || tp.cfg.RetentionMs != 3600000 {
		t.Fatalf("after restart: overrides %v retention %d", tp.overrides, tp.cfg.RetentionMs)
	}
}

func TestAlterConfigsErrors(t *testing.T) {
	b := newTestBroker(t)
	mustCreateTopic(t, b.Admin(t), "t", 1, nil)
	topic, broker := kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeBroker
	cases := []struct {
		name string
		typ  kmsg.ConfigResourceType
		res  string
		kv   []*string
		want *kerr.Error
	}{
		{"unknown topic", topic, "nope", []*string{strp("retention.ms"), strp("1")}, kerr.UnknownTopicOrPartition},
		{"unknown key", topic, "t", []*string{strp("no.such.key"), strp("1")}, kerr.InvalidConfig},
		{"bad value", topic, "t", []*string{strp("retention.ms"), strp("soon")}, kerr.InvalidConfig},
		{"null value", topic, "t", []*string{strp("retention.ms"), nil}, kerr.InvalidRequest},
		{"key twice", topic, "t", []*string{strp("retention.ms"), strp("1"), strp("retention.ms"), strp("2")}, kerr.InvalidRequest},
		{"static broker key", broker, "", []*string{strp("log.dirs"), strp("/tmp/x")}, kerr.InvalidConfig},
		{"unknown broker key", broker, "", []*string{strp("no.such.key"), strp("1")}, kerr.InvalidConfig},
		{"other broker", broker, "2", []*string{strp("num.partitions"), strp("2")}, kerr.InvalidRequest},
		{"broker logger", kmsg.ConfigResourceTypeBrokerLogger, "1", nil, kerr.InvalidRequest},
	}
	for _, tc := range cases {
		code, msg := alterConfigs(t, b, false, tc.typ, tc.res, tc.kv...)
		wantCode(t, tc.name+": "+msg, code, tc.want)
	}
	if len(b.cluster.lookupTopic("t").overrides) != 0 {
		t.Fatal("a failed alter changed the topic")
	}

	// A resource named twice fails every copy.
	req := kmsg.NewPtrAlterConfigsRequest()
	for range 2 {
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = topic, "t"
		req.Resources = append(req.Resources, rr)
	}
	for _, r := range rawAt[*kmsg.AlterConfigsResponse](t, b, 1, req).Resources {
		wantCode(t, "resource twice", r.ErrorCode, kerr.InvalidRequest)
	}
}

// incAlter sends one IncrementalAlterConfigs resource and returns its error code and message.
func incAlter(t testing.TB, b *testBroker, typ kmsg.ConfigResourceType, name string, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) (int16, string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.Configs = typ, name, ops
	req.Resources = append(req.Resources, rr)
	out := rawAt[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, req).Resources[0]
	return out.ErrorCode, strOrNil(out.ErrorMessage)
}

func alterOp(o kmsg.IncrementalAlterConfigOp, name string, value *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	return kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: name, Op: o, Value: value}
}

func TestIncrementalAlterConfigs(t *testing.T) {
	b := newTestBroker(t)
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "inc", 1, map[string]*string{"retention.ms": strp("1000")})
	overrides := func() map[string]string { return b.cluster.lookupTopic("inc").overrides }

	// kadm's SET and DELETE.
	rs, err := adm.AlterTopicConfigs(testContext(t), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.ms", Value: strp("60000")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, "inc")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, rs)
	}
	if got := overrides(); len(got) != 1 || got["segment.ms"] != "60000" {
		t.Fatalf("overrides %v, want only segment.ms", got)
	}

	// APPEND starts from the value in effect ("delete") and skips items present; SUBTRACT removes.
	set, del, app, sub := kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete,
		kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract
	code, msg := incAlter(t, b, kmsg.ConfigResourceTypeTopic, "inc", alterOp(app, "cleanup.policy", strp("compact,delete")))
	wantCode(t, "append "+msg, code, nil)
	if got := overrides()["cleanup.policy"]; got != "delete,compact" {
		t.Fatalf("cleanup.policy after append %q, want delete,compact", got)
	}
	code, _ = incAlter(t, b, kmsg.ConfigResourceTypeTopic, "inc", alterOp(sub, "cleanup.policy", strp("delete")))
	wantCode(t, "subtract", code, nil)
	if got := overrides()["cleanup.policy"]; got != "compact" || !b.cluster.lookupTopic("inc").cfg.Compacted() {
		t.Fatalf("cleanup.policy after subtract %q", got)
	}

	cases := []struct {
		name string
		typ  kmsg.ConfigResourceType
		res  string
		ops  []kmsg.IncrementalAlterConfigsRequestResourceConfig
		want *kerr.Error
	}{
		{"append to a non-list", kmsg.ConfigResourceTypeTopic, "inc", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp(app, "retention.ms", strp("1"))}, kerr.InvalidConfig},
		{"unknown op", kmsg.ConfigResourceTypeTopic, "inc", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp(9, "retention.ms", strp("1"))}, kerr.InvalidRequest},
		{"null set", kmsg.ConfigResourceTypeTopic, "inc", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp(set, "retention.ms", nil)}, kerr.InvalidRequest},
		{"key twice", kmsg.ConfigResourceTypeTopic, "inc", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp(set, "retention.ms", strp("1")), alterOp(del, "retention.ms", nil)}, kerr.InvalidRequest},
		{"unknown key", kmsg.ConfigResourceTypeTopic, "inc", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp(set, "nope", strp("1"))}, kerr.InvalidConfig},
		{"unknown topic", kmsg.ConfigResourceTypeTopic, "nope", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp(set, "retention.ms", strp("1"))}, kerr.UnknownTopicOrPartition},
		{"other broker", kmsg.ConfigResourceTypeBroker, "2", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp(set, "num.partitions", strp("2"))}, kerr.InvalidRequest},
		{"static broker key", kmsg.ConfigResourceTypeBroker, "1", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp(set, "node.id", strp("2"))}, kerr.InvalidConfig},
		{"logger", kmsg.ConfigResourceTypeBrokerLogger, "1", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp(set, "kafka", strp("DEBUG"))}, kerr.InvalidConfig},
		{"no logger change", kmsg.ConfigResourceTypeBrokerLogger, "1", nil, nil},
		{"client metrics", kmsg.ConfigResourceTypeClientMetrics, "m", nil, kerr.InvalidRequest},
	}
	for _, tc := range cases {
		code, msg := incAlter(t, b, tc.typ, tc.res, tc.ops...)
		wantCode(t, tc.name+": "+msg, code, tc.want)
	}
	if got := overrides(); len(got) != 2 {
		t.Fatalf("failed alters changed the overrides: %v", got)
	}

	// Broker list keys, the cluster default layer, and DELETE with a null value.
	code, msg = incAlter(t, b, kmsg.ConfigResourceTypeBroker, "", alterOp(app, "log.cleanup.policy", strp("compact")), alterOp(set, "num.partitions", strp("4")))
	wantCode(t, "broker append "+msg, code, nil)
	if got := b.cluster.store.State().ClusterBrokerConfigs; got["log.cleanup.policy"] != "delete,compact" || got["num.partitions"] != "4" {
		t.Fatalf("cluster default layer %v", got)
	}
	code, _ = incAlter(t, b, kmsg.ConfigResourceTypeBroker, "", alterOp(del, "num.partitions", nil))
	wantCode(t, "broker delete", code, nil)
	if _, ok := b.cluster.store.State().ClusterBrokerConfigs["num.partitions"]; ok {
		t.Fatal("DELETE left the key")
	}
}

// TestIncrementalAlterConfigsConcurrent checks that concurrent requests each changing one key
// never lose each other's changes (the read-modify-write happens under the admin lock).
func TestIncrementalAlterConfigsConcurrent(t *testing.T) {
	b := newTestBroker(t)
	mustCreateTopic(t, b.Admin(t), "race", 1, nil)
	keys := []string{"retention.ms", "segment.ms", "max.message.bytes", "retention.bytes",
		"file.delete.delay.ms", "flush.ms", "flush.messages", "message.timestamp.after.max.ms"}
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, msg := incAlter(t, b, kmsg.ConfigResourceTypeTopic, "race",
				alterOp(kmsg.IncrementalAlterConfigOpSet, k, strp(fmt.Sprint(100000+i))))
			wantCode(t, k+": "+msg, code, nil)
		}()
	}
	wg.Wait()
	if got := b.cluster.lookupTopic("race").overrides; len(got) != len(keys) {
		t.Fatalf("overrides %v: %d of %d concurrent changes kept", got, len(got), len(keys))
	}
}

func TestEditList(t *testing.T) {
	cases := []struct {
		base   *string
		items  string
		append bool
		want   string
	}{
		{nil, "a,b", true, "a,b"},
		{strp("a"), "a,b", true, "a,b"},
		{strp("a, b ,,c"), "d", true, "a,b,c,d"},
		{strp("a,b,a"), "a", false, "b"},
		{strp("a"), "z", false, "a"},
		{nil, "a", false, ""},
		{strp(""), ",,", true, ""},
	}
	for _, tc := range cases {
		if got := editList(tc.base, tc.items, tc.append); got != tc.want {
			t.Errorf("editList(%q, %q, %v) = %q, want %q", strOrNil(tc.base), tc.items, tc.append, got, tc.want)
		}
	}
	if strings.Contains(editList(strp("x"), "y", true), " ") {
		t.Error("spaces in a joined list")
	}
}
