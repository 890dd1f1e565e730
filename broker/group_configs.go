package broker

// Group configs (the GROUP config resource, type 32, of DescribeConfigs, AlterConfigs and
// IncrementalAlterConfigs): the per-group settings of share groups (KIP-932), stored in the
// metadata log (meta.SetGroupConfigs). A key Bulwark does not act on is refused, never stored.

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// groupConfigDef is one group config key: its broker-level default and what it accepts.
type groupConfigDef struct {
	name, doc string
	typ       config.Type
	// brokerKey is the broker setting that gives the default (a synonym), "" for a fixed one.
	brokerKey string
	def       func(c *config.Config) string
	check     func(c *config.Config, v string) error
}

func msString(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func msBetween(lo, hi time.Duration) func(*config.Config, string) error {
	return func(_ *config.Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < lo.Milliseconds() || n > hi.Milliseconds() {
			return fmt.Errorf("must be an integer between %d and %d", lo.Milliseconds(), hi.Milliseconds())
		}
		return nil
	}
}

var groupConfigDefs = []groupConfigDef{
	{name: "share.auto.offset.reset", typ: config.TypeString,
		doc: "Where a share group starts on a partition it never consumed: latest or earliest.",
		def: func(*config.Config) string { return "latest" },
		check: func(_ *config.Config, v string) error {
			switch {
			case v == "latest" || v == "earliest":
				return nil
			case strings.HasPrefix(v, "by_duration:"):
				return fmt.Errorf("by_duration is not supported by Bulwark yet; use latest or earliest")
			}
			return fmt.Errorf("must be latest or earliest")
		}},
	{name: "share.record.lock.duration.ms", typ: config.TypeInt, brokerKey: "group.share.record.lock.duration.ms",
		doc: "How long a share consumer holds the records it fetched.",
		def: func(c *config.Config) string { return msString(c.ShareRecordLockDuration) },
		check: func(c *config.Config, v string) error {
			return msBetween(c.ShareMinRecordLockDuration, c.ShareMaxRecordLockDuration)(c, v)
		}},
	{name: "share.isolation.level", typ: config.TypeString,
		doc: "read_uncommitted, or read_committed to hand out only committed transactional records.",
		def: func(*config.Config) string { return "read_uncommitted" },
		check: func(_ *config.Config, v string) error {
			if v != "read_uncommitted" && v != "read_committed" {
				return fmt.Errorf("must be read_uncommitted or read_committed")
			}
			return nil
		}},
	{name: "share.session.timeout.ms", typ: config.TypeInt, brokerKey: "group.share.session.timeout.ms",
		doc:   "Session timeout of the share group's members.",
		def:   func(c *config.Config) string { return msString(c.ShareSessionTimeout) },
		check: func(c *config.Config, v string) error { return msBetween(time.Second, 30*time.Minute)(c, v) }},
	{name: "share.heartbeat.interval.ms", typ: config.TypeInt, brokerKey: "group.share.heartbeat.interval.ms",
		doc:   "Heartbeat interval given to the share group's members.",
		def:   func(c *config.Config) string { return msString(c.ShareHeartbeatInterval) },
		check: func(c *config.Config, v string) error { return msBetween(time.Second, 15*time.Minute)(c, v) }},
}

func lookupGroupConfig(name string) (groupConfigDef, bool) {
	for _, d := range groupConfigDefs {
		if d.name == name {
			return d, true
		}
	}
	return groupConfigDef{}, false
}

// groupConfigs returns a group's dynamic configs (nil when it has none).
func (s *Server) groupConfigs(group string) map[string]string {
	return s.cluster.store.State().GroupConfigs[group]
}

// describeGroupConfigs lists a group's configs: its own values first, else the defaults.
func (s *Server) describeGroupConfigs(view *config.Config, st *meta.State, group string, requested []string) ([]config.Entry, error) {
	if group == "" {
		return nil, newAPIError(kerr.InvalidRequest, "group id must not be empty")
	}
	set := st.GroupConfigs[group]
	var out []config.Entry
	for _, d := range groupConfigDefs {
		if len(requested) > 0 && !slices.Contains(requested, d.name) {
			continue
		}
		def := d.def(view)
		e := config.Entry{Name: d.name, Value: &def, Source: config.SourceDefault, Type: d.typ, Doc: d.doc}
		if d.brokerKey != "" {
			e.Synonyms = append(e.Synonyms, config.Synonym{Name: d.brokerKey, Value: &def, Source: config.SourceDefault})
		}
		if v, ok := set[d.name]; ok {
			v := v
			e.Value, e.Source = &v, int8(kmsg.ConfigSourceGroupConfig)
			e.Synonyms = append([]config.Synonym{{Name: d.name, Value: &v, Source: e.Source}}, e.Synonyms...)
		}
		out = append(out, e)
	}
	return out, nil
}

// updateGroupConfigs computes a group's new config set from its current one with fn, checks it,
// and stores it, under the cluster's admin lock.
func (s *Server) updateGroupConfigs(group string, fn func(cur map[string]string) (map[string]string, error), validateOnly bool) error {
	if group == "" {
		return newAPIError(kerr.InvalidRequest, "group id must not be empty")
	}
	c := s.cluster
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	cur := c.store.State().GroupConfigs[group]
	next, err := fn(cur)
	if err != nil {
		return err
	}
	view := s.configView(c.store.State())
	for _, k := range slices.Sorted(maps.Keys(next)) {
		d, ok := lookupGroupConfig(k)
		if !ok {
			return newAPIError(kerr.InvalidConfig, "unknown group config name: %s (Bulwark supports %s)", k, groupConfigNames())
		}
		if err := d.check(view, next[k]); err != nil {
			return newAPIError(kerr.InvalidConfig, "invalid value %q for group config %s: %v", next[k], k, err)
		}
	}
	if validateOnly || maps.Equal(cur, next) {
		return nil
	}
	if _, err := c.store.Commit(meta.SetGroupConfigs{Group: group, Configs: next}); err != nil {
		return err
	}
	return nil
}

func groupConfigNames() string {
	names := make([]string, len(groupConfigDefs))
	for i, d := range groupConfigDefs {
		names[i] = d.name
	}
	return strings.Join(names, ", ")
}

func groupListKey(string) bool { return false }
