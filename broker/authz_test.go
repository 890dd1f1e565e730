package broker

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/bulwark-kafka/bulwark/acl"
	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// azRecorder collects authorization events.
type azRecorder struct {
	mu     sync.Mutex
	events []hook.Authorization
}

func (r *azRecorder) OnAuthorization(ev hook.Authorization) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// aclBroker starts a broker with the Kafka ACL engine: PLAINTEXT for the super user
// (User:ANONYMOUS, standing in for an operator) and SASL_PLAINTEXT with SCRAM for applications.
// It returns the broker and the SASL listener's address.
func aclBroker(t *testing.T, rec *azRecorder) (*testBroker, string) {
	t.Helper()
	engine := acl.New(false)
	b := newTestBroker(t, withOptions(WithAuthorizer(authz.NewSuperUsers([]string{"User:ANONYMOUS"}, engine)),
		WithHook(hook.Registration{Name: "az", Overflow: hook.OverflowBlock, Authorization: rec})),
		withConfig(func(c *config.Config) {
			c.Listeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1"}, {Name: "SASL_PLAINTEXT", Host: "127.0.0.1"}}
			c.SASLEnabledMechanisms = []string{"SCRAM-SHA-256"}
			c.AuthorizerClassName = config.ACLAuthorizerClass
			c.SuperUsers = []string{"User:ANONYMOUS"}
		}))
	saslAddr := b.listenerAddr(t, "SASL_PLAINTEXT")
	ctx := testContext(t)
	adm := b.Admin(t)
	for _, topic := range []string{"orders", "secret"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "alice-pw"},
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-pw"},
	}); err != nil || res.Error() != nil {
		t.Fatalf("create users: %v %v", err, res.Error())
	}
	return b, saslAddr
}

