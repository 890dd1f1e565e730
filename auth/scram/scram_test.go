package scram

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/bulwark-kafka/bulwark/auth"
)

// rfc7677 is the SCRAM-SHA-256 example exchange of RFC 7677 §3 (user "user", password "pencil").
var rfc7677 = struct {
	salt, clientFirst, serverNonce, serverFirst, clientFinal, serverFinal string
}{
	salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
	clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
	serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
}

// scramStore is an in-memory credential store with passwords hashed the way the broker does.
func scramStore(t testing.TB, users map[string]string) Lookup {
	t.Helper()
	creds := map[[2]string]Credential{}
	for u, p := range users {
		for _, m := range []string{SHA256, SHA512} {
			c, err := FromPassword(m, p, nil, 4096)
			if err != nil {
				t.Fatal(err)
			}
			creds[[2]string{m, u}] = c
		}
	}
	return func(mech, user string) (Credential, bool) {
		c, ok := creds[[2]string{mech, user}]
		return c, ok
	}
}

func TestScramRFC7677Vector(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString(rfc7677.salt)
	// Derive the stored credential the way AlterUserScramCredentials does, from the salted
	// password (Hi("pencil", salt, 4096)).
	cred, err := FromPassword(SHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := newMechanism(SHA256, func(_, user string) (Credential, bool) { return cred, user == "user" })
	m.serverNonce = func() string { return rfc7677.serverNonce }
	s := m.Start(auth.ConnInfo{})
	out, done, err := s.Step([]byte(rfc7677.clientFirst))
	if err != nil || done || string(out) != rfc7677.serverFirst {
		t.Fatalf("server-first = %q, %v, %v", out, done, err)
	}
	out, done, err = s.Step([]byte(rfc7677.clientFinal))
	if err != nil || !done || string(out) != rfc7677.serverFinal {
		t.Fatalf("server-final = %q, %v, %v", out, done, err)
	}
	if s.Principal() != auth.User("user") {
		t.Fatalf("principal %v", s.Principal())
	}
}

// drive runs a franz-go SCRAM client session against a server session.
func drive(t *testing.T, m auth.Mechanism, client sasl.Mechanism) (auth.Session, error) {
	t.Helper()
	sess, first, err := client.Authenticate(context.Background(), "127.0.0.1:9092")
	if err != nil {
		t.Fatal(err)
	}
	srv := m.Start(auth.ConnInfo{})
	msg := first
	for range 4 {
		out, done, err := srv.Step(msg)
		if err != nil {
			return srv, err
		}
		cdone, next, cerr := sess.Challenge(out)
		if cerr != nil {
			t.Fatalf("client rejected the server: %v", cerr)
		}
		if done {
			if !cdone {
				t.Fatal("server done, client not")
			}
			return srv, nil
		}
		msg = next
	}
	t.Fatal("exchange did not finish")
	return nil, nil
}

func TestScramWithFranzGo(t *testing.T) {
	lookup := scramStore(t, map[string]string{"alice": "secret", "we,ird=name": "pw"})
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
		m := mustMechanism(t, mech, lookup)
		client := func(user, pass string) sasl.Mechanism {
			a := scram.Auth{User: user, Pass: pass}
			if mech == "SCRAM-SHA-512" {
				return a.AsSha512Mechanism()
			}
			return a.AsSha256Mechanism()
		}
		if s, err := drive(t, m, client("alice", "secret")); err != nil || s.Principal() != auth.User("alice") {
			t.Fatalf("%s: %v %v", mech, err, s.Principal())
		}
		if s, err := drive(t, m, client("we,ird=name", "pw")); err != nil || s.Principal() != auth.User("we,ird=name") {
			t.Fatalf("%s escaped name: %v", mech, err)
		}
		for _, c := range []struct{ user, pass, reason string }{
			{"alice", "wrong", "wrong password"},
			{"mallory", "secret", "unknown user"},
		} {
			_, err := drive(t, m, client(c.user, c.pass))
			var f *auth.Failure
			if !errors.As(err, &f) || !strings.Contains(f.Reason, c.reason) || f.Principal != c.user {
				t.Fatalf("%s %s: %v", mech, c.user, err)
			}
		}
	}
}

func TestScramRejectsMalformed(t *testing.T) {
	m := mustMechanism(t, SHA256, scramStore(t, map[string]string{"alice": "pw"}))
	for _, first := range []string{
		"", "n", "n,,", "p=tls-unique,,n=alice,r=abc", "x,,n=alice,r=abc", "n,,r=abc,n=alice",
		"n,,n=al=41ice,r=abc", "n,,n=alice,r=", "n,,n=alice,r=a,b", "n,a=bob,n=alice,r=abc",
		"n,,n=alice,r=abc,tokenauth=true", "n,,n=alice,r=ab\x01c", strings.Repeat("x", maxMessage+1),
	} {
		if _, _, err := m.Start(auth.ConnInfo{}).Step([]byte(first)); err == nil {
			t.Errorf("client-first %q accepted", first)
		}
	}
	s := m.Start(auth.ConnInfo{})
	if _, _, err := s.Step([]byte("n,,n=alice,r=abc")); err != nil {
		t.Fatal(err)
	}
	for _, final := range []string{"", "c=biws", "c=biws,r=abc,p=AAAA", "c=eSws,r=abc,p=AAAA"} {
		if _, _, err := s.Step([]byte(final)); err == nil {
			t.Errorf("client-final %q accepted", final)
		}
		s.(*session).step = 1 // retry the final step on the same session
	}
}

func FuzzScramSession(f *testing.F) {
	f.Add(rfc7677.clientFirst, rfc7677.clientFinal)
	f.Add("n,,n=alice,r=abc", "c=biws,r=abcXYZ,p=AAAA")
	f.Add("y,,n=a=2Cb,r=x", "c=eSws,r=x,p=")
	lookup := scramStore(f, map[string]string{"alice": "pw", "user": "pencil"})
	m := mustMechanism(f, SHA256, lookup)
	f.Fuzz(func(t *testing.T, first, final string) {
		s := m.Start(auth.ConnInfo{})
		if _, _, err := s.Step([]byte(first)); err != nil {
			return
		}
		if _, done, err := s.Step([]byte(final)); done && err == nil {
			t.Fatalf("fuzzed exchange %q / %q authenticated", first, final)
		}
	})
}

func mustMechanism(t testing.TB, name string, lookup Lookup) *mechanism {
	t.Helper()
	m, err := newMechanism(name, lookup)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
