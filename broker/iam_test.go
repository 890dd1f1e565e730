package broker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-msk-iam-sasl-signer-go/signer"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/config"
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
	b := newTestBroker(t, withOptions(WithHooks(rec)), withConfig(func(c *config.Config) {
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
	rec.waitFor(t, func(ev AuthEvent) bool {
		return ev.Outcome == AuthSuccess && ev.Mechanism == "AWS_MSK_IAM" && ev.Principal == "User:"+testARN
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
	ev := rec.waitFor(t, func(ev AuthEvent) bool { return ev.Outcome == AuthSuccess && ev.Mechanism == "OAUTHBEARER" })
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
	rec.waitFor(t, func(ev AuthEvent) bool {
		return ev.Outcome == AuthFailure && ev.Reason == "signature mismatch" && ev.Principal == testAKID
	})
}

// mskPayload makes an AWS_MSK_IAM payload with franz-go for host.
func mskPayload(t *testing.T, akid, secret, host string) map[string]string {
	t.Helper()
	_, first, err := aws.Auth{AccessKey: akid, SecretKey: secret}.AsManagedStreamingIAMMechanism().Authenticate(context.Background(), host+":9098")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(first, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIAMRefusals(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	now := time.Now()
	key := testKey()
	expiredKey := key
	expiredKey.AccessKeyID, expiredKey.Expiry = "BWIAEXPIREDKEY000001", now.Add(-time.Minute)
	keys := map[string]meta.IAMKey{key.AccessKeyID: key, expiredKey.AccessKeyID: expiredKey}
	verifier := func(at time.Time, region string) *sigV4Verifier {
		return &sigV4Verifier{region: region, maxSkew: 5 * time.Minute, hosts: map[string]bool{"broker.example.com": true},
			now:    func() time.Time { return at },
			lookup: func(id string) (meta.IAMKey, bool) { k, ok := keys[id]; return k, ok }}
	}
	step := func(v *sigV4Verifier, payload map[string]string) error {
		b, _ := json.Marshal(payload)
		_, _, err := mskIAMMechanism{v: v}.Start(auth.ConnInfo{}).Step(b)
		return err
	}
	good := mskPayload(t, testAKID, testSecret, "broker.example.com")
	if err := step(verifier(now, "us-east-1"), good); err != nil {
		t.Fatalf("valid payload refused: %v", err)
	}
	forged := mskPayload(t, testAKID, testSecret, "broker.example.com")
	forged["x-amz-expires"] = "3600" // extend the validity without re-signing
	cases := []struct {
		name    string
		v       *sigV4Verifier
		payload map[string]string
		reason  string
	}{
		{"forged", verifier(now, "us-east-1"), forged, "signature mismatch"},
		{"expired", verifier(now.Add(6*time.Minute), "us-east-1"), good, "signature expired"},
		{"future-dated", verifier(now.Add(-10*time.Minute), "us-east-1"), good, "ahead of the broker clock"},
		{"wrong host", verifier(now, "us-east-1"), mskPayload(t, testAKID, testSecret, "evil.example.com"), "not a name of this broker"},
		{"wrong region", verifier(now, "eu-west-1"), good, "region"},
		{"unknown key", verifier(now, "us-east-1"), mskPayload(t, "BWIAUNKNOWNKEY000001", testSecret, "broker.example.com"), "unknown access key"},
		{"expired key", verifier(now, "us-east-1"), mskPayload(t, expiredKey.AccessKeyID, testSecret, "broker.example.com"), "access key expired"},
	}
	for _, c := range cases {
		err := step(c.v, c.payload)
		var f *auth.Failure
		if !errors.As(err, &f) || !strings.Contains(f.Reason, c.reason) {
			t.Errorf("%s: %v, want a failure mentioning %q", c.name, err, c.reason)
		}
	}

	// OAUTHBEARER: the error challenge, then the failure once the client acknowledges it.
	tok := mintToken(t, testAKID, "wrong", "us-east-1")
	s := oauthBearerMechanism{v: verifier(now, "us-east-1")}.Start(auth.ConnInfo{})
	out, done, err := s.Step([]byte("n,,\x01auth=Bearer " + tok + "\x01\x01"))
	if err != nil || done || string(out) != string(oauthErrorReply) {
		t.Fatalf("bad token: %q %v %v", out, done, err)
	}
	if _, _, err := s.Step([]byte{0x01}); err == nil || !strings.Contains(err.Error(), "signature mismatch") {
		t.Fatalf("after the error challenge: %v", err)
	}
	// The User-Agent the signer appends after signing does not break the signature.
	raw, _ := base64.RawURLEncoding.DecodeString(mintToken(t, testAKID, testSecret, "us-east-1"))
	u, _ := url.Parse(string(raw))
	if u.Query().Get("User-Agent") == "" {
		t.Fatal("signer token carries no User-Agent; the test no longer covers it")
	}
}

func FuzzIAMPayloads(f *testing.F) {
	f.Add([]byte(`{"version":"2020_10_22","host":"h","x-amz-credential":"A/20250101/us-east-1/kafka-cluster/aws4_request"}`), true)
	f.Add([]byte("n,,\x01auth=Bearer aHR0cHM6Ly9rYWZrYS51cy1lYXN0LTEuYW1hem9uYXdzLmNvbS8_QWN0aW9uPWthZmthLWNsdXN0ZXIlM0FDb25uZWN0\x01\x01"), false)
	v := &sigV4Verifier{region: "us-east-1", maxSkew: time.Minute, hosts: map[string]bool{"h": true}, now: time.Now,
		lookup: func(id string) (meta.IAMKey, bool) {
			return meta.IAMKey{AccessKeyID: id, Secret: "s", PrincipalARN: "arn"}, true
		}}
	f.Fuzz(func(t *testing.T, msg []byte, msk bool) {
		var m auth.Mechanism = oauthBearerMechanism{v: v}
		if msk {
			m = mskIAMMechanism{v: v}
		}
		s := m.Start(auth.ConnInfo{})
		if _, done, err := s.Step(msg); done && err == nil {
			t.Fatalf("fuzzed message %q authenticated", msg)
		}
	})
}
