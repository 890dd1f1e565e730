package broker

// DescribeConfigs (key 32), v0–v4.
//
// Resources (Kafka's ConfigHelper.describeConfigs):
//   - TOPIC: every topic key (or the requested ones; unknown keys are left out) with its
//     effective value and source: topic override, dynamic broker, dynamic cluster default, static
//     broker file, default. An invalid name is INVALID_TOPIC_EXCEPTION, an unknown topic
//     UNKNOWN_TOPIC_OR_PARTITION.
//   - BROKER named by this node's id: every broker key. Named "": only the keys set in the
//     dynamic cluster-default layer, with synonyms from that layer alone, as Kafka does. Any other
//     name is INVALID_REQUEST.
//   - BROKER_LOGGER named by this node's id: an empty list (this broker logs through log/slog and
//     has no named loggers to report); an empty or other name is INVALID_REQUEST.
//   - anything else (CLIENT_METRICS, GROUP, unknown): INVALID_REQUEST.
//
// Sensitive values are null with is_sensitive set. Synonyms (v1+) are listed, in precedence
// order, only when include_synonyms is set; documentation (v3+) only when include_documentation
// is. v0 has is_default in place of a source; it is set when the source is DEFAULT. Kafka 4.0
// dropped v0; serving it costs nothing.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

func (s *Server) handleDescribeConfigs(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	st := s.cluster.store.State()
	view := s.configView(st)
	denied := configDenied(s.newAuthBatch(c, h), h, authz.OpDescribeConfigs, req.Resources,
		func(rr kmsg.DescribeConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return rr.ResourceType, rr.ResourceName
		})
	for _, rr := range req.Resources {
		out := kmsg.NewDescribeConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []config.Entry
		err := denied(rr)
		if err == nil {
			entries, err = s.describeResource(view, st, rr)
		}
		out.ErrorCode, out.ErrorMessage = errorCode(err)
		out.Configs = make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(entries))
		for _, e := range entries {
			out.Configs = append(out.Configs, describedConfig(e, req))
		}
		resp.Resources = append(resp.Resources, out)
	}
	return respond(resp)
}

func (s *Server) describeResource(view *config.Config, st *meta.State, rr kmsg.DescribeConfigsRequestResource) ([]config.Entry, error) {
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if why := validTopicName(rr.ResourceName); why != "" {
			return nil, newAPIError(kerr.InvalidTopicException, "%s", why)
		}
		t := s.cluster.lookupTopic(rr.ResourceName)
		if t == nil {
			return nil, newAPIError(kerr.UnknownTopicOrPartition, "topic '%s' does not exist", rr.ResourceName)
		}
		return view.DescribeTopic(t.overrides, rr.ConfigNames), nil
	case kmsg.ConfigResourceTypeBroker:
		if rr.ResourceName == "" {
			return clusterDefaultEntries(view, st.ClusterBrokerConfigs, rr.ConfigNames), nil
		}
		if err := s.checkNodeName(rr.ResourceName); err != nil {
			return nil, err
		}
		return view.DescribeBroker(nil, rr.ConfigNames), nil
	case kmsg.ConfigResourceTypeBrokerLogger:
		if rr.ResourceName == "" {
			return nil, newAPIError(kerr.InvalidRequest, "broker id must not be empty")
		}
		if err := s.checkNodeName(rr.ResourceName); err != nil {
			return nil, err
		}
		return nil, nil
	case kmsg.ConfigResourceTypeGroupConfig:
		return s.describeGroupConfigs(view, st, rr.ResourceName, rr.ConfigNames)
	default:
		return nil, newAPIError(kerr.InvalidRequest, "unsupported resource type: %d", rr.ResourceType)
	}
}

// clusterDefaultEntries describes the dynamic cluster-default layer (the broker resource named
// ""): only the keys set there (and requested), each with that layer's value and synonyms.
func clusterDefaultEntries(view *config.Config, defaults map[string]string, requested []string) []config.Entry {
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(defaults)) {
		if len(requested) == 0 || slices.Contains(requested, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil // DescribeBroker with no keys would list every key
	}
	entries := view.DescribeBroker(nil, keys)
	for i := range entries {
		e := &entries[i]
		var syns []config.Synonym
		for _, syn := range e.Synonyms {
			if syn.Source == config.SourceDynamicDefault {
				syns = append(syns, syn)
			}
		}
		e.Synonyms = syns
		e.Source = config.SourceDynamicDefault
		e.Value = nil
		if v, ok := defaults[e.Name]; ok && !e.Sensitive {
			e.Value = &v
		}
	}
	return entries
}

// describedConfig converts one config entry to its wire form for the request's version and
// flags.
func describedConfig(e config.Entry, req *kmsg.DescribeConfigsRequest) kmsg.DescribeConfigsResponseResourceConfig {
	rc := kmsg.NewDescribeConfigsResponseResourceConfig()
	rc.Name = e.Name
	if !e.Sensitive {
		rc.Value = e.Value
	}
	rc.ReadOnly = e.ReadOnly
	rc.IsSensitive = e.Sensitive
	rc.IsDefault = e.Source == config.SourceDefault
	rc.Source = kmsg.ConfigSource(e.Source)
	rc.ConfigType = kmsg.ConfigType(e.Type)
	if req.IncludeSynonyms {
		rc.ConfigSynonyms = make([]kmsg.DescribeConfigsResponseResourceConfigConfigSynonym, 0, len(e.Synonyms))
		for _, syn := range e.Synonyms {
			rs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			rs.Name = syn.Name
			if !e.Sensitive {
				rs.Value = syn.Value
			}
			rs.Source = kmsg.ConfigSource(syn.Source)
			rc.ConfigSynonyms = append(rc.ConfigSynonyms, rs)
		}
	}
	if req.IncludeDocumentation {
		doc := e.Doc
		rc.Documentation = &doc
	}
	return rc
}
