package broker

// DescribeClientQuotas (key 48), v0–v1 (KIP-546; flexible from v1).
//
// The filter's components are checked as Kafka checks them: an unknown entity type is
// UNSUPPORTED_VERSION; a type given twice, ip combined with user or client-id, an exact match
// without a name or a default/any match with one is INVALID_REQUEST; both as the top-level error.
// Matching follows KRaft: "any" matches every name of the type, the default included; strict
// requires the entity to have no types beyond the filter's. Entries are sorted by entity.

import (
	"errors"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/quota"
)

func (s *Server) handleDescribeClientQuotas(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if !s.allowed(c, h, authz.OpDescribeConfigs, authz.Cluster) {
		resp.ErrorCode, resp.ErrorMessage = kerr.ClusterAuthorizationFailed.Code, deniedMessage(h)
		return respond(resp)
	}
	components := make([]quota.Component, len(req.Components))
	for i, rc := range req.Components {
		components[i] = quota.Component{Type: rc.EntityType, Match: quota.MatchType(rc.MatchType), Name: rc.Match}
	}
	if err := quota.CheckFilter(components); err != nil {
		code := kerr.InvalidRequest
		if errors.Is(err, quota.ErrUnsupportedType) {
			code = kerr.UnsupportedVersion
		}
		msg := err.Error()
		resp.ErrorCode, resp.ErrorMessage = code.Code, &msg
		return respond(resp)
	}
	st := s.cluster.store.State()
	keys := make([]string, 0, len(st.ClientQuotas))
	for k := range st.ClientQuotas {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cq := st.ClientQuotas[k]
		if !quota.Matches(quota.Entity(cq.Entity), components, req.Strict) {
			continue
		}
		entry := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, typ := range slices.Sorted(maps.Keys(cq.Entity)) {
			e := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			e.Type, e.Name = typ, cq.Entity[typ]
			entry.Entity = append(entry.Entity, e)
		}
		for _, key := range slices.Sorted(maps.Keys(cq.Values)) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = key, cq.Values[key]
			entry.Values = append(entry.Values, v)
		}
		resp.Entries = append(resp.Entries, entry)
	}
	return respond(resp)
}