func userClient(t *testing.T, addr, user, pw string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: user, Pass: pw}.AsSha256Mechanism()),
		kgo.RetryTimeout(0), kgo.RequestRetries(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestACLsEndToEnd: ACLs made with kadm decide produce, consume, Metadata and group access for a
// SCRAM user; a user without ALTER on the cluster cannot change another user's credentials;
// denials reach the hook with what decided and the request id.
func TestACLsEndToEnd(t *testing.T) {
	rec := &azRecorder{}
	b, saslAddr := aclBroker(t, rec)
	ctx := testContext(t)
	adm := b.Admin(t)
	acls := kadm.NewACLs().Allow("User:alice").Topics("orders").Operations(kadm.OpRead, kadm.OpWrite).
		ResourcePatternType(kadm.ACLPatternLiteral)
	if res, err := adm.CreateACLs(ctx, acls); err != nil {
		t.Fatal(err)
	} else {
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACL: %v", r.Err)
			}
		}
	}
	groups := kadm.NewACLs().Allow("User:alice").Groups("app-").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed)
	if _, err := adm.CreateACLs(ctx, groups); err != nil {
		t.Fatal(err)
	}

	alice := userClient(t, saslAddr, "alice", "alice-pw")
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("allowed produce: %v", err)
	}
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "secret", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to secret: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// Metadata for all topics shows only what alice may describe.
	md := kmsg.NewPtrMetadataRequest()
	mdResp, err := md.RequestWith(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, tp := range mdResp.Topics {
		seen = append(seen, *tp.Topic)
	}
	if len(seen) != 1 || seen[0] != "orders" {
		t.Fatalf("alice sees topics %v, want [orders]", seen)
	}
	// Asked for by name, a hidden topic and a missing one look the same.
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("secret")}, {Topic: kmsg.StringPtr("no-such-topic")}}
	md.AllowAutoTopicCreation = false
	if mdResp, err = md.RequestWith(ctx, alice); err != nil {
		t.Fatal(err)
	}
	for _, tp := range mdResp.Topics {
		if tp.ErrorCode != kerr.TopicAuthorizationFailed.Code {
			t.Fatalf("named topic %s: error %d, want TOPIC_AUTHORIZATION_FAILED", *tp.Topic, tp.ErrorCode)
		}
	}

	// A group under the allowed prefix commits; another group is refused.
	consumer := userClient(t, saslAddr, "alice", "alice-pw", kgo.ConsumeTopics("orders"), kgo.ConsumerGroup("app-1"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fetches := consumer.PollFetches(ctx)
	if err := fetches.Err(); err != nil || fetches.NumRecords() != 1 {
		t.Fatalf("consume: %v, %d records", err, fetches.NumRecords())
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit in app-1: %v", err)
	}
	joinOther := kmsg.NewPtrFindCoordinatorRequest()
	joinOther.CoordinatorKey = "other-group"
	fc, err := joinOther.RequestWith(ctx, alice)
	if err != nil || fc.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("FindCoordinator for other-group: %v, code %d", err, fc.ErrorCode)
	}

	// alice may not change bob's password: that needs ALTER on the cluster.
	alter := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "bob", 1, 4096, []byte("salt"), make([]byte, 32)
	alter.Upsertions = append(alter.Upsertions, up)
	alterResp, err := alter.RequestWith(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(alterResp.Results) != 1 || alterResp.Results[0].ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice altering bob: %+v", alterResp.Results)
	}
	// The denial is an event naming what decided, and its request id is in the client's message.
	ev := waitEvent(t, &rec.mu, &rec.events, func(ev hook.Authorization) bool {
		return !ev.Allowed && ev.APIKey == 51 && ev.Principal.String() == "User:alice"
	})
	if ev.Operation != "ALTER" || ev.ResourceType != "CLUSTER" || ev.DecidedBy == "" || ev.RequestID == "" {
		t.Fatalf("denial event %+v", ev)
	}
	if msg := alterResp.Results[0].ErrorMessage; msg == nil || *msg != "["+ev.RequestID+"] Authorization failed." {
		t.Fatalf("client message %v does not carry request id %s", msg, ev.RequestID)
	}

	// DescribeAcls and DeleteAcls with Kafka's filter semantics.
	describe := kmsg.NewPtrDescribeACLsRequest()
	describe.ResourceType, describe.ResourceName = kmsg.ACLResourceTypeTopic, kmsg.StringPtr("orders")
	describe.ResourcePatternType = kmsg.ACLResourcePatternTypeMatch
	describe.Operation, describe.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	described, err := describe.RequestWith(ctx, b.Client(t))
	if err != nil || described.ErrorCode != 0 || len(described.Resources) != 1 || len(described.Resources[0].ACLs) != 2 {
		t.Fatalf("describe ACLs matching topic orders: %v %+v", err, described)
	}
	deleted, err := adm.DeleteACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("orders").Operations(kadm.OpWrite).
		ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(deleted) != 1 || len(deleted[0].Deleted) != 1 {
		t.Fatalf("delete write ACL: %v %+v", err, deleted)
	}
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce after the ACL was deleted: %v", err)
	}
}

// TestACLsSurviveRestart: ACLs are in the metadata log, so a restarted broker enforces them.
func TestACLsSurviveRestart(t *testing.T) {
	rec := &azRecorder{}
	b, _ := aclBroker(t, rec)
	ctx := testContext(t)
	if _, err := b.Admin(t).CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("orders").Operations(kadm.OpRead).
		ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	b.stop(t)
	engine := acl.New(false)
	startTestBroker(t, b.Dir, withOptions(WithAuthorizer(engine)), withConfig(func(c *config.Config) {
		c.AuthorizerClassName = config.ACLAuthorizerClass
	}))
	if engine.Len() != 1 {
		t.Fatalf("engine has %d ACLs after restart, want 1", engine.Len())
	}
}

// TestACLAPIsWithoutAuthorizer: with authorizer.class.name unset the ACL APIs say so, as Kafka's
// SECURITY_DISABLED.
func TestACLAPIsWithoutAuthorizer(t *testing.T) {
	b := newTestBroker(t)
	ctx := testContext(t)
	res, err := b.Admin(t).CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("t").Operations(kadm.OpRead).
		ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("CreateAcls without an authorizer: %v %+v", err, res)
	}
}

