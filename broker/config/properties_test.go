package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []property
	}{
		{"equals", "a=b", []property{{"a", "b", 1}}},
		{"colon", "a:b", []property{{"a", "b", 1}}},
		{"space", "a b", []property{{"a", "b", 1}}},
		{"spaces around equals", "  a  =  b  ", []property{{"a", "b  ", 1}}},
		{"tab and colon", "a\t:\tb", []property{{"a", "b", 1}}},
		{"only one separator eaten", "a==b", []property{{"a", "=b", 1}}},
		{"space then colon in value", "a b:c", []property{{"a", "b:c", 1}}},
		{"key only", "a", []property{{"a", "", 1}}},
		{"key then equals", "a=", []property{{"a", "", 1}}},
		{"comments", "# c\n! c\n  # indented\na=1", []property{{"a", "1", 4}}},
		{"hash inside value", "a=b#c", []property{{"a", "b#c", 1}}},
		{"blank lines", "\n\n  \n\ta=1\n", []property{{"a", "1", 4}}},
		{"continuation", "a=b\\\n   c\\\n d", []property{{"a", "bcd", 1}}},
		{"even backslashes do not continue", "a=b\\\\\nc=d", []property{{"a", `b\`, 1}, {"c", "d", 2}}},
		{"continuation at end of input", "a=b\\", []property{{"a", "b", 1}}},
		{"comment not continued", "# c\\\na=1", []property{{"a", "1", 2}}},
		{"continued line starting with hash", "a=b\\\n#c", []property{{"a", "b#c", 1}}},
		{"escapes", `a=\t\n\r\f\\\=\:\ \q`, []property{{"a", "\t\n\r\f\\=: q", 1}}},
		{"escaped separator in key", `a\=b\ c=d`, []property{{"a=b c", "d", 1}}},
		{"unicode escape", `a=caf\u00e9 \u00E9`, []property{{"a", "café é", 1}}},
		{"utf8 literal", "a=café", []property{{"a", "café", 1}}},
		{"crlf and cr", "a=1\r\nb=2\rc=3", []property{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}}},
		{"duplicates kept in order", "a=1\na=2", []property{{"a", "1", 1}, {"a", "2", 2}}},
		{"form feed leading", "\fa=1", []property{{"a", "1", 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := readProperties(strings.NewReader(tc.in))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReadPropertiesErrors(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\uzzzz`, `a\u00=1`} {
		_, errs := readProperties(strings.NewReader(in))
		if len(errs) != 1 || !errors.Is(errs[0], ErrSyntax) {
			t.Errorf("%q: got %v, want one ErrSyntax", in, errs)
		}
	}
	// Every bad line is reported, and good lines still parse.
	props, errs := readProperties(strings.NewReader("a=\\u1\nb=2\nc=\\ux"))
	if len(errs) != 2 || len(props) != 1 || props[0].key != "b" {
		t.Fatalf("got %v %v", props, errs)
	}
	if !strings.Contains(errs[1].Error(), "line 3") {
		t.Errorf("error does not name the line: %v", errs[1])
	}
	big := strings.Repeat("#", MaxFileBytes+1)
	if _, errs := readProperties(strings.NewReader(big)); len(errs) != 1 || !errors.Is(errs[0], ErrSyntax) {
		t.Errorf("oversized file: %v", errs)
	}
}

// FuzzParse checks that no input panics Parse, that a successful Parse validates, and that every
// failure is one of the package's errors.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "a=b", "listeners=PLAINTEXT://[::1]:0\n", "log.retention.ms=abc", "a\\\n=b\\", `x=\u00`,
		"node.id=1\nbroker.id=2", "listeners=A://:1,B://:1\nadvertised.listeners=C://h:1",
		"listener.security.protocol.map=X:SSL\nlisteners=X://:9093", "super.users=User:a;bad",
		"log.retention.hours=9223372036854775807", "listener.name.plaintext.scram-sha-256.sasl.jaas.config=x",
		"max.connections.per.ip.overrides=a:1,b", "log.cleanup.policy=", "\\u0041=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(strings.NewReader(s))
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			for _, e := range unjoin(err) {
				if !errors.Is(e, ErrSyntax) && !errors.Is(e, ErrUnknownKey) && !errors.Is(e, ErrInvalidValue) && !errors.Is(e, ErrUnsupported) {
					t.Fatalf("foreign error %T %v", e, e)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
		_ = c.EffectiveTopic(c.Values)
		_ = c.DescribeBroker(c.Values, nil)
		_ = c.WithDynamic(c.Values).DescribeTopic(c.Values, nil)
	})
}

// unjoin flattens errors.Join trees.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
