package meta

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// ACL and IAM policy record types (see records.go for the others).
const (
	TypeCreateACLs      RecordType = 14
	TypeDeleteACLs      RecordType = 15
	TypeSetIAMPolicy    RecordType = 16
	TypeDeleteIAMPolicy RecordType = 17
)

// Bounds, so a replayed log cannot make the state grow without limit.
const (
	MaxACLs             = 1000000
	maxIAMPolicies      = 100000
	MaxIAMPolicyBytes   = 20480 // AWS's limit for a managed policy document is 6,144 characters
	maxIAMPolicyNameLen = 128
)

// CreateACLs adds ACL bindings (one CreateAcls request). Bindings already present are kept as
// they are, as Kafka does.
type CreateACLs struct {
	ACLs []authz.Binding `json:"acls"`
}

// DeleteACLs removes ACL bindings. The broker resolves DeleteAcls filters to the exact bindings
// they match before committing, so replay never depends on filter semantics.
type DeleteACLs struct {
	ACLs []authz.Binding `json:"acls"`
}

// Type implements Record.
func (CreateACLs) Type() RecordType { return TypeCreateACLs }

// Type implements Record.
func (DeleteACLs) Type() RecordType { return TypeDeleteACLs }

func (r CreateACLs) validate(st *State) error {
	if len(r.ACLs) == 0 {
		return fmt.Errorf("%w: no ACLs", ErrInvalidRecord)
	}
	added := 0
	for _, b := range r.ACLs {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("%w: ACL %s: %v", ErrInvalidRecord, b, err)
		}
		if _, ok := st.ACLs[b]; !ok {
			added++
		}
	}
	if len(st.ACLs)+added > MaxACLs {
		return fmt.Errorf("%w: more than %d ACLs", ErrInvalidRecord, MaxACLs)
	}
	return nil
}

func (r CreateACLs) apply(b *builder) {
	acls := b.acls()
	for _, a := range r.ACLs {
		acls[a] = struct{}{}
	}
}

func (r DeleteACLs) validate(st *State) error {
	if len(r.ACLs) == 0 {
		return fmt.Errorf("%w: no ACLs", ErrInvalidRecord)
	}
	return nil
}

func (r DeleteACLs) apply(b *builder) {
	acls := b.acls()
	for _, a := range r.ACLs {
		delete(acls, a)
	}
	if len(acls) == 0 { // no ACLs is nil, as a snapshot restores it
		b.st.ACLs, b.aclsOwned = nil, false
	}
}

// ACLList returns the state's ACLs in a stable order (by resource, then entry).
func (st *State) ACLList() []authz.Binding {
	out := make([]authz.Binding, 0, len(st.ACLs))
	for b := range st.ACLs {
		out = append(out, b)
	}
	slices.SortFunc(out, compareBindings)
	return out
}

func compareBindings(a, b authz.Binding) int {
	return cmp.Or(cmp.Compare(a.Pattern.Type, b.Pattern.Type), strings.Compare(a.Pattern.Name, b.Pattern.Name),
		cmp.Compare(a.Pattern.PatternType, b.Pattern.PatternType), strings.Compare(a.Entry.Principal, b.Entry.Principal),
		strings.Compare(a.Entry.Host, b.Entry.Host), cmp.Compare(a.Entry.Operation, b.Entry.Operation),
		cmp.Compare(a.Entry.Permission, b.Entry.Permission))
}

// validSnapshotACLs checks a snapshot's ACLs as replay would have.
func validSnapshotACLs(acls []authz.Binding) (map[authz.Binding]struct{}, error) {
	if len(acls) == 0 {
		return nil, nil
	}
	if len(acls) > MaxACLs {
		return nil, fmt.Errorf("%w: more than %d ACLs", ErrInvalidRecord, MaxACLs)
	}
	out := make(map[authz.Binding]struct{}, len(acls))
	for _, b := range acls {
		if err := b.Validate(); err != nil {
			return nil, fmt.Errorf("%w: ACL %s: %v", ErrInvalidRecord, b, err)
		}
		out[b] = struct{}{}
	}
	return out, nil
}

