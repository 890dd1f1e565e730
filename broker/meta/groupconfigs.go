package meta

import (
	"fmt"
	"maps"
)

// TypeSetGroupConfigs is the group-config record type (see records.go for the others).
const TypeSetGroupConfigs RecordType = 18

// maxGroupConfigSets bounds the groups with dynamic configs, so a replayed log cannot make the
// state grow without limit.
const maxGroupConfigSets = 100000

// SetGroupConfigs replaces the dynamic config set of one group (IncrementalAlterConfigs and
// AlterConfigs on the GROUP resource, KIP-848/KIP-932 group configs); an empty set removes it.
type SetGroupConfigs struct {
	Group   string            `json:"group"`
	Configs map[string]string `json:"configs,omitempty"`
}

// Type implements Record.
func (SetGroupConfigs) Type() RecordType { return TypeSetGroupConfigs }

func (r SetGroupConfigs) validate(st *State) error {
	if st.ClusterID == "" {
		return errNotBootstrapped
	}
	if r.Group == "" {
		return fmt.Errorf("%w: group configs without a group", ErrInvalidRecord)
	}
	if _, ok := st.GroupConfigs[r.Group]; !ok && len(r.Configs) > 0 && len(st.GroupConfigs) >= maxGroupConfigSets {
		return fmt.Errorf("%w: more than %d groups with configs", ErrInvalidRecord, maxGroupConfigSets)
	}
	return validConfigs(r.Configs)
}

func (r SetGroupConfigs) apply(b *builder) {
	m := maps.Clone(b.st.GroupConfigs)
	if len(r.Configs) == 0 {
		delete(m, r.Group)
	} else {
		if m == nil {
			m = map[string]map[string]string{}
		}
		m[r.Group] = cloneConfigs(r.Configs)
	}
	if len(m) == 0 {
		m = nil
	}
	b.st.GroupConfigs = m
}
