package meta

import (
	"fmt"
	"maps"

	"github.com/bulwark-kafka/bulwark/broker/quota"
)

// TypeSetClientQuotas is the client-quota record type (see records.go for the others).
const TypeSetClientQuotas RecordType = 13

// Client-quota entity types, as Kafka names them (KIP-546).
const (
	QuotaUser     = quota.User
	QuotaClientID = quota.ClientID
	QuotaIP       = quota.IP
)

// Bounds on stored quotas, so a replayed log cannot make the state grow without limit.
const (
	maxQuotaEntities = 100000
	maxQuotaKeys     = 16
)

// QuotaEntity names what a quota applies to: entity type -> name, where a nil name is the
// type's default entity. Its Key is the canonical form quotas are filed under.
type QuotaEntity = quota.Entity

// ClientQuota is one entity's quotas: quota key (producer_byte_rate, ...) -> value.
type ClientQuota struct {
	Entity QuotaEntity        `json:"entity"`
	Values map[string]float64 `json:"values"`
}

// QuotaChange is one entity's part of a SetClientQuotas record: keys to set and keys to remove.
type QuotaChange struct {
	Entity QuotaEntity        `json:"entity"`
	Set    map[string]float64 `json:"set,omitempty"`
	Remove []string           `json:"remove,omitempty"`
}

// SetClientQuotas changes client quotas for one or more entities at once (one AlterClientQuotas
// request). An entity left with no quota is removed.
type SetClientQuotas struct {
	Changes []QuotaChange `json:"changes"`
}

// Type implements Record.
func (SetClientQuotas) Type() RecordType { return TypeSetClientQuotas }

func (r SetClientQuotas) validate(st *State) error {
	if len(r.Changes) == 0 {
		return fmt.Errorf("%w: no quota changes", ErrInvalidRecord)
	}
	added := 0
	for _, c := range r.Changes {
		if err := validQuotaEntity(c.Entity); err != nil {
			return err
		}
		if len(c.Set)+len(c.Remove) > maxQuotaKeys {
			return fmt.Errorf("%w: too many quota keys for %s", ErrInvalidRecord, c.Entity.Key())
		}
		for k, v := range c.Set {
			if err := validQuotaValue(c.Entity, k, v); err != nil {
				return err
			}
		}
		if _, ok := st.ClientQuotas[c.Entity.Key()]; !ok && len(c.Set) > 0 {
			added++
		}
	}
	if len(st.ClientQuotas)+added > maxQuotaEntities {
		return fmt.Errorf("%w: more than %d quota entities", ErrInvalidRecord, maxQuotaEntities)
	}
	return nil
}

// validQuotaEntity and validQuotaValue apply the rules AlterClientQuotas checks (package quota),
// so the log never holds a quota the API would have refused.
func validQuotaEntity(e QuotaEntity) error {
	if err := quota.ValidateEntity(e); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	return nil
}

func validQuotaValue(e QuotaEntity, k string, v float64) error {
	if err := quota.ValidateValue(e, k, v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	return nil
}

func (r SetClientQuotas) apply(b *builder) {
	quotas := maps.Clone(b.st.ClientQuotas)
	if quotas == nil {
		quotas = map[string]ClientQuota{}
	}
	for _, c := range r.Changes {
		key := c.Entity.Key()
		values := maps.Clone(quotas[key].Values)
		if values == nil {
			values = map[string]float64{}
		}
		for _, k := range c.Remove {
			delete(values, k)
		}
		maps.Copy(values, c.Set)
		if len(values) == 0 {
			delete(quotas, key)
			continue
		}
		quotas[key] = ClientQuota{Entity: maps.Clone(c.Entity), Values: values}
	}
	if len(quotas) == 0 {
		quotas = nil
	}
	b.st.ClientQuotas = quotas
}

// validSnapshotQuotas checks the quotas a snapshot holds, as replay would have.
func validSnapshotQuotas(q map[string]ClientQuota) error {
	if len(q) > maxQuotaEntities {
		return fmt.Errorf("%w: more than %d quota entities", ErrInvalidRecord, maxQuotaEntities)
	}
	for key, cq := range q {
		if err := validQuotaEntity(cq.Entity); err != nil {
			return err
		}
		if key != cq.Entity.Key() {
			return fmt.Errorf("%w: quota entity %s filed under %q", ErrInvalidRecord, cq.Entity.Key(), key)
		}
		if len(cq.Values) == 0 || len(cq.Values) > maxQuotaKeys {
			return fmt.Errorf("%w: quota entity %s has %d keys", ErrInvalidRecord, key, len(cq.Values))
		}
		for k, v := range cq.Values {
			if err := validQuotaValue(cq.Entity, k, v); err != nil {
				return err
			}
		}
	}
	return nil
}
