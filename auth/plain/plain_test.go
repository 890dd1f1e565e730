package plain

import (
	"errors"
	"strings"
	"testing"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/auth/scram"
)

func store(t testing.TB, users map[string]string) scram.Lookup {
	t.Helper()
	creds := map[[2]string]scram.Credential{}
	for u, p := range users {
		c, err := scram.FromPassword(scram.SHA512, p, nil, 4096)
		if err != nil {
			t.Fatal(err)
		}
		creds[[2]string{scram.SHA512, u}] = c
	}
	return func(mech, user string) (scram.Credential, bool) {
		c, ok := creds[[2]string{mech, user}]
		return c, ok
	}
}

func TestPlainAgainstScramCredentials(t *testing.T) {
	m := mechanism{lookup: store(t, map[string]string{"alice": "secret"})}
	for _, c := range []struct {
		msg    string
		ok     bool
		reason string
	}{
		{"\x00alice\x00secret", true, ""},
		{"alice\x00alice\x00secret", true, ""},
		{"\x00alice\x00wrong", false, "wrong password"},
		{"\x00bob\x00secret", false, "unknown user"},
		{"bob\x00alice\x00secret", false, "authorization id"},
		{"alice\x00secret", false, "malformed"},
		{"\x00\x00secret", false, "malformed"},
	} {
		out, done, err := m.Start(auth.ConnInfo{}).Step([]byte(c.msg))
		var f *auth.Failure
		switch {
		case c.ok && (err != nil || !done || len(out) != 0):
			t.Errorf("%q: %q %v %v", c.msg, out, done, err)
		case !c.ok && (!errors.As(err, &f) || !strings.Contains(f.Reason, c.reason)):
			t.Errorf("%q: %v, want %q", c.msg, err, c.reason)
		}
	}
}

func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00secret"))
	f.Add([]byte("a\x00b\x00c\x00d"))
	m := mechanism{lookup: store(f, map[string]string{"alice": "secret"})}
	f.Fuzz(func(t *testing.T, msg []byte) {
		_, done, err := m.Start(auth.ConnInfo{}).Step(msg)
		if done && (err != nil || string(msg) != "\x00alice\x00secret" && string(msg) != "alice\x00alice\x00secret") {
			t.Fatalf("%q authenticated", msg)
		}
	})
}