// SetIAMPolicy attaches (or replaces) a named IAM-style policy document on an IAM principal ARN.
// The document is stored as given; its grammar is the IAM engine's (acl/iam) to check, which
// `bulwark iam attach-policy` does before committing.
type SetIAMPolicy struct {
	PrincipalARN string          `json:"principalArn"`
	Name         string          `json:"name"`
	Document     json.RawMessage `json:"document"`
}

// DeleteIAMPolicy detaches a named policy from a principal.
type DeleteIAMPolicy struct {
	PrincipalARN string `json:"principalArn"`
	Name         string `json:"name"`
}

// Type implements Record.
func (SetIAMPolicy) Type() RecordType { return TypeSetIAMPolicy }

// Type implements Record.
func (DeleteIAMPolicy) Type() RecordType { return TypeDeleteIAMPolicy }

func validPolicyName(arn, name string) error {
	switch {
	case arn == "" || len(arn) > 2048:
		return fmt.Errorf("%w: IAM policy principal ARN is empty or too long", ErrInvalidRecord)
	case name == "" || len(name) > maxIAMPolicyNameLen:
		return fmt.Errorf("%w: IAM policy name is empty or longer than %d", ErrInvalidRecord, maxIAMPolicyNameLen)
	}
	return nil
}

func (r SetIAMPolicy) validate(st *State) error {
	if err := validPolicyName(r.PrincipalARN, r.Name); err != nil {
		return err
	}
	if len(r.Document) == 0 || len(r.Document) > MaxIAMPolicyBytes || !json.Valid(r.Document) {
		return fmt.Errorf("%w: IAM policy document must be JSON of at most %d bytes", ErrInvalidRecord, MaxIAMPolicyBytes)
	}
	n := 0
	for _, m := range st.IAMPolicies {
		n += len(m)
	}
	if _, replacing := st.IAMPolicies[r.PrincipalARN][r.Name]; !replacing && n >= maxIAMPolicies {
		return fmt.Errorf("%w: more than %d IAM policies", ErrInvalidRecord, maxIAMPolicies)
	}
	return nil
}

func (r SetIAMPolicy) apply(b *builder) {
	pols := maps.Clone(b.st.IAMPolicies)
	if pols == nil {
		pols = map[string]map[string]json.RawMessage{}
	}
	m := maps.Clone(pols[r.PrincipalARN])
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	m[r.Name] = slices.Clone(r.Document)
	pols[r.PrincipalARN] = m
	b.st.IAMPolicies = pols
}

func (r DeleteIAMPolicy) validate(st *State) error {
	if err := validPolicyName(r.PrincipalARN, r.Name); err != nil {
		return err
	}
	if _, ok := st.IAMPolicies[r.PrincipalARN][r.Name]; !ok {
		return fmt.Errorf("%w: no IAM policy %q on %s", ErrInvalidRecord, r.Name, r.PrincipalARN)
	}
	return nil
}

func (r DeleteIAMPolicy) apply(b *builder) {
	pols := maps.Clone(b.st.IAMPolicies)
	m := maps.Clone(pols[r.PrincipalARN])
	delete(m, r.Name)
	if len(m) == 0 {
		delete(pols, r.PrincipalARN)
	} else {
		pols[r.PrincipalARN] = m
	}
	if len(pols) == 0 {
		pols = nil
	}
	b.st.IAMPolicies = pols
}

// validSnapshotIAMPolicies checks a snapshot's IAM policies as replay would have.
func validSnapshotIAMPolicies(p map[string]map[string]json.RawMessage) error {
	n := 0
	for arn, m := range p {
		for name, doc := range m {
			if err := validPolicyName(arn, name); err != nil {
				return err
			}
			if len(doc) == 0 || len(doc) > MaxIAMPolicyBytes || !json.Valid(doc) {
				return fmt.Errorf("%w: IAM policy %q on %s is not JSON of at most %d bytes", ErrInvalidRecord, name, arn, MaxIAMPolicyBytes)
			}
			n++
		}
		if len(m) == 0 {
			return fmt.Errorf("%w: empty IAM policy set for %s", ErrInvalidRecord, arn)
		}
	}
	if n > maxIAMPolicies {
		return fmt.Errorf("%w: more than %d IAM policies", ErrInvalidRecord, maxIAMPolicies)
	}
	return nil
}
