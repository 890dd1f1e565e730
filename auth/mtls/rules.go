package mtls

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"regexp"
	"strings"

	"github.com/bulwark-kafka/bulwark/auth"
)

// rule is one entry of ssl.principal.mapping.rules: DEFAULT (the whole distinguished
// name) or RULE:pattern/replacement/[LU].
type rule struct {
	isDefault   bool
	pattern     *regexp.Regexp
	replacement string // in Go's syntax (${1})
	caseFold    byte   // 'L', 'U' or 0
}

// Rules maps a certificate subject to a principal name as Kafka's SslPrincipalMapper
// does: the first rule whose pattern matches the whole name wins; no match is an error.
type Rules []rule

// ruleSplitter finds one rule at a time: DEFAULT, or RULE: with '/'-delimited pattern and
// replacement in which a backslash escapes the next character, then an optional L or U.
var ruleSplitter = regexp.MustCompile(`^\s*(?:(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?))\s*(?:,|$)`)

// ParseRules parses ssl.principal.mapping.rules; empty means DEFAULT.
func ParseRules(s string) (Rules, error) {
	if strings.TrimSpace(s) == "" {
		s = "DEFAULT"
	}
	var rules Rules
	rest := s
	for strings.TrimSpace(rest) != "" {
		m := ruleSplitter.FindStringSubmatchIndex(rest)
		if m == nil {
			return nil, fmt.Errorf("ssl.principal.mapping.rules: cannot parse %q", rest)
		}
		sub := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return rest[m[2*i]:m[2*i+1]]
		}
		if sub(1) == "DEFAULT" {
			rules = append(rules, rule{isDefault: true})
		} else {
			re, err := regexp.Compile("^(?:" + sub(2) + ")$")
			if err != nil {
				return nil, fmt.Errorf("ssl.principal.mapping.rules: pattern %q: %w", sub(2), err)
			}
			r := rule{pattern: re, replacement: javaReplacement(sub(3))}
			if f := sub(4); f != "" {
				r.caseFold = f[0]
			}
			rules = append(rules, r)
		}
		rest = rest[m[1]:]
	}
	return rules, nil
}

// javaReplacement turns a Java replacement string ($1, \$) into Go's (${1}, $$).
func javaReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 {
				b.WriteString("$$")
				continue
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Apply maps a distinguished name.
func (rs Rules) Apply(dn string) (string, error) {
	for _, r := range rs {
		if r.isDefault {
			return dn, nil
		}
		if !r.pattern.MatchString(dn) {
			continue
		}
		out := r.pattern.ReplaceAllString(dn, r.replacement)
		switch r.caseFold {
		case 'L':
			out = strings.ToLower(out)
		case 'U':
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", fmt.Errorf("no rule of ssl.principal.mapping.rules applies to %q", dn)
}

// SubjectDN formats a certificate's subject as Java's X500Principal.getName() does (RFC 2253,
// most specific attribute first), from the raw subject so attribute order is the certificate's.
func SubjectDN(cert *x509.Certificate) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil || len(rest) != 0 {
		return cert.Subject.String()
	}
	return seq.String()
}

// Principal maps a client certificate to a principal.
func (rs Rules) Principal(cert *x509.Certificate) (auth.Principal, error) {
	name, err := rs.Apply(SubjectDN(cert))
	if err != nil {
		return auth.Principal{}, err
	}
	return auth.User(name), nil
}
