package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAuditTopicIsReadOnlyAndInternal: the broker creates __bulwark_audit, marks it internal,
// appends to it, and refuses every client's attempt to write, create, delete, repartition,
// reconfigure or truncate it; a consumer reads what the broker wrote.
func TestAuditTopicIsReadOnlyAndInternal(t *testing.T) {
	tb := newTestBroker(t)
	if err := tb.EnsureAuditTopic(); err != nil {
		t.Fatal(err)
	}
	if err := tb.EnsureAuditTopic(); err != nil { // a restart finds it and keeps it
		t.Fatal(err)
	}
	now := time.Now()
	off, err := tb.AppendInternal(testContext(t), AuditTopic, []InternalRecord{
		{Key: []byte("a-1"), Value: []byte(`{"seq":1}`), Time: now},
		{Key: []byte("a-2"), Value: []byte(`{"seq":2}`), Time: now.Add(time.Millisecond)},
	})
	if err != nil || off != 0 {
		t.Fatalf("AppendInternal: offset %d, %v", off, err)
	}
	if _, err := tb.AppendInternal(testContext(t), "ordinary", []InternalRecord{{Value: []byte("x"), Time: now}}); err == nil {
		t.Fatal("AppendInternal wrote to a topic that is not internal")
	}

	ctx := testContext(t)
	adm := tb.Admin(t)
	md, err := adm.Metadata(ctx, AuditTopic)
	if err != nil {
		t.Fatal(err)
	}
	td := md.Topics[AuditTopic]
	if td.Err != nil || !td.IsInternal || len(td.Partitions) != 1 {
		t.Fatalf("metadata: err %v, internal %v, %d partitions", td.Err, td.IsInternal, len(td.Partitions))
	}
	rc, err := adm.DescribeTopicConfigs(ctx, AuditTopic)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rc.On(AuditTopic, nil); err != nil || configValue(v.Configs, "retention.ms") != "7776000000" || configValue(v.Configs, "cleanup.policy") != "delete" {
		t.Fatalf("configs: %+v %v", v.Configs, err)
	}

	// Produce is refused as Kafka refuses it for internal topics.
	cl := tb.Client(t, kgo.DefaultProduceTopic(AuditTopic), kgo.RecordRetries(1))
	res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("forged")})
	if !errors.Is(res.FirstErr(), kerr.InvalidTopicException) {
		t.Fatalf("produce to the audit topic: %v, want INVALID_TOPIC_EXCEPTION", res.FirstErr())
	}

	// Every change is refused.
	// (kadm's single-topic calls return the topic's error as their own as well.)
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, AuditTopic); !errors.Is(r.Err, kerr.InvalidRequest) {
		t.Fatalf("create: %v", r.Err)
	}
	if r, _ := adm.DeleteTopic(ctx, AuditTopic); !errors.Is(r.Err, kerr.PolicyViolation) {
		t.Fatalf("delete: %v", r.Err)
	}
	if r, err := adm.CreatePartitions(ctx, 2, AuditTopic); err != nil || !errors.Is(r[AuditTopic].Err, kerr.PolicyViolation) {
		t.Fatalf("create partitions: %v / %v", r[AuditTopic].Err, err)
	}
	v := "1000"
	if r, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: &v}}, AuditTopic); err != nil || !errors.Is(r[0].Err, kerr.PolicyViolation) {
		t.Fatalf("incremental alter configs: %+v / %v", r, err)
	}
	legacy := kmsg.NewPtrAlterConfigsRequest()
	lr := kmsg.NewAlterConfigsRequestResource()
	lr.ResourceType, lr.ResourceName = kmsg.ConfigResourceTypeTopic, AuditTopic
	lrc := kmsg.NewAlterConfigsRequestResourceConfig()
	lrc.Name, lrc.Value = "retention.ms", &v
	lr.Configs = append(lr.Configs, lrc)
	legacy.Resources = append(legacy.Resources, lr)
	lresp, err := legacy.RequestWith(ctx, cl)
	if err != nil || lresp.Resources[0].ErrorCode != kerr.PolicyViolation.Code {
		t.Fatalf("alter configs: %+v / %v", lresp, err)
	}
	dr, err := adm.DeleteRecords(ctx, kadm.Offsets{AuditTopic: {0: {At: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := dr.Lookup(AuditTopic, 0); !errors.Is(p.Err, kerr.PolicyViolation) {
		t.Fatalf("delete records: %v", p.Err)
	}

	// A look-alike name ('.' and '_' fold together) is reserved too.
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "__bulwark.audit"); !errors.Is(r.Err, kerr.InvalidRequest) {
		t.Fatalf("create a look-alike: %v", r.Err)
	}
	// A transaction cannot take the topic in (its markers would land there).
	txn := kmsg.NewPtrAddPartitionsToTxnRequest()
	txn.Version = 3
	txn.TransactionalID, txn.ProducerID = "tx", 1
	txn.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: AuditTopic, Partitions: []int32{0}}, {Topic: "other", Partitions: []int32{0}}}
	tresp, err := txn.RequestWith(ctx, cl)
	if err != nil || len(tresp.Topics) != 2 || tresp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidTopicException.Code ||
		tresp.Topics[1].Partitions[0].ErrorCode != kerr.OperationNotAttempted.Code {
		t.Fatalf("AddPartitionsToTxn: %+v / %v", tresp, err)
	}

	// A consumer reads exactly what the broker wrote.
	cons := tb.Client(t, kgo.ConsumeTopics(AuditTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < 2 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Key)+"="+string(r.Value)) })
	}
	if got[0] != `a-1={"seq":1}` || got[1] != `a-2={"seq":2}` || len(got) != 2 {
		t.Fatalf("consumed %q", got)
	}
}

func configValue(cs []kadm.Config, name string) string {
	for _, c := range cs {
		if c.Key == name && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}
