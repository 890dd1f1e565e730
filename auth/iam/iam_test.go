package iam

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
	"github.com/twmb/franz-go/pkg/sasl/aws"

	"github.com/bulwark-kafka/bulwark/auth"
)

const (
	testAKID   = "BWIATESTKEY000000001"
	testSecret = "test-secret/with+odd=chars"
	testARN    = "arn:aws:iam::123456789012:user/app"
)

func testKey() Key {
	return Key{AccessKeyID: testAKID, Secret: testSecret, PrincipalARN: testARN}
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
	keys := map[string]Key{key.AccessKeyID: key, expiredKey.AccessKeyID: expiredKey}
	verifier := func(at time.Time, region string) *Verifier {
		return &Verifier{Region: region, MaxSkew: 5 * time.Minute, Hosts: map[string]bool{"broker.example.com": true},
			Now:    func() time.Time { return at },
			Lookup: func(id string) (Key, bool) { k, ok := keys[id]; return k, ok }}
	}
	step := func(v *Verifier, payload map[string]string) error {
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
		v       *Verifier
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
	v := &Verifier{Region: "us-east-1", MaxSkew: time.Minute, Hosts: map[string]bool{"h": true},
		Lookup: func(id string) (Key, bool) {
			return Key{AccessKeyID: id, Secret: "s", PrincipalARN: "arn"}, true
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