// TestCreateACLValidation: bindings Kafka refuses are INVALID_REQUEST, the rest are created.
func TestCreateACLValidation(t *testing.T) {
	b, _ := aclBroker(t, &azRecorder{})
	req := kmsg.NewPtrCreateACLsRequest()
	good := kmsg.NewCreateACLsRequestCreation()
	good.ResourceType, good.ResourceName, good.ResourcePatternType = kmsg.ACLResourceTypeTopic, "t", kmsg.ACLResourcePatternTypeLiteral
	good.Principal, good.Host, good.Operation, good.PermissionType = "User:a", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
	badCluster := good
	badCluster.ResourceType, badCluster.ResourceName = kmsg.ACLResourceTypeCluster, "other"
	badPrincipal := good
	badPrincipal.Principal = "alice"
	badPattern := good
	badPattern.ResourcePatternType = kmsg.ACLResourcePatternTypeMatch
	req.Creations = []kmsg.CreateACLsRequestCreation{good, badCluster, badPrincipal, badPattern}
	resp, err := req.RequestWith(testContext(t), b.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []int16{0, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code}
	for i, r := range resp.Results {
		if r.ErrorCode != want[i] {
			t.Fatalf("creation %d: code %d, want %d (%v)", i, r.ErrorCode, want[i], r.ErrorMessage)
		}
	}
}

// maxPartitionsPolicy refuses more than 4 partitions and retention.ms=-1: a Go stand-in for an
// operator's topic policy.
type maxPartitionsPolicy struct {
	mu   sync.Mutex
	seen []authz.TopicChange
}

func (p *maxPartitionsPolicy) CheckTopic(rc *authz.RequestContext, c authz.TopicChange) ([]string, error) {
	p.mu.Lock()
	p.seen = append(p.seen, c)
	p.mu.Unlock()
	var v []string
	if c.Partitions > 4 {
		v = append(v, "too many partitions")
	}
	if c.Configs["retention.ms"] == "-1" {
		v = append(v, "infinite retention")
	}
	if strings.HasPrefix(c.Topic, "bad-") {
		v = append(v, "bad name")
	}
	return v, nil
}

// TestTopicPolicy: CreateTopics, CreatePartitions and both config APIs consult the topic policy
// with the state the topic would have, and a violation is POLICY_VIOLATION carrying the request
// id; nothing is changed.
func TestTopicPolicy(t *testing.T) {
	pol := &maxPartitionsPolicy{}
	b := newTestBroker(t, withOptions(WithTopicPolicy(pol)))
	ctx := testContext(t)
	adm := b.Admin(t)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "ok"); err != nil {
		t.Fatal(err)
	}
	res, err := adm.CreateTopic(ctx, 8, 1, nil, "big")
	if !errors.Is(err, kerr.PolicyViolation) || !strings.Contains(res.ErrMessage, "too many partitions") {
		t.Fatalf("create 8 partitions: %v %q", err, res.ErrMessage)
	}
	if b.cluster.lookupTopic("big") != nil {
		t.Fatal("the refused topic exists")
	}
	if grow, err := adm.UpdatePartitions(ctx, 6, "ok"); err != nil || !errors.Is(grow["ok"].Err, kerr.PolicyViolation) {
		t.Fatalf("growing to 6 partitions: %v %+v", err, grow)
	}
	minusOne := "-1"
	alter, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: &minusOne}}, "ok")
	if err != nil || len(alter) != 1 || !errors.Is(alter[0].Err, kerr.PolicyViolation) {
		t.Fatalf("incremental alter to infinite retention: %v %+v", err, alter)
	}
	if got := b.cluster.lookupTopic("ok").overrides["retention.ms"]; got != "" {
		t.Fatalf("refused config applied: retention.ms=%q", got)
	}
	// Metadata auto-creation meets the policy too.
	md := kmsg.NewPtrMetadataRequest()
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("bad-auto")}}
	md.AllowAutoTopicCreation = true
	mdr, err := md.RequestWith(ctx, b.Client(t))
	if err != nil || mdr.Topics[0].ErrorCode != kerr.PolicyViolation.Code || b.cluster.lookupTopic("bad-auto") != nil {
		t.Fatalf("auto-creating a topic the policy refuses: %v %+v", err, mdr)
	}
	pol.mu.Lock()
	defer pol.mu.Unlock()
	apis := map[string]bool{}
	for _, c := range pol.seen {
		apis[c.API] = true
	}
	for _, api := range []string{"CreateTopics", "CreatePartitions", "IncrementalAlterConfigs", "Metadata"} {
		if !apis[api] {
			t.Errorf("the policy never saw %s (saw %v)", api, apis)
		}
	}
}

