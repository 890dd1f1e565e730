package broker

// AlterConfigs (key 33), v0–v2: the legacy, non-incremental API.
//
// Each resource's config list REPLACES its whole override set: keys the request does not name are
// deleted (Kafka's ConfigurationControlManager.legacyAlterConfigResource). Resources: TOPIC
// (unknown topic: UNKNOWN_TOPIC_OR_PARTITION) and BROKER named "" (the dynamic cluster default)
// or by this node's id (any other name: INVALID_REQUEST). BROKER_LOGGER and every other type are
// INVALID_REQUEST, as in Kafka. A resource listed twice gets INVALID_REQUEST for every copy, a
// key listed twice or a null value INVALID_REQUEST for its resource. Unknown keys, bad values and
// broker keys that cannot change at runtime are INVALID_CONFIG (for broker keys Kafka answers
// INVALID_REQUEST, which KAFKA-13609 calls a mistake). validate_only checks without storing.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleAlterConfigs(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	keys := make([]resourceKey, len(req.Resources))
	for i, rr := range req.Resources {
		keys[i] = resourceKey{rr.ResourceType, rr.ResourceName}
	}
	dups := duplicateResources(keys)
	denied := configDenied(s.newAuthBatch(c, h), h, authz.OpAlterConfigs, req.Resources,
		func(rr kmsg.AlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return rr.ResourceType, rr.ResourceName
		})
	for i, rr := range req.Resources {
		out := kmsg.NewAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dups[keys[i]] {
			err = newAPIError(kerr.InvalidRequest, "each resource must appear at most once")
		} else if err = denied(rr); err == nil {
			err = s.alterResource(rr, req.ValidateOnly, s.topicCheck(c, h))
		}
		out.ErrorCode, out.ErrorMessage = errorCode(err)
		if err == nil && !req.ValidateOnly {
			s.logger.Info("configs replaced by request", "resource_type", rr.ResourceType.String(),
				"resource", rr.ResourceName, "client_id", h.clientID, "remote", c.remote)
			if rr.ResourceType == kmsg.ConfigResourceTypeBroker {
				names := make([]string, len(rr.Configs))
				for i, rc := range rr.Configs {
					names[i] = rc.Name
				}
				c.brokerConfigChanged("AlterConfigs", names)
			}
		}
		resp.Resources = append(resp.Resources, out)
	}
	return respond(resp)
}

// alterResource replaces one resource's override set.
func (s *Server) alterResource(rr kmsg.AlterConfigsRequestResource, validateOnly bool, policy func(authz.TopicChange) error) error {
	names := make([]string, len(rr.Configs))
	var nulls []string
	set := make(map[string]string, len(rr.Configs))
	for i, rc := range rr.Configs {
		names[i] = rc.Name
		if rc.Value == nil {
			nulls = append(nulls, rc.Name)
			continue
		}
		set[rc.Name] = *rc.Value
	}
	if err := checkConfigList(names, nulls); err != nil {
		return err
	}
	if len(set) == 0 {
		set = nil
	}
	replace := func(map[string]string) (map[string]string, error) { return set, nil }
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if err := refuseInternalChange(rr.ResourceName); err != nil {
			return err
		}
		return s.cluster.updateTopicConfigs(rr.ResourceName, s.policyChecked(rr.ResourceName, replace, policy, validateOnly), validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		set, err := s.brokerConfigSet(rr.ResourceName)
		if err != nil {
			return err
		}
		return s.cluster.updateBrokerConfigs(set, replace, validateOnly)
	case kmsg.ConfigResourceTypeGroupConfig:
		return s.updateGroupConfigs(rr.ResourceName, replace, validateOnly)
	default:
		return newAPIError(kerr.InvalidRequest, "unknown resource type %d", rr.ResourceType)
	}
}

// checkConfigList applies the request-level checks both alter APIs share (Kafka's
// ConfigAdminManager.preprocess): no key twice, no null value where one is needed.
func checkConfigList(names, nulls []string) error {
	if len(duplicateNames(names)) > 0 {
		return newAPIError(kerr.InvalidRequest, "error due to duplicate config keys")
	}
	if len(nulls) > 0 {
		return newAPIError(kerr.InvalidRequest, "null value not supported for : %s", strings.Join(nulls, ", "))
	}
	return nil
}
