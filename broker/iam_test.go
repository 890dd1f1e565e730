package broker

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-msk-iam-sasl-signer-go/signer"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

const (
	testAKID   = "BWIATESTKEY000000001"
	testSecret = "test-secret/with+odd=chars"
	testARN    = "arn:aws:iam::123456789012:user/app"
)

// iamBroker starts a broker with a SASL_PLAINTEXT listener offering the IAM mechanisms and one
// access key, and returns it with the listener's address.
func iamBroker(t *testing.T, rec *authRecorder, key meta.IAMKey) (*testBroker, string) {
	t.Helper()
	b := newTestBroker(t, withOptions(WithHook(rec.registration())), withConfig(func(c *config.Config) {
		c.Listeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1"}, {Name: "SASL_PLAINTEXT", Host: "127.0.0.1"}}
		c.SASLEnabledMechanisms = []string{"AWS_MSK_IAM", "OAUTHBEARER"}
		c.IAMRegion = "us-east-1"
	}))
	if _, err := b.cluster.store.Commit(meta.SetIAMKey{Key: key}); err != nil {
		t.Fatal(err)
	}
	for _, l := range b.listeners {
		if l.cfg.Name == "SASL_PLAINTEXT" {
			return b, l.ln.Addr().String()
		}
	}
	t.Fatal("no SASL listener")
	return nil, ""
}

func testKey() meta.IAMKey {
	return meta.IAMKey{AccessKeyID: testAKID, Secret: testSecret, PrincipalARN: testARN, CreatedAt: time.Now()}
}

// mintToken makes an MSK IAM OAUTHBEARER token the way aws-msk-iam-sasl-signer-go does.
func mintToken(t *testing.T, akid, secret, region string) string {
	t.Helper()
	tok, _, err := signer.GenerateAuthTokenFromCredentialsProvider(context.Background(), region,
		credentials.NewStaticCredentialsProvider(akid, secret, ""))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestIAMLoginsWithRealClients(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1") // franz-go derives the region from the host, or this
	rec := &authRecorder{}
	_, addr := iamBroker(t, rec, testKey())

	awsCl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(aws.Auth{AccessKey: testAKID, SecretKey: testSecret}.AsManagedStreamingIAMMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer awsCl.Close()
	if err := awsCl.Ping(testContext(t)); err != nil {
		t.Fatalf("AWS_MSK_IAM: %v", err)
	}
	rec.waitFor(t, func(ev hook.Authentication) bool {
		return ev.Outcome == hook.AuthSuccess && ev.Mechanism == "AWS_MSK_IAM" && ev.Principal.String() == "User:"+testARN
	})

	tok := mintToken(t, testAKID, testSecret, "us-east-1")
	oauthCl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(oauth.Auth{Token: tok}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer oauthCl.Close()
	if err := oauthCl.Ping(testContext(t)); err != nil {
		t.Fatalf("OAUTHBEARER: %v", err)
	}
	ev := rec.waitFor(t, func(ev hook.Authentication) bool {
		return ev.Outcome == hook.AuthSuccess && ev.Mechanism == "OAUTHBEARER"
	})
	// The session ends when the token does (900 s after signing).
	if ev.SessionLifetime <= 0 || ev.SessionLifetime > 900*time.Second {
		t.Fatalf("OAUTHBEARER session lifetime %v", ev.SessionLifetime)
	}

	bad, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(aws.Auth{AccessKey: testAKID, SecretKey: "wrong"}.AsManagedStreamingIAMMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Ping(testContext(t)); err == nil {
		t.Fatal("a signature made with the wrong secret was accepted")
	}
	rec.waitFor(t, func(ev hook.Authentication) bool {
		return ev.Outcome == hook.AuthFailure && ev.Reason == "signature mismatch" && ev.Claimed == testAKID
	})
}