// TestTransactionalProduceNeedsItsTransactionalID: a transactional batch is refused without a
// transactional id the principal may WRITE, and a producer id belonging to another transactional
// id is refused even with one it may: WRITE on a topic does not let one principal write into
// another's transaction.
func TestTransactionalProduceNeedsItsTransactionalID(t *testing.T) {
	b, saslAddr := aclBroker(t, &azRecorder{})
	ctx := testContext(t)
	adm := b.Admin(t)
	if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("orders").
		Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts("*").TransactionalIDs("alice-txn").
		Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	// The victim's transaction (as the super user).
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("victim-txn"), 60000
	victim, err := init.RequestWith(ctx, b.Client(t))
	if err != nil || victim.ErrorCode != 0 {
		t.Fatalf("victim InitProducerId: %v %+v", err, victim)
	}
	alice := userClient(t, saslAddr, "alice", "alice-pw")
	produce := func(txnID *string) int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(12)
		req.Acks, req.TimeoutMillis, req.TransactionID = -1, 5000, txnID
		batch := record.BuildBatch(record.BuildOptions{ProducerID: victim.ProducerID, ProducerEpoch: victim.ProducerEpoch,
			BaseSequence: 0, Transactional: true, BaseTimestamp: time.Now().UnixMilli()}, []record.Record{{Value: []byte("x")}})
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: "orders", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}}}
		resp, err := req.RequestWith(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := produce(nil); code != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional batch without a transactional id: code %d", code)
	}
	if code := produce(kmsg.StringPtr("victim-txn")); code != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional batch with the victim's id: code %d", code)
	}
	if code := produce(kmsg.StringPtr("alice-txn")); code != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("the victim's producer id under alice's transactional id: code %d", code)
	}
	desc := kmsg.NewPtrDescribeTransactionsRequest()
	desc.TransactionalIDs = []string{"victim-txn"}
	d, err := desc.RequestWith(ctx, b.Client(t))
	if err != nil || len(d.TransactionStates) != 1 || len(d.TransactionStates[0].Topics) != 0 {
		t.Fatalf("the victim's transaction gained partitions: %v %+v", err, d)
	}
}

