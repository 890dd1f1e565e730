package keys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// AWSKMSProvider is the value of Wrapped.Provider for AWS KMS.
const AWSKMSProvider = "aws-kms"

// AWSKMS wraps data keys with an AWS KMS key through aws-sdk-go-v2. Credentials come from the
// standard AWS chain (environment, shared files, instance or container roles). Safe for
// concurrent use.
type AWSKMS struct {
	client   *kms.Client
	keyID    string
	timeout  time.Duration
	observer Observer
}

// AWSKMSOptions configure NewAWSKMS.
type AWSKMSOptions struct {
	// KeyID is the key id, ARN or alias/<name> that wraps new data keys.
	KeyID string
	// Region and EndpointURL override the AWS configuration (EndpointURL: a VPC endpoint or a
	// local test server).
	Region      string
	EndpointURL string
	// Timeout bounds each call including the SDK's retries (default 5 s), so a produce that needs
	// a new data key fails promptly with ErrUnavailable instead of hanging.
	Timeout  time.Duration
	Observer Observer
	// ConfigOptions are passed to config.LoadDefaultConfig (tests set static credentials).
	ConfigOptions []func(*awsconfig.LoadOptions) error
}

// NewAWSKMS makes the provider. It does not call KMS.
func NewAWSKMS(ctx context.Context, o AWSKMSOptions) (*AWSKMS, error) {
	if o.KeyID == "" {
		return nil, errors.New("keys: AWS KMS needs a key id")
	}
	opts := o.ConfigOptions
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("keys: AWS configuration: %w", err)
	}
	client := kms.NewFromConfig(cfg, func(ko *kms.Options) {
		if o.EndpointURL != "" {
			ko.BaseEndpoint = aws.String(o.EndpointURL)
		}
	})
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	return &AWSKMS{client: client, keyID: o.KeyID, timeout: o.Timeout, observer: o.Observer}, nil
}

// Name implements Provider.
func (a *AWSKMS) Name() string { return AWSKMSProvider }

// GenerateDataKey implements Provider.
func (a *AWSKMS) GenerateDataKey(ctx context.Context, ec EncryptionContext) (DataKey, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	out, err := a.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(a.keyID), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	err = classify(err)
	if err == nil && (len(out.Plaintext) != DataKeySize || len(out.CiphertextBlob) > MaxWrappedSize) {
		err = fmt.Errorf("keys: KMS returned a %d-byte key and a %d-byte blob", len(out.Plaintext), len(out.CiphertextBlob))
	}
	id := a.keyID
	if err == nil {
		id = aws.ToString(out.KeyId)
	}
	a.report("GenerateDataKey", id, ec, start, err)
	if err != nil {
		return DataKey{}, err
	}
	return DataKey{Plaintext: out.Plaintext, Wrapped: Wrapped{Provider: AWSKMSProvider, KeyID: id, Ciphertext: out.CiphertextBlob}}, nil
}

// Decrypt implements Provider.
func (a *AWSKMS) Decrypt(ctx context.Context, w Wrapped, ec EncryptionContext) ([]byte, error) {
	start := time.Now()
	if w.Provider != AWSKMSProvider {
		err := fmt.Errorf("%w: wrapped by provider %q, not AWS KMS", ErrWrongKey, w.Provider)
		a.report("Decrypt", w.KeyID, ec, start, err)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	out, err := a.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: w.Ciphertext, EncryptionContext: ec, KeyId: aws.String(w.KeyID)})
	err = classify(err)
	if err == nil && len(out.Plaintext) != DataKeySize {
		err = fmt.Errorf("%w: KMS returned a %d-byte key", ErrWrongKey, len(out.Plaintext))
	}
	a.report("Decrypt", w.KeyID, ec, start, err)
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// Rewrap implements Rewrapper with ReEncrypt: the data key never leaves KMS.
func (a *AWSKMS) Rewrap(ctx context.Context, w Wrapped, ec EncryptionContext) (Wrapped, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	out, err := a.client.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: w.Ciphertext, SourceEncryptionContext: ec,
		SourceKeyId: aws.String(w.KeyID), DestinationKeyId: aws.String(a.keyID), DestinationEncryptionContext: ec})
	err = classify(err)
	a.report("Rewrap", a.keyID, ec, start, err)
	if err != nil {
		return Wrapped{}, err
	}
	return Wrapped{Provider: AWSKMSProvider, KeyID: aws.ToString(out.KeyId), Ciphertext: out.CiphertextBlob}, nil
}

// classify maps KMS failures onto the two errors callers act on: a key that does not open
// (ErrWrongKey: wrong key or context, edited blob, access denied) and a service that cannot be
// reached right now (ErrUnavailable: network, throttling, KMS-side faults, disabled keys).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "InvalidCiphertextException", "IncorrectKeyException", "AccessDeniedException", "NotFoundException",
			"InvalidKeyUsageException", "ValidationException":
			return fmt.Errorf("%w: KMS %s: %s", ErrWrongKey, ae.ErrorCode(), ae.ErrorMessage())
		}
		return fmt.Errorf("%w: KMS %s: %s", ErrUnavailable, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func (a *AWSKMS) report(op, id string, ec EncryptionContext, start time.Time, err error) {
	if a.observer != nil {
		a.observer.OnKeyCall(Call{Provider: AWSKMSProvider, Op: op, KeyID: id, Context: ec, Duration: time.Since(start), Err: err})
	}
}
