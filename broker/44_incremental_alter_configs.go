package broker

// IncrementalAlterConfigs (key 44), v0–v1.
//
// Operations: SET (0) a value, DELETE (1) an override, APPEND (2) and SUBTRACT (3) comma-
// separated items to or from a LIST key (any other key: INVALID_CONFIG, "its type is not LIST");
// an unknown operation is INVALID_REQUEST. The new override set is computed from the current one
// and stored whole, under the cluster's admin lock, so concurrent requests never lose each
// other's changes. APPEND skips items already present; SUBTRACT removes every copy. Deviation:
// APPEND or SUBTRACT on a key without an override starts from the value currently in effect
// (which may come from a broker setting), where Kafka starts from the key's static default.
//
// Resources, duplicates and null values follow AlterConfigs (33_alter_configs.go): TOPIC, BROKER
// ("" or this node's id); a resource listed twice or a key listed twice is INVALID_REQUEST, as is
// a null value for any operation but DELETE. BROKER_LOGGER named by this node accepts an empty
// change list and answers INVALID_CONFIG ("logger does not exist") for any logger name, since
// this broker has no named loggers (consistent with DescribeConfigs listing none); another name is
// INVALID_REQUEST. validate_only checks without storing.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

func (s *Server) handleIncrementalAlterConfigs(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	keys := make([]resourceKey, len(req.Resources))
	for i, rr := range req.Resources {
		keys[i] = resourceKey{rr.ResourceType, rr.ResourceName}
	}
	dups := duplicateResources(keys)
	denied := configDenied(s.newAuthBatch(c, h), h, authz.OpAlterConfigs, req.Resources,
		func(rr kmsg.IncrementalAlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return rr.ResourceType, rr.ResourceName
		})
	for i, rr := range req.Resources {
		out := kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dups[keys[i]] {
			err = newAPIError(kerr.InvalidRequest, "each resource must appear at most once")
		} else if err = denied(rr); err == nil {
			err = s.incrementalAlter(rr, req.ValidateOnly, s.topicCheck(c, h))
		}
		out.ErrorCode, out.ErrorMessage = errorCode(err)
		if err == nil && !req.ValidateOnly && len(rr.Configs) > 0 {
			s.logger.Info("configs altered by request", "resource_type", rr.ResourceType.String(),
				"resource", rr.ResourceName, "client_id", h.clientID, "remote", c.remote)
			if rr.ResourceType == kmsg.ConfigResourceTypeBroker {
				names := make([]string, len(rr.Configs))
				for i, rc := range rr.Configs {
					names[i] = rc.Name
				}
				c.brokerConfigChanged("IncrementalAlterConfigs", names)
			}
		}
		resp.Resources = append(resp.Resources, out)
	}
	return respond(resp)
}

func (s *Server) incrementalAlter(rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool, policy func(authz.TopicChange) error) error {
	names := make([]string, len(rr.Configs))
	var nulls []string
	for i, rc := range rr.Configs {
		names[i] = rc.Name
		if rc.Value == nil && rc.Op != kmsg.IncrementalAlterConfigOpDelete {
			nulls = append(nulls, rc.Name)
		}
		if rc.Op < kmsg.IncrementalAlterConfigOpSet || rc.Op > kmsg.IncrementalAlterConfigOpSubtract {
			return newAPIError(kerr.InvalidRequest, "unknown operations type %d", rc.Op)
		}
	}
	if err := checkConfigList(names, nulls); err != nil {
		return err
	}
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if err := refuseInternalChange(rr.ResourceName); err != nil {
			return err
		}
		return s.cluster.updateTopicConfigs(rr.ResourceName, s.policyChecked(rr.ResourceName, func(cur map[string]string) (map[string]string, error) {
			inEffect := func(key string) *string {
				view := s.configView(s.cluster.store.State())
				return entryValue(view.DescribeTopic(cur, []string{key}))
			}
			return applyConfigOps(cur, rr.Configs, topicListKey, inEffect)
		}, policy, validateOnly), validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		set, err := s.brokerConfigSet(rr.ResourceName)
		if err != nil {
			return err
		}
		return s.cluster.updateBrokerConfigs(set, func(cur map[string]string) (map[string]string, error) {
			inEffect := func(key string) *string {
				view := s.configView(s.cluster.store.State())
				return entryValue(view.DescribeBroker(nil, []string{key}))
			}
			return applyConfigOps(cur, rr.Configs, brokerListKey, inEffect)
		}, validateOnly)
	case kmsg.ConfigResourceTypeBrokerLogger:
		if err := s.checkNodeName(rr.ResourceName); err != nil {
			return err
		}
		if len(rr.Configs) > 0 {
			return newAPIError(kerr.InvalidConfig, "logger %s does not exist", rr.Configs[0].Name)
		}
		return nil
	case kmsg.ConfigResourceTypeGroupConfig:
		return s.updateGroupConfigs(rr.ResourceName, func(cur map[string]string) (map[string]string, error) {
			inEffect := func(key string) *string {
				entries, _ := s.describeGroupConfigs(s.configView(s.cluster.store.State()), s.cluster.store.State(), rr.ResourceName, []string{key})
				return entryValue(entries)
			}
			return applyConfigOps(cur, rr.Configs, groupListKey, inEffect)
		}, validateOnly)
	default:
		return newAPIError(kerr.InvalidRequest, "unknown resource type %d", rr.ResourceType)
	}
}

func topicListKey(name string) bool {
	d, ok := config.LookupTopic(name)
	return ok && d.Type == config.TypeList
}

func brokerListKey(name string) bool {
	d, ok := config.LookupBroker(name)
	return ok && d.Type == config.TypeList
}

// entryValue is the value of the single entry a one-key Describe returned, nil if none.
func entryValue(entries []config.Entry) *string {
	if len(entries) == 0 {
		return nil
	}
	return entries[0].Value
}

// applyConfigOps returns a new override set: cur (never modified) with ops applied in order.
// isList says whether a key may be APPENDed to or SUBTRACTed from; inEffect gives a key's
// current effective value, the starting list for APPEND and SUBTRACT on a key without an override.
func applyConfigOps(cur map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig,
	isList func(string) bool, inEffect func(string) *string) (map[string]string, error) {
	next := maps.Clone(cur)
	if next == nil {
		next = make(map[string]string, len(ops))
	}
	for _, op := range ops {
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			next[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, op.Name)
		default:
			if !isList(op.Name) {
				return nil, newAPIError(kerr.InvalidConfig, "can't %s to key %s because its type is not LIST", op.Op, op.Name)
			}
			var base *string
			if v, ok := next[op.Name]; ok {
				base = &v
			} else {
				base = inEffect(op.Name)
			}
			next[op.Name] = editList(base, *op.Value, op.Op == kmsg.IncrementalAlterConfigOpAppend)
		}
	}
	if len(next) == 0 {
		return nil, nil
	}
	return next, nil
}

// editList appends items (skipping ones already present) to, or subtracts every copy of them
// from, a comma-separated list, as Kafka's ConfigurationControlManager does.
func editList(base *string, items string, appendItems bool) string {
	var parts []string
	if base != nil {
		for _, p := range strings.Split(*base, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
	}
	for _, it := range strings.Split(items, ",") {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
		case appendItems && !slices.Contains(parts, it):
			parts = append(parts, it)
		case !appendItems:
			parts = slices.DeleteFunc(parts, func(p string) bool { return p == it })
		}
	}
	return strings.Join(parts, ",")
}
