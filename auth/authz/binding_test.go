package authz

import "testing"

func ptr(s string) *string { return &s }

// TestFilterMatches follows Kafka's AclBindingFilter semantics.
func TestFilterMatches(t *testing.T) {
	lit := Binding{Pattern{ResourceTopic, "orders", PatternLiteral}, Entry{"User:alice", "*", OpRead, Allow}}
	wild := Binding{Pattern{ResourceTopic, "*", PatternLiteral}, Entry{"User:*", "*", OpAll, Deny}}
	pre := Binding{Pattern{ResourceTopic, "ord", PatternPrefixed}, Entry{"User:bob", "10.0.0.1", OpWrite, Allow}}
	group := Binding{Pattern{ResourceGroup, "orders", PatternLiteral}, Entry{"User:alice", "*", OpRead, Allow}}
	anyF := Filter{Type: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}
	with := func(f func(*Filter)) Filter { g := anyF; f(&g); return g }
	cases := []struct {
		name string
		f    Filter
		want [4]bool // lit, wild, pre, group
	}{
		{"match everything", anyF, [4]bool{true, true, true, true}},
		{"topic type", with(func(f *Filter) { f.Type = ResourceTopic }), [4]bool{true, true, true, false}},
		{"ANY pattern with name is exact", with(func(f *Filter) { f.Name = ptr("orders") }), [4]bool{true, false, false, true}},
		{"LITERAL", with(func(f *Filter) { f.PatternType = PatternLiteral }), [4]bool{true, true, false, true}},
		{"PREFIXED with name", with(func(f *Filter) { f.PatternType, f.Name = PatternPrefixed, ptr("ord") }), [4]bool{false, false, true, false}},
		{"MATCH applies to the name", with(func(f *Filter) { f.Type, f.PatternType, f.Name = ResourceTopic, PatternMatch, ptr("orders") }), [4]bool{true, true, true, false}},
		{"MATCH other name", with(func(f *Filter) { f.Type, f.PatternType, f.Name = ResourceTopic, PatternMatch, ptr("payments") }), [4]bool{false, true, false, false}},
		{"MATCH without name", with(func(f *Filter) { f.PatternType = PatternMatch }), [4]bool{true, true, true, true}},
		{"principal exact", with(func(f *Filter) { f.Principal = ptr("User:alice") }), [4]bool{true, false, false, true}},
		{"User:* in a filter is literal", with(func(f *Filter) { f.Principal = ptr("User:*") }), [4]bool{false, true, false, false}},
		{"host", with(func(f *Filter) { f.Host = ptr("10.0.0.1") }), [4]bool{false, false, true, false}},
		{"operation exact, no implication", with(func(f *Filter) { f.Operation = OpDescribe }), [4]bool{false, false, false, false}},
		{"ALL only matches ALL", with(func(f *Filter) { f.Operation = OpAll }), [4]bool{false, true, false, false}},
		{"permission", with(func(f *Filter) { f.Permission = Deny }), [4]bool{false, true, false, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, b := range []Binding{lit, wild, pre, group} {
				if got := tc.f.Matches(b); got != tc.want[i] {
					t.Errorf("binding %s: matches = %v, want %v", b, got, tc.want[i])
				}
			}
		})
	}
}

func TestBindingValidate(t *testing.T) {
	ok := Binding{Pattern{ResourceTopic, "t", PatternLiteral}, Entry{"User:a", "*", OpRead, Allow}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Binding){
		"resource ANY":       func(b *Binding) { b.Pattern.Type = ResourceAny },
		"pattern MATCH":      func(b *Binding) { b.Pattern.PatternType = PatternMatch },
		"empty name":         func(b *Binding) { b.Pattern.Name = "" },
		"cluster other name": func(b *Binding) { b.Pattern = Pattern{ResourceCluster, "c", PatternLiteral} },
		"operation ANY":      func(b *Binding) { b.Entry.Operation = OpAny },
		"permission ANY":     func(b *Binding) { b.Entry.Permission = PermissionAny },
		"principal no colon": func(b *Binding) { b.Entry.Principal = "alice" },
		"empty host":         func(b *Binding) { b.Entry.Host = "" },
		"unknown op code":    func(b *Binding) { b.Entry.Operation = 99 },
	}
	for name, mut := range bad {
		b := ok
		mut(&b)
		if b.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEnumText(t *testing.T) {
	for _, s := range []string{"Read", "READ", "IdempotentWrite", "idempotent-write"} {
		if _, err := ParseOperation(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if op, _ := ParseOperation("DescribeConfigs"); op != OpDescribeConfigs {
		t.Fatalf("DescribeConfigs parsed as %s", op)
	}
}
