package keys

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/bulwark-kafka/bulwark/broker/keys/kmsfake"
)

// newAWSKMS starts a kmsfake with one key and a provider speaking to it with the real SDK.
func newAWSKMS(t *testing.T, obs Observer) (*AWSKMS, *kmsfake.Server, string) {
	t.Helper()
	fake, err := kmsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	fake.AccessKeyID = "AKIAKMSTEST"
	arn := fake.CreateKey("alias/bulwark")
	p, err := NewAWSKMS(context.Background(), AWSKMSOptions{KeyID: "alias/bulwark", Region: "us-east-1",
		EndpointURL: fake.URL(), Timeout: 3 * time.Second, Observer: obs,
		ConfigOptions: []func(*awsconfig.LoadOptions) error{
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAKMSTEST", "secret", "")),
		}})
	if err != nil {
		t.Fatal(err)
	}
	return p, fake, arn
}

func TestAWSKMSWithRealSDK(t *testing.T) {
	ctx := context.Background()
	obs := &callLog{}
	p, fake, arn := newAWSKMS(t, obs)
	dk, err := p.GenerateDataKey(ctx, ctxA)
	if err != nil {
		t.Fatal(err)
	}
	if dk.Wrapped.KeyID != arn || len(dk.Plaintext) != DataKeySize {
		t.Fatalf("data key %+v", dk.Wrapped)
	}
	got, err := p.Decrypt(ctx, dk.Wrapped, ctxA)
	if err != nil || !bytes.Equal(got, dk.Plaintext) {
		t.Fatalf("decrypt: %v", err)
	}
	// The context reached KMS and must match exactly.
	if ctxs := fake.Contexts(); len(ctxs) < 2 || ctxs[0]["bulwark:topic"] != "orders" {
		t.Fatalf("contexts seen by KMS: %v", ctxs)
	}
	other := EncryptionContext{"bulwark:topic": "orders", "bulwark:partition": "9"}
	if _, err := p.Decrypt(ctx, dk.Wrapped, other); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other context: %v", err)
	}
	// Rewrap under a new key.
	newARN := fake.CreateKey("alias/next")
	p.keyID = "alias/next"
	rw, err := p.Rewrap(ctx, dk.Wrapped, ctxA)
	if err != nil || rw.KeyID != newARN {
		t.Fatalf("rewrap: %+v %v", rw, err)
	}
	if got, err := p.Decrypt(ctx, rw, ctxA); err != nil || !bytes.Equal(got, dk.Plaintext) {
		t.Fatalf("decrypt rewrapped: %v", err)
	}

	// An outage: ErrUnavailable within the timeout, and recovery when KMS returns.
	fake.Stop()
	start := time.Now()
	if _, err := p.GenerateDataKey(ctx, ctxA); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("during outage: %v", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("outage took %v to report", waited)
	}
	if err := fake.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.GenerateDataKey(ctx, ctxA); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	// KMS-side faults are retried by the SDK, then reported as unavailable.
	fake.FailNext(10, "KMSInternalException")
	if _, err := p.GenerateDataKey(ctx, ctxA); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("internal errors: %v", err)
	}
	var failed int
	for _, c := range obs.calls {
		if c.Err != nil {
			failed++
		}
	}
	if failed < 3 {
		t.Fatalf("observer saw %d failed calls", failed)
	}
}
