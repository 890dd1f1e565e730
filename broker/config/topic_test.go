package config

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestEffectiveTopicPrecedence(t *testing.T) {
	static := mustParse(t, "log.retention.hours=2\nlog.segment.bytes=1000000\nmessage.max.bytes=5000\nlog.message.timestamp.type=LogAppendTime\nlog.flush.interval.messages=10")
	tests := []struct {
		name      string
		dynamic   map[string]string
		overrides map[string]string
		check     func(TopicConfig) bool
	}{
		{"default", nil, nil, func(tc TopicConfig) bool {
			return Default().EffectiveTopic(nil).RetentionMs == 604800000
		}},
		{"static broker", nil, nil, func(tc TopicConfig) bool {
			return tc.RetentionMs == 7200000 && tc.SegmentBytes == 1000000 && tc.MaxMessageBytes == 5000 && tc.LogAppendTime && tc.FlushMessages == 10
		}},
		{"dynamic beats static, any synonym", map[string]string{"log.retention.minutes": "3"}, nil, func(tc TopicConfig) bool {
			return tc.RetentionMs == 180000
		}},
		{"dynamic ms beats dynamic hours", map[string]string{"log.retention.hours": "5", "log.retention.ms": "42"}, nil, func(tc TopicConfig) bool {
			return tc.RetentionMs == 42
		}},
		{"override beats dynamic", map[string]string{"log.retention.ms": "42"}, map[string]string{"retention.ms": "7"}, func(tc TopicConfig) bool {
			return tc.RetentionMs == 7
		}},
		{"override timestamp type", nil, map[string]string{"message.timestamp.type": "CreateTime", "max.message.bytes": "100"}, func(tc TopicConfig) bool {
			return !tc.LogAppendTime && tc.MaxMessageBytes == 100
		}},
		{"invalid override ignored", nil, map[string]string{"retention.ms": "x", "bogus": "1"}, func(tc TopicConfig) bool {
			return tc.RetentionMs == 7200000
		}},
		{"static-only dynamic key ignored", map[string]string{"node.id": "9"}, nil, func(tc TopicConfig) bool {
			return true
		}},
		{"compact and lists", nil, map[string]string{"cleanup.policy": "compact, delete", "segment.ms": "10", "flush.ms": "5"}, func(tc TopicConfig) bool {
			return tc.Compacted() && tc.Deletes() && tc.SegmentMs == 10 && tc.FlushMs == 5
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := static.WithDynamic(tc.dynamic)
			if got := c.EffectiveTopic(tc.overrides); !tc.check(got) {
				t.Fatalf("%+v", got)
			}
		})
	}
	// WithDynamic must not change its receiver.
	_ = static.WithDynamic(map[string]string{"log.retention.ms": "1", "log.cleanup.policy": "compact"})
	if static.LogRetentionMs != 7200000 || len(static.Dynamic) != 0 || static.LogCleanupPolicy[0] != "delete" {
		t.Fatalf("receiver modified: %d %v", static.LogRetentionMs, static.Dynamic)
	}
	// Fields set directly (tests do) flow into topics.
	c := Default()
	c.MessageMaxBytes = 2048
	if got := c.WithDynamic(nil).EffectiveTopic(nil).MaxMessageBytes; got != 2048 {
		t.Fatalf("direct field: %d", got)
	}
	if d := Default().EffectiveTopic(nil); d.FlushMs != math.MaxInt64 || d.TimestampAfterMaxMs != math.MaxInt64 {
		t.Fatalf("unset flush/timestamps: %+v", d)
	}
}

func TestWithDynamicLayers(t *testing.T) {
	c := mustParse(t, "log.retention.ms=1").WithDynamicLayers(
		map[string]string{"log.retention.hours": "1", "log.segment.bytes": "2000"},
		map[string]string{"log.segment.bytes": "3000"})
	tc := c.EffectiveTopic(nil)
	if tc.RetentionMs != 3600000 || tc.SegmentBytes != 3000 {
		t.Fatalf("%+v", tc)
	}
	if c.DynamicDefault["log.retention.hours"] != "1" || c.Dynamic["log.segment.bytes"] != "3000" {
		t.Fatalf("layers %v %v", c.DynamicDefault, c.Dynamic)
	}
}

func TestValidateTopicConfigs(t *testing.T) {
	good := map[string]string{
		"retention.ms": "-1", "retention.bytes": "1048576", "segment.bytes": "1048576", "segment.ms": "1",
		"cleanup.policy": "compact,delete", "compression.type": "zstd", "message.timestamp.type": "LogAppendTime",
		"max.message.bytes": "0", "min.insync.replicas": "1", "min.cleanable.dirty.ratio": "0.1",
		"leader.replication.throttled.replicas": "0:1,1:1", "follower.replication.throttled.replicas": "*",
		"message.downconversion.enable": "false", "local.retention.ms": "-2", "preallocate": "TRUE",
		"message.timestamp.before.max.ms": "0", "flush.messages": "1", "unclean.leader.election.enable": "false",
	}
	if err := ValidateTopicConfigs(good); err != nil {
		t.Fatal(err)
	}
	if err := ValidateTopicConfigs(nil); err != nil {
		t.Fatal(err)
	}
	bad := []struct{ key, val, msg string }{
		{"retention.ms", "-2", "at least -1"},
		{"retention.ms", "1d", "not a number"},
		{"segment.bytes", "13", "at least 14"},
		{"segment.bytes", "4294967296", "out of range"},
		{"segment.ms", "0", "at least 1"},
		{"cleanup.policy", "", "at least one"},
		{"cleanup.policy", "compact,shred", "one of"},
		{"compression.type", "lzma", "one of"},
		{"message.timestamp.type", "Now", "one of"},
		{"min.insync.replicas", "0", "at least 1"},
		{"min.cleanable.dirty.ratio", "2", "between"},
		{"preallocate", "1", "not a boolean"},
		{"leader.replication.throttled.replicas", "x", "partition:broker"},
		{"local.retention.bytes", "-3", "at least -2"},
		{"retention.hours", "1", "unknown topic config"},
		{"log.retention.ms", "1", "unknown topic config"},
	}
	for _, b := range bad {
		err := ValidateTopicConfigs(map[string]string{b.key: b.val})
		if err == nil || !strings.Contains(err.Error(), "config: "+b.key+": ") || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("%s=%q: got %v, want %q", b.key, b.val, err, b.msg)
		}
	}
	err := ValidateTopicConfigs(map[string]string{"a": "1", "retention.ms": "x", "segment.ms": "0"})
	if n := len(unjoin(err)); n != 3 || !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("want all three problems: %v", err)
	}
}
