package broker

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/bulwark-kafka/bulwark/acl"
	"github.com/bulwark-kafka/bulwark/acl/iampolicy"
	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// TestIAMProduceOnlyPolicy: an IAM principal logged in with AWS_MSK_IAM under a produce-only
// policy can produce, and cannot consume or create topics, while a SCRAM user on the same broker
// is judged by ACLs.
func TestIAMProduceOnlyPolicy(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	iam := iampolicy.New(iampolicy.Options{Region: "us-east-1", Account: "123456789012", ClusterName: "bulwark"})
	az := authz.NewSuperUsers([]string{"User:ANONYMOUS"}, &authz.ByMechanism{IAM: iam, Default: acl.New(false), Mechanisms: authz.IAMMechanisms})
	b := newTestBroker(t, withOptions(WithAuthorizer(az)), withConfig(func(c *config.Config) {
		c.Listeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1"}, {Name: "SASL_PLAINTEXT", Host: "127.0.0.1"}}
		c.SASLEnabledMechanisms = []string{"AWS_MSK_IAM", "SCRAM-SHA-256"}
		c.IAMRegion = "us-east-1"
		c.AuthorizerClassName = config.ACLAuthorizerClass
		c.SuperUsers = []string{"User:ANONYMOUS"}
	}))
	addr := b.listenerAddr(t, "SASL_PLAINTEXT")
	ctx := testContext(t)
	if _, err := b.Admin(t).CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["kafka-cluster:Connect","kafka-cluster:WriteDataIdempotently","kafka-cluster:DescribeCluster"],"Resource":"arn:aws:kafka:us-east-1:123456789012:cluster/bulwark/*"},
	 {"Effect":"Allow","Action":["kafka-cluster:DescribeTopic","kafka-cluster:WriteData"],"Resource":"arn:aws:kafka:us-east-1:123456789012:topic/bulwark/*/orders"}]}`
	if _, err := iampolicy.Parse([]byte(policy)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.cluster.store.Commit(meta.SetIAMKey{Key: testKey()}); err != nil {
		t.Fatal(err)
	}
	st, err := b.cluster.store.Commit(meta.SetIAMPolicy{PrincipalARN: testARN, Name: "produce", Document: json.RawMessage(policy)})
	if err != nil {
		t.Fatal(err)
	}
	b.syncACLs(st) // bulwark iam attach-policy writes while the broker is stopped; here it is live

	mech := kgo.SASL(aws.Auth{AccessKey: testAKID, SecretKey: testSecret}.AsManagedStreamingIAMMechanism())
	producer, err := kgo.NewClient(kgo.SeedBrokers(addr), mech, kgo.DefaultProduceTopic("orders"), kgo.RequestRetries(0), kgo.RetryTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("idempotent produce under the produce-only policy: %v", err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(addr), mech, kgo.ConsumeTopics("orders"), kgo.ConsumerGroup("g"),
		kgo.RequestRetries(0), kgo.RetryTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	fetches := consumer.PollFetches(ctx)
	if err := fetches.Err(); !errors.Is(err, kerr.GroupAuthorizationFailed) && !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("consume: %v, want an authorization failure", err)
	}
	_, err = kadm.NewClient(producer).CreateTopic(ctx, 1, 1, nil, "new-topic")
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("create topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// A SCRAM user is judged by the ACL engine, which has no ACLs: denied.
	if res, err := b.Admin(t).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "u", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "p"}}); err != nil || res.Error() != nil {
		t.Fatal(err, res.Error())
	}
	scramCl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: "u", Pass: "p"}.AsSha256Mechanism()),
		kgo.DefaultProduceTopic("orders"), kgo.RequestRetries(0), kgo.RetryTimeout(0), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer scramCl.Close()
	if err := scramCl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("SCRAM produce without ACLs: %v", err)
	}
}
