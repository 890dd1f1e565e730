package mtls

import (
	"testing"
)

// Examples from Kafka's documentation (KIP-371) and its SslPrincipalMapperTest.
func TestPrincipalRules(t *testing.T) {
	cases := []struct {
		rules, dn, want string
	}{
		{"DEFAULT", "CN=Alice,OU=eng,O=Acme,C=US", "CN=Alice,OU=eng,O=Acme,C=US"},
		{"", "CN=Alice", "CN=Alice"},
		{`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT`, "CN=kafka-client,OU=ServiceUsers,O=Acme", "kafka-client"},
		{`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT`, "CN=admin,OU=Admins,O=Acme", "CN=admin,OU=Admins,O=Acme"},
		{`RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L`, "CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Cupertino,ST=CA,C=US", "duke@javasoft"},
		{`RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/U`, "CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Cupertino,ST=CA,C=US", "DUKE@JAVASOFT"},
		{`RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L, DEFAULT`, "cn=Test User,ou=x", "test"},
		{`RULE:^CN=([^,]+)\,OU=eng.*$/$1x/`, "CN=bob,OU=eng", "bobx"},
		{`RULE:^CN=(.*)$/user\/$1/`, "CN=carol", "user/carol"},
	}
	for _, c := range cases {
		rs, err := ParseRules(c.rules)
		if err != nil {
			t.Fatalf("%q: %v", c.rules, err)
		}
		got, err := rs.Apply(c.dn)
		if err != nil || got != c.want {
			t.Errorf("rules %q on %q = %q, %v; want %q", c.rules, c.dn, got, err, c.want)
		}
	}
	rs, _ := ParseRules(`RULE:^CN=(.*),OU=eng$/$1/`)
	if _, err := rs.Apply("CN=x,OU=ops"); err == nil {
		t.Error("a name no rule matches was mapped")
	}
	for _, bad := range []string{"RULE:abc", "RULE:(/x/", "NOPE", "RULE:a/b/X"} {
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("rules %q accepted", bad)
		}
	}
}

func FuzzPrincipalRules(f *testing.F) {
	f.Add(`RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L,DEFAULT`, "CN=a,OU=b")
	f.Add(`RULE:a\/b/c\$1/`, "a/b")
	f.Fuzz(func(t *testing.T, rules, dn string) {
		rs, err := ParseRules(rules)
		if err != nil {
			return
		}
		_, _ = rs.Apply(dn)
	})
}
