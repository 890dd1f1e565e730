package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

type sy struct {
	name, value string
	source      int8
}

func synonyms(e Entry) []sy {
	var out []sy
	for _, s := range e.Synonyms {
		v := "<nil>"
		if s.Value != nil {
			v = *s.Value
		}
		out = append(out, sy{s.Name, v, s.Source})
	}
	return out
}

func value(e Entry) string {
	if e.Value == nil {
		return "<nil>"
	}
	return *e.Value
}

func TestDescribeTopic(t *testing.T) {
	static := mustParse(t, "log.retention.ms=100\nlog.retention.hours=2\nlog.segment.bytes=1000000")
	c := static.WithDynamic(map[string]string{"log.retention.minutes": "3"})
	tests := []struct {
		name      string
		c         *Config
		overrides map[string]string
		key       string
		value     string
		source    int8
		syns      []sy
	}{
		{"all layers", c, map[string]string{"retention.ms": "5"}, "retention.ms", "5", SourceTopic, []sy{
			{"retention.ms", "5", SourceTopic},
			{"log.retention.minutes", "3", SourceDynamicBroker},
			{"log.retention.ms", "100", SourceStatic},
			{"log.retention.hours", "2", SourceStatic},
			{"log.retention.hours", "168", SourceDefault},
		}},
		{"dynamic converted to ms", c, nil, "retention.ms", "180000", SourceDynamicBroker, []sy{
			{"log.retention.minutes", "3", SourceDynamicBroker},
			{"log.retention.ms", "100", SourceStatic},
			{"log.retention.hours", "2", SourceStatic},
			{"log.retention.hours", "168", SourceDefault},
		}},
		{"default converted to ms", Default(), nil, "retention.ms", "604800000", SourceDefault, []sy{
			{"log.retention.hours", "168", SourceDefault},
		}},
		{"static", static, nil, "segment.bytes", "1000000", SourceStatic, []sy{
			{"log.segment.bytes", "1000000", SourceStatic},
			{"log.segment.bytes", "1073741824", SourceDefault},
		}},
		{"no broker synonym", c, nil, "remote.storage.enable", "false", SourceDefault, nil},
		{"null-default synonym skipped", Default(), nil, "flush.ms", "9223372036854775807", SourceDefault, []sy{
			{"log.flush.scheduler.interval.ms", "9223372036854775807", SourceDefault},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es := tc.c.DescribeTopic(tc.overrides, []string{tc.key})
			if len(es) != 1 {
				t.Fatalf("%d entries", len(es))
			}
			e := es[0]
			if e.Name != tc.key || value(e) != tc.value || e.Source != tc.source || e.ReadOnly || e.Sensitive || e.Doc == "" {
				t.Fatalf("entry %s=%s source %d", e.Name, value(e), e.Source)
			}
			if got := synonyms(e); !reflect.DeepEqual(got, tc.syns) {
				t.Fatalf("synonyms\n got %v\nwant %v", got, tc.syns)
			}
		})
	}
	all := c.DescribeTopic(nil, nil)
	if len(all) != len(TopicDefs()) {
		t.Fatalf("all: %d entries, %d keys", len(all), len(TopicDefs()))
	}
	some := c.DescribeTopic(nil, []string{"segment.ms", "nope", "cleanup.policy", "segment.ms"})
	if len(some) != 2 || some[0].Name != "segment.ms" || some[1].Name != "cleanup.policy" || some[1].Type != TypeList {
		t.Fatalf("selected: %+v", some)
	}
}