// TestCoordinatorAnswersRevealOnlyWhatMayBeDescribed: a KIP-848 regex subscription matches only
// topics the member may describe; ConsumerGroupDescribe refuses a group whose assignment names a
// topic the asker may not describe; a denied DescribeGroups entry keeps its group id;
// DescribeTransactions leaves out topics the asker may not describe.
func TestCoordinatorAnswersRevealOnlyWhatMayBeDescribed(t *testing.T) {
	b, saslAddr := aclBroker(t, &azRecorder{})
	ctx := testContext(t)
	adm := b.Admin(t)
	for _, acl := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:alice").AllowHosts("*").Groups("app-").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed),
		kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("orders").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:alice").AllowHosts("*").TransactionalIDs("shared").Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral),
	} {
		if _, err := adm.CreateACLs(ctx, acl); err != nil {
			t.Fatal(err)
		}
	}
	alice := userClient(t, saslAddr, "alice", "alice-pw")

	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.MemberEpoch, hb.RebalanceTimeoutMillis = "app-x", "alice-member-0000000001", 0, 30000
	hb.SubscribedTopicRegex = kmsg.StringPtr(".*")
	hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	var assigned map[[16]byte]bool
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := hb.RequestWith(ctx, alice)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("heartbeat: %v %+v %v", err, resp, resp.ErrorMessage)
		}
		hb.MemberID, hb.MemberEpoch = *resp.MemberID, resp.MemberEpoch
		if resp.Assignment != nil && len(resp.Assignment.Topics) > 0 {
			assigned = map[[16]byte]bool{}
			for _, tp := range resp.Assignment.Topics {
				assigned[tp.TopicID] = true
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	orders, secret := b.cluster.lookupTopic("orders"), b.cluster.lookupTopic("secret")
	if !assigned[[16]byte(orders.id)] || assigned[[16]byte(secret.id)] {
		t.Fatalf("regex .* assigned %v: want orders only", assigned)
	}

	// The super user joins the same group with a subscription to secret: alice may not see it.
	hb2 := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb2.Group, hb2.MemberID, hb2.MemberEpoch, hb2.RebalanceTimeoutMillis = "app-x", "admin-member-0000000001", 0, 30000
	hb2.SubscribedTopicNames, hb2.Topics = []string{"secret"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if resp, err := hb2.RequestWith(ctx, b.Client(t)); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("super user heartbeat: %v %+v", err, resp)
	}
	describe := kmsg.NewPtrConsumerGroupDescribeRequest()
	describe.Groups = []string{"app-x"}
	waitFor(t, "ConsumerGroupDescribe refusing the group", 10*time.Second, func() bool {
		d, err := describe.RequestWith(ctx, alice)
		return err == nil && len(d.Groups) == 1 && d.Groups[0].ErrorCode == kerr.TopicAuthorizationFailed.Code && d.Groups[0].Group == "app-x" &&
			len(d.Groups[0].Members) == 0
	})

	// OffsetFetch v1 has no top-level error: a refused group shows on every partition asked.
	of := kmsg.NewPtrOffsetFetchRequest()
	of.SetVersion(1)
	of.Group = "not-allowed"
	of.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "orders", Partitions: []int32{0}}}
	v1 := kversion.Stable()
	v1.SetMaxKeyVersion(9, 1)
	aliceV1 := userClient(t, saslAddr, "alice", "alice-pw", kgo.MaxVersions(v1))
	rawOF, err := aliceV1.Broker(int(b.cfg.NodeID)).Request(ctx, of)
	ofr, _ := rawOF.(*kmsg.OffsetFetchResponse)
	if err != nil || ofr == nil || len(ofr.Topics) != 1 || ofr.Topics[0].Partitions[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("OffsetFetch v1 of a denied group: %v %+v", err, ofr)
	}

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"not-allowed"}
	// Straight to the broker: the client would otherwise stop at FindCoordinator's refusal.
	raw, err := alice.Broker(int(b.cfg.NodeID)).Request(ctx, dg)
	dgr, _ := raw.(*kmsg.DescribeGroupsResponse)
	if err != nil || dgr == nil || len(dgr.Groups) != 1 || dgr.Groups[0].Group != "not-allowed" || dgr.Groups[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("DescribeGroups of a denied group: %v %+v", err, dgr)
	}

	// A transaction on secret and orders (as the super user); alice sees only orders.
	txnCl := b.Client(t, kgo.TransactionalID("shared"), kgo.DefaultProduceTopic("secret"))
	if err := txnCl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"secret", "orders"} {
		if err := txnCl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dt := kmsg.NewPtrDescribeTransactionsRequest()
	dt.TransactionalIDs = []string{"shared"}
	dtr, err := dt.RequestWith(ctx, alice)
	if err != nil || len(dtr.TransactionStates) != 1 || dtr.TransactionStates[0].ErrorCode != 0 {
		t.Fatalf("DescribeTransactions: %v %+v", err, dtr)
	}
	for _, tp := range dtr.TransactionStates[0].Topics {
		if tp.Topic != "orders" {
			t.Fatalf("alice sees topic %q of the transaction", tp.Topic)
		}
	}
	if err := txnCl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}
