package meta

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// TypeSetClientQuotas is the client-quota record type (see records.go for the others).
const TypeSetClientQuotas RecordType = 13

// Client-quota entity types, as Kafka names them (KIP-546).
const (
	QuotaUser     = "user"
	QuotaClientID = "client-id"
	QuotaIP       = "ip"
)

// Bounds on stored quotas, so a replayed log cannot make the state grow without limit.
const (
	maxQuotaEntities = 100000
	maxQuotaNameLen  = 4096
	maxQuotaKeys     = 16
)

// QuotaEntity names what a quota applies to: entity type -> name, where a nil name is the
// type's default entity (all users, all client ids, all IPs without their own quota).
type QuotaEntity map[string]*string

// Key is the entity's canonical form, e.g. "client-id=app,user=<default>": types sorted, default
// names shown as <default>, and names escaped so distinct entities never share a key.
func (e QuotaEntity) Key() string {
	types := slices.Sorted(maps.Keys(e))
	parts := make([]string, len(types))
	for i, t := range types {
		name := "<default>"
		if n := e[t]; n != nil {
			name = "'" + strings.ReplaceAll(*n, "'", "''") + "'"
		}
		parts[i] = t + "=" + name
	}
	return strings.Join(parts, ",")
}

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
			if err := validQuotaValue(k, v); err != nil {
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

func validQuotaEntity(e QuotaEntity) error {
	if len(e) == 0 {
		return fmt.Errorf("%w: empty quota entity", ErrInvalidRecord)
	}
	for t, n := range e {
		switch t {
		case QuotaUser, QuotaClientID:
			if _, ip := e[QuotaIP]; ip {
				return fmt.Errorf("%w: ip quotas cannot be combined with user or client-id", ErrInvalidRecord)
			}
		case QuotaIP:
		default:
			return fmt.Errorf("%w: unknown quota entity type %q", ErrInvalidRecord, t)
		}
		if n != nil && (len(*n) > maxQuotaNameLen || !utf8.ValidString(*n)) {
			return fmt.Errorf("%w: bad quota entity name for %s", ErrInvalidRecord, t)
		}
	}
	return nil
}

func validQuotaValue(k string, v float64) error {
	if k == "" || len(k) > 256 {
		return fmt.Errorf("%w: bad quota key %q", ErrInvalidRecord, k)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return fmt.Errorf("%w: quota %s = %v is not a positive number", ErrInvalidRecord, k, v)
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
			if err := validQuotaValue(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}
