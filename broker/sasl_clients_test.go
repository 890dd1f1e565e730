package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// TestFranzGoSASLOverTLS: a user created through AlterUserScramCredentials logs in on the very
// next connection with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN over SASL_SSL; a produce sent
// before authenticating writes nothing.
func TestFranzGoSASLOverTLS(t *testing.T) {
	rec := &authRecorder{}
	b, pki, _ := tlsBroker(t, rec, "none", func(c *config.Config) {
		c.Listeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1"}, {Name: "SASL_SSL", Host: "127.0.0.1"}}
		c.SASLEnabledMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"}
	})
	var saslAddr string
	for _, l := range b.listeners {
		if l.cfg.Name == "SASL_SSL" {
			saslAddr = l.ln.Addr().String()
		}
	}
	ctx := testContext(t)
	if _, err := b.Admin(t).CreateTopic(ctx, 1, 1, nil, "secured"); err != nil {
		t.Fatal(err)
	}
	if res, err := b.Admin(t).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "app", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "app-pw"},
		{User: "app", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "app-pw"},
	}); err != nil || res.Error() != nil {
		t.Fatalf("create user: %v %v", err, res.Error())
	}
	tlsCfg := clientTLS(t, pki, nil)
	for name, opt := range map[string]kgo.Opt{
		"SCRAM-SHA-256": kgo.SASL(scram.Auth{User: "app", Pass: "app-pw"}.AsSha256Mechanism()),
		"SCRAM-SHA-512": kgo.SASL(scram.Auth{User: "app", Pass: "app-pw"}.AsSha512Mechanism()),
		"PLAIN":         kgo.SASL(plain.Auth{User: "app", Pass: "app-pw"}.AsMechanism()),
	} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(saslAddr), kgo.DialTLSConfig(tlsCfg), opt, kgo.DefaultProduceTopic("secured"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(name)}).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", name, err)
		}
		cl.Close()
		rec.waitFor(t, func(ev hook.Authentication) bool {
			return ev.Outcome == hook.AuthSuccess && ev.Mechanism == name && ev.Principal.String() == "User:app"
		})
	}
	bad, _ := kgo.NewClient(kgo.SeedBrokers(saslAddr), kgo.DialTLSConfig(tlsCfg), kgo.SASL(plain.Auth{User: "app", Pass: "nope"}.AsMechanism()))
	defer bad.Close()
	if err := bad.Ping(ctx); err == nil {
		t.Fatal("a wrong PLAIN password got in")
	}

	// A raw Produce before authenticating on the SASL listener: closed, nothing written.
	p := b.cluster.lookupTopic("secured").partitions[0]
	before := p.log.LogEndOffset()
	rc := dialRawTLS(t, saslAddr, tlsCfg)
	produce := kmsg.NewPtrProduceRequest()
	produce.SetVersion(9)
	produce.Acks = -1
	rc.send(produce)
	rc.expectClosed()
	if after := p.log.LogEndOffset(); after != before || before != 3 {
		t.Fatalf("log end offset %d -> %d, want 3 and unchanged", before, after)
	}
}
