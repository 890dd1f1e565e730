package broker

// AlterClientQuotas (key 49), v0–v1 (KIP-546; flexible from v1).
//
// Each entry is checked on its own, as Kafka's ClientQuotaControlManager does; a bad entry gets
// INVALID_REQUEST and changes nothing: an empty entity, an entity type given twice or unknown,
// ip combined with user or client-id, an ip name that is not an address, an unknown key or one
// that does not apply to the entity's kind, a key given twice, a value that is not positive, a
// fraction for a whole-number key, an empty or over-long name, or the same entity twice in one
// request. IP names are stored in canonical form (IPv4-mapped addresses as IPv4). The good entries
// commit together in one metadata record, take effect for the next request and survive restarts.
// validate_only checks and commits nothing.

import (
	"fmt"
	"maps"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/meta"
	"github.com/bulwark-kafka/bulwark/broker/quota"
)

func (s *Server) handleAlterClientQuotas(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	if !s.allowed(c, h, authz.OpAlterConfigs, authz.Cluster) {
		for _, entry := range req.Entries {
			out := kmsg.NewAlterClientQuotasResponseEntry()
			for _, e := range entry.Entity {
				out.Entity = append(out.Entity, kmsg.AlterClientQuotasResponseEntryEntity{Type: e.Type, Name: e.Name})
			}
			out.ErrorCode, out.ErrorMessage = kerr.ClusterAuthorizationFailed.Code, deniedMessage(h)
			resp.Entries = append(resp.Entries, out)
		}
		return respond(resp)
	}
	s.cluster.adminMu.Lock()
	defer s.cluster.adminMu.Unlock()

	errs := make([]error, len(req.Entries))
	changes := make([]meta.QuotaChange, len(req.Entries))
	seen := map[string]int{}
	for i, entry := range req.Entries {
		changes[i], errs[i] = quotaChange(entry)
		if errs[i] != nil {
			continue
		}
		key := quota.Entity(changes[i].Entity).Key()
		if j, dup := seen[key]; dup {
			err := fmt.Errorf("%w: entity %s appears more than once in the request", quota.ErrInvalid, key)
			errs[i], errs[j] = err, err
		}
		seen[key] = i
	}
	var good []meta.QuotaChange
	for i := range req.Entries {
		if errs[i] == nil && len(changes[i].Set)+len(changes[i].Remove) > 0 {
			good = append(good, changes[i])
		}
	}
	var commitErr error
	if len(good) > 0 && !req.ValidateOnly {
		st, err := s.cluster.store.Commit(meta.SetClientQuotas{Changes: good})
		if err != nil {
			s.logger.Error("alter client quotas: metadata commit failed", "err", err)
			commitErr = err
		} else {
			s.syncQuotas(st)
		}
	}
	for i, entry := range req.Entries {
		out := kmsg.NewAlterClientQuotasResponseEntry()
		for _, e := range entry.Entity {
			oe := kmsg.NewAlterClientQuotasResponseEntryEntity()
			oe.Type, oe.Name = e.Type, e.Name
			out.Entity = append(out.Entity, oe)
		}
		switch {
		case errs[i] != nil:
			msg := errs[i].Error()
			out.ErrorCode, out.ErrorMessage = kerr.InvalidRequest.Code, &msg
		case commitErr != nil:
			msg := "the quota could not be stored; see the broker log"
			out.ErrorCode, out.ErrorMessage = kerr.UnknownServerError.Code, &msg
		case !req.ValidateOnly:
			c.logger.Info("client quota changed", "entity", quota.Entity(changes[i].Entity).Key(),
				"set", changes[i].Set, "removed", changes[i].Remove, "by", c.principalName())
		}
		resp.Entries = append(resp.Entries, out)
	}
	return respond(resp)
}

// quotaChange checks one AlterClientQuotas entry and turns it into a metadata change.
func quotaChange(entry kmsg.AlterClientQuotasRequestEntry) (meta.QuotaChange, error) {
	e := quota.Entity{}
	for _, part := range entry.Entity {
		if _, dup := e[part.Type]; dup {
			return meta.QuotaChange{}, fmt.Errorf("%w: entity type %s appears more than once", quota.ErrInvalid, part.Type)
		}
		e[part.Type] = part.Name
	}
	if err := quota.ValidateEntity(e); err != nil {
		return meta.QuotaChange{}, err
	}
	if n := e[quota.IP]; n != nil {
		// Stored as it is looked up: "::ffff:10.0.0.1" and "10.0.0.1" are one entity.
		norm := quota.NormalizeIP(*n)
		e[quota.IP] = &norm
	}
	ch := meta.QuotaChange{Entity: meta.QuotaEntity(maps.Clone(e))}
	keys := map[string]bool{}
	for _, op := range entry.Ops {
		if keys[op.Key] {
			return meta.QuotaChange{}, fmt.Errorf("%w: quota key %s appears more than once", quota.ErrInvalid, op.Key)
		}
		keys[op.Key] = true
		if op.Remove {
			if err := quota.ValidateKey(e, op.Key); err != nil {
				return meta.QuotaChange{}, err
			}
			ch.Remove = append(ch.Remove, op.Key)
			continue
		}
		if err := quota.ValidateValue(e, op.Key, op.Value); err != nil {
			return meta.QuotaChange{}, err
		}
		if ch.Set == nil {
			ch.Set = map[string]float64{}
		}
		ch.Set[op.Key] = op.Value
	}
	return ch, nil
}