func TestDescribeBroker(t *testing.T) {
	c := mustParse(t, "ssl.keystore.password=hunter2\nlog.retention.hours=2\nnum.partitions=3\nlisteners=PLAINTEXT://:9092\nlistener.name.plaintext.ssl.key.password=pw")
	es := c.DescribeBroker(map[string]string{"log.retention.ms": "9", "num.partitions": "4"}, nil)
	byName := map[string]Entry{}
	for _, e := range es {
		byName[e.Name] = e
	}
	if len(byName) != len(BrokerDefs())+1 {
		t.Fatalf("%d entries for %d keys (+1 listener key)", len(byName), len(BrokerDefs()))
	}
	pw := byName["ssl.keystore.password"]
	if pw.Value != nil || !pw.Sensitive || pw.Type != TypePassword || pw.Source != SourceStatic || pw.Synonyms[0].Value != nil {
		t.Fatalf("password entry leaks: %+v", pw)
	}
	if lp := byName["listener.name.plaintext.ssl.key.password"]; lp.Value != nil || !lp.Sensitive || lp.Source != SourceStatic {
		t.Fatalf("listener password: %+v", lp)
	}
	for _, e := range es {
		for _, s := range e.Synonyms {
			if s.Value != nil && strings.Contains(*s.Value, "hunter2") || e.Value != nil && *e.Value == "pw" {
				t.Fatalf("secret in %s", e.Name)
			}
		}
	}
	np := byName["num.partitions"]
	if value(np) != "4" || np.Source != SourceDynamicBroker || np.ReadOnly {
		t.Fatalf("num.partitions: %s %d", value(np), np.Source)
	}
	wantSyns := []sy{{"num.partitions", "4", SourceDynamicBroker}, {"num.partitions", "3", SourceStatic}, {"num.partitions", "1", SourceDefault}}
	if got := synonyms(np); !reflect.DeepEqual(got, wantSyns) {
		t.Fatalf("num.partitions synonyms %v", got)
	}
	rh := byName["log.retention.hours"]
	wantSyns = []sy{{"log.retention.ms", "9", SourceDynamicBroker}, {"log.retention.hours", "2", SourceStatic}, {"log.retention.hours", "168", SourceDefault}}
	if value(rh) != "2" || rh.Source != SourceStatic || !reflect.DeepEqual(synonyms(rh), wantSyns) {
		t.Fatalf("log.retention.hours: %s %d %v", value(rh), rh.Source, synonyms(rh))
	}
	rm := byName["log.retention.minutes"]
	if rm.Value != nil || rm.Source != SourceDefault {
		t.Fatalf("null default: %s %d", value(rm), rm.Source)
	}
	if nid := byName["node.id"]; !nid.ReadOnly || value(nid) != "1" {
		t.Fatalf("node.id: %+v", nid)
	}
	some := c.DescribeBroker(nil, []string{"listeners", "listener.name.plaintext.ssl.client.auth", "bogus"})
	if len(some) != 2 || value(some[0]) != "PLAINTEXT://:9092" || value(some[1]) != "none" {
		t.Fatalf("selected: %+v", some)
	}
	layered := Default().WithDynamicLayers(map[string]string{"num.partitions": "6"}, nil)
	if e := layered.DescribeBroker(nil, []string{"num.partitions"})[0]; value(e) != "6" || e.Source != SourceDynamicDefault {
		t.Fatalf("cluster default layer: %s %d", value(e), e.Source)
	}
	if e := layered.DescribeTopic(nil, []string{"min.insync.replicas"})[0]; value(e) != "1" || e.Source != SourceDefault {
		t.Fatalf("topic default: %+v", e)
	}
}

func TestValidateBrokerDynamic(t *testing.T) {
	if err := ValidateBrokerDynamic(map[string]string{"log.retention.ms": "1000", "message.max.bytes": "2000", "max.connections": "10", "log.cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, val string
		sentinel error
		msg      string
	}{
		{"listeners", "PLAINTEXT://:1", ErrNotDynamic, "cannot be changed at runtime"},
		{"node.id", "2", ErrNotDynamic, "cannot be changed at runtime"},
		{"bogus", "1", ErrUnknownKey, "unknown broker config"},
		{"retention.ms", "1", ErrUnknownKey, "unknown broker config"},
		{"zookeeper.connect", "x", ErrUnsupported, "ZooKeeper"},
		{"log.retention.ms", "soon", ErrInvalidValue, "not a number"},
		{"message.max.bytes", "-5", ErrInvalidValue, "at least 0"},
	}
	for _, tc := range tests {
		err := ValidateBrokerDynamic(map[string]string{tc.key: tc.val})
		if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s=%s: %v", tc.key, tc.val, err)
		}
	}
	err := ValidateBrokerDynamic(map[string]string{"bogus": "1", "node.id": "2", "log.retention.ms": "x"})
	if len(unjoin(err)) != 3 {
		t.Errorf("want every problem: %v", err)
	}
}

func TestIsListConfig(t *testing.T) {
	for name, want := range map[string]bool{
		"cleanup.policy": true, "log.cleanup.policy": true, "leader.replication.throttled.replicas": true,
		"sasl.enabled.mechanisms": true, "listeners": true, "retention.ms": false, "compression.type": false,
		"bogus": false, "listener.name.x.sasl.enabled.mechanisms": true,
	} {
		if got := IsListConfig(name); got != want {
			t.Errorf("IsListConfig(%q) = %v", name, got)
		}
	}
}

func TestLookup(t *testing.T) {
	if d, ok := LookupBroker("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"); !ok || !d.Sensitive {
		t.Errorf("jaas config: %+v %v", d, ok)
	}
	if _, ok := LookupBroker("listener.name.x.log.retention.ms"); ok {
		t.Error("log keys cannot be listener-prefixed")
	}
	if d, ok := LookupTopic("retention.ms"); !ok || d.Type != TypeLong || !d.Dynamic {
		t.Errorf("retention.ms: %+v", d)
	}
	if _, ok := LookupTopic("log.retention.ms"); ok {
		t.Error("broker key found among topic keys")
	}
}
