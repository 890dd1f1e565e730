package broker

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// rawAt sends req at exactly version over a fresh raw connection and returns the typed response.
// Admin tests use it where a real client would pick another version or route the request
// elsewhere (kgo sends broker-resource requests to the broker they name).
func rawAt[R kmsg.Response](t testing.TB, b *testBroker, version int16, req kmsg.Request) R {
	t.Helper()
	req.SetVersion(version)
	return dialRaw(t, b.Addr).roundTrip(req).(R)
}

// wantCode fails the test unless code is want's (nil: success).
func wantCode(t testing.TB, what string, code int16, want *kerr.Error) {
	t.Helper()
	var wc int16
	if want != nil {
		wc = want.Code
	}
	if code != wc {
		t.Errorf("%s: error %v, want %v", what, kerr.ErrorForCode(code), want)
	}
}

// mustCreateTopic creates a topic through kadm and fails the test if that does not work.
func mustCreateTopic(t testing.TB, adm *kadm.Client, name string, partitions int32, configs map[string]*string) kadm.CreateTopicResponse {
	t.Helper()
	r, err := adm.CreateTopic(testContext(t), partitions, -1, configs, name)
	if err != nil {
		t.Fatalf("create %s: %v (%s)", name, err, r.ErrMessage)
	}
	return r
}

func newCreateTopic(name string, partitions int32, rf int16) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	return rt
}

func TestCreateTopicsHappyPath(t *testing.T) {
	b := newTestBroker(t)
	adm := b.Admin(t)
	r := mustCreateTopic(t, adm, "orders", 3, map[string]*string{"retention.ms": kadm.StringPtr("60000")})
	if r.ID == (kadm.TopicID{}) || r.NumPartitions != 3 || r.ReplicationFactor != 1 {
		t.Fatalf("result %+v, want an id, 3 partitions, RF 1", r)
	}
	if c, ok := r.Configs["retention.ms"]; !ok || c.Value == nil || *c.Value != "60000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("retention.ms in result: %+v", c)
	}
	if c, ok := r.Configs["segment.bytes"]; !ok || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("segment.bytes in result: %+v", c)
	}
	md, err := adm.Metadata(testContext(t), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if td := md.Topics["orders"]; td.Err != nil || len(td.Partitions) != 3 || td.ID != r.ID {
		t.Fatalf("metadata %+v, want 3 partitions and id %v", td, r.ID)
	}

	// Defaults (-1/-1), and v2 (no configs or counts in the answer), straight over the wire.
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics = append(req.Topics, newCreateTopic("defaults", -1, -1))
	resp := rawAt[*kmsg.CreateTopicsResponse](t, b, 7, req)
	if rt := resp.Topics[0]; rt.ErrorCode != 0 || rt.NumPartitions != b.cfg.NumPartitions || rt.ReplicationFactor != 1 {
		t.Fatalf("defaults: %+v", rt)
	}
	req.Topics = []kmsg.CreateTopicsRequestTopic{newCreateTopic("old-client", 2, 1)}
	resp = rawAt[*kmsg.CreateTopicsResponse](t, b, 2, req)
	wantCode(t, "v2 create", resp.Topics[0].ErrorCode, nil)
	if got := b.cluster.lookupTopic("old-client"); got == nil || len(got.partitions) != 2 {
		t.Fatalf("v2 create did not create 2 partitions")
	}
}

func TestCreateTopicsValidateOnly(t *testing.T) {
	b := newTestBroker(t)
	rs, err := b.Admin(t).ValidateCreateTopics(testContext(t), 4, 1, nil, "dry")
	if err != nil || rs.Error() != nil {
		t.Fatalf("validate: %v %v", err, rs.Error())
	}
	if r := rs["dry"]; r.NumPartitions != 4 || r.ID != (kadm.TopicID{}) {
		t.Errorf("validate-only result %+v, want 4 partitions and no id", r)
	}
	if b.cluster.lookupTopic("dry") != nil {
		t.Fatal("validate_only created the topic")
	}
}

func TestCreateTopicsErrors(t *testing.T) {
	b := newTestBroker(t)
	mustCreateTopic(t, b.Admin(t), "exists", 1, nil)
	mustCreateTopic(t, b.Admin(t), "a_b", 1, nil)
	assign := func(rt kmsg.CreateTopicsRequestTopic, parts ...[]int32) kmsg.CreateTopicsRequestTopic {
		for i, replicas := range parts {
			ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			ra.Partition, ra.Replicas = int32(i), replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		}
		return rt
	}
	addConfig := func(rt kmsg.CreateTopicsRequestTopic, name string, value *string) kmsg.CreateTopicsRequestTopic {
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name, rc.Value = name, value
		rt.Configs = append(rt.Configs, rc)
		return rt
	}
	gapped := assign(newCreateTopic("gap", -1, -1), []int32{1}, []int32{1})
	gapped.ReplicaAssignment[1].Partition = 2
	twice := assign(newCreateTopic("twice", -1, -1), []int32{1}, []int32{1})
	twice.ReplicaAssignment[1].Partition = 0
	cases := []struct {
		name    string
		topic   kmsg.CreateTopicsRequestTopic
		want    *kerr.Error
		msgPart string
	}{
		{"exists", newCreateTopic("exists", 1, 1), kerr.TopicAlreadyExists, "already exists"},
		{"bad name", newCreateTopic("a/b", 1, 1), kerr.InvalidTopicException, ""},
		{"dot", newCreateTopic(".", 1, 1), kerr.InvalidTopicException, ""},
		{"too long", newCreateTopic(strings.Repeat("x", 250), 1, 1), kerr.InvalidTopicException, ""},
		{"metadata dir", newCreateTopic("__cluster_metadata", 1, 1), kerr.InvalidRequest, ""},
		{"collision", newCreateTopic("a.b", 1, 1), kerr.InvalidTopicException, "collides"},
		{"rf 3", newCreateTopic("rf3", 1, 3), kerr.InvalidReplicationFactor, "only 1 broker"},
		{"rf 0", newCreateTopic("rf0", 1, 0), kerr.InvalidReplicationFactor, ""},
		{"rf -2", newCreateTopic("rfm2", 1, -2), kerr.InvalidReplicationFactor, ""},
		{"partitions 0", newCreateTopic("p0", 0, 1), kerr.InvalidPartitions, ""},
		{"partitions -2", newCreateTopic("pm2", -2, 1), kerr.InvalidPartitions, ""},
		{"too many partitions", newCreateTopic("huge", maxNewPartitionsPerRequest+1, 1), kerr.PolicyViolation, ""},
		{"null config", addConfig(newCreateTopic("nullcfg", 1, 1), "retention.ms", nil), kerr.InvalidConfig, "retention.ms"},
		{"unknown config", addConfig(newCreateTopic("unkcfg", 1, 1), "no.such.key", kadm.StringPtr("1")), kerr.InvalidConfig, "no.such.key"},
		{"bad config value", addConfig(newCreateTopic("badcfg", 1, 1), "retention.ms", kadm.StringPtr("abc")), kerr.InvalidConfig, "retention.ms"},
		{"assignment with count", assign(newCreateTopic("ac", 1, -1), []int32{1}), kerr.InvalidRequest, "numPartitions"},
		{"assignment with rf", assign(newCreateTopic("ar", -1, 1), []int32{1}), kerr.InvalidRequest, "replication factor"},
		{"assignment other broker", assign(newCreateTopic("ob", -1, -1), []int32{2}), kerr.InvalidReplicaAssignment, "broker 2"},
		{"assignment empty", assign(newCreateTopic("ae", -1, -1), []int32{}), kerr.InvalidReplicaAssignment, "empty"},
		{"assignment repeated broker", assign(newCreateTopic("rb", -1, -1), []int32{1, 1}), kerr.InvalidReplicaAssignment, "more than once"},
		{"assignment gap", gapped, kerr.InvalidReplicaAssignment, "consecutive"},
		{"assignment twice", twice, kerr.InvalidReplicaAssignment, "multiple"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrCreateTopicsRequest()
			req.Topics = append(req.Topics, tc.topic)
			rt := rawAt[*kmsg.CreateTopicsResponse](t, b, 7, req).Topics[0]
			wantCode(t, tc.name, rt.ErrorCode, tc.want)
			if rt.ErrorMessage == nil || !strings.Contains(*rt.ErrorMessage, tc.msgPart) {
				t.Errorf("message %v, want one containing %q", rt.ErrorMessage, tc.msgPart)
			}
			if tc.topic.Topic != "exists" && tc.topic.Topic != "a_b" && b.cluster.lookupTopic(tc.topic.Topic) != nil {
				t.Errorf("failed create left topic %q behind", tc.topic.Topic)
			}
		})
	}
}

func TestCreateTopicsManualAssignment(t *testing.T) {
	b := newTestBroker(t)
	rt := newCreateTopic("manual", -1, -1)
	for i := range 3 {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = int32(i), []int32{b.cfg.NodeID}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics = append(req.Topics, rt)
	out := rawAt[*kmsg.CreateTopicsResponse](t, b, 7, req).Topics[0]
	wantCode(t, "manual", out.ErrorCode, nil)
	if out.NumPartitions != 3 || len(b.cluster.lookupTopic("manual").partitions) != 3 {
		t.Fatalf("manual assignment: %d partitions in the answer", out.NumPartitions)
	}
}

func TestCreateTopicsDuplicateNamesAndDefaultRF(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.DefaultReplicationFactor = 3 }))
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics = append(req.Topics, newCreateTopic("dup", 1, 1), newCreateTopic("fine", 1, 1),
		newCreateTopic("dup", 2, 1), newCreateTopic("default-rf", 1, -1))
	resp := rawAt[*kmsg.CreateTopicsResponse](t, b, 7, req)
	if len(resp.Topics) != 3 {
		t.Fatalf("%d results, want one per distinct name", len(resp.Topics))
	}
	got := map[string]int16{}
	for _, rt := range resp.Topics {
		got[rt.Topic] = rt.ErrorCode
	}
	wantCode(t, "dup", got["dup"], kerr.InvalidRequest)
	wantCode(t, "fine", got["fine"], nil)
	wantCode(t, "default rf 3 on one node", got["default-rf"], kerr.InvalidReplicationFactor)
	if b.cluster.lookupTopic("dup") != nil {
		t.Error("a duplicated name was created")
	}
}

func TestDeleteTopics(t *testing.T) {
	b := newTestBroker(t)
	adm := b.Admin(t)
	first := mustCreateTopic(t, adm, "gone", 2, nil)
	rs, err := adm.DeleteTopics(testContext(t), "gone")
	if err != nil || rs.Error() != nil {
		t.Fatalf("delete: %v %v", err, rs.Error())
	}
	if b.cluster.lookupTopic("gone") != nil {
		t.Fatal("topic still present")
	}
	second := mustCreateTopic(t, adm, "gone", 1, nil)
	if second.ID == first.ID {
		t.Fatal("a recreated topic reused the old id")
	}

	// By id (v6), and the per-entry errors.
	mustCreateTopic(t, adm, "dup", 1, nil)
	both := kmsg.NewDeleteTopicsRequestTopic()
	both.Topic, both.TopicID = kmsg.StringPtr("gone"), second.ID
	cases := []struct {
		name  string
		topic kmsg.DeleteTopicsRequestTopic
		want  *kerr.Error
	}{
		{"unknown name", kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr("nope")}, kerr.UnknownTopicOrPartition},
		{"unknown id", kmsg.DeleteTopicsRequestTopic{TopicID: [16]byte{1, 2, 3}}, kerr.UnknownTopicID},
		{"both", both, kerr.InvalidRequest},
		{"neither", kmsg.DeleteTopicsRequestTopic{}, kerr.InvalidRequest},
		{"by id", kmsg.DeleteTopicsRequestTopic{TopicID: second.ID}, nil},
	}
	for _, tc := range cases {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Topics = append(req.Topics, tc.topic)
		resp := rawAt[*kmsg.DeleteTopicsResponse](t, b, 6, req)
		wantCode(t, tc.name, resp.Topics[0].ErrorCode, tc.want)
		if tc.want == nil && (resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "gone") {
			t.Errorf("%s: result names %v, want the deleted topic", tc.name, resp.Topics[0].Topic)
		}
	}
	if b.cluster.lookupTopic("gone") != nil {
		t.Fatal("delete by id left the topic")
	}

	// Repeats: a name twice, or a name and its id, delete nothing.
	dupID := [16]byte(b.cluster.lookupTopic("dup").id)
	for _, entries := range [][]kmsg.DeleteTopicsRequestTopic{
		{{Topic: kmsg.StringPtr("dup")}, {Topic: kmsg.StringPtr("dup")}},
		{{TopicID: dupID}, {TopicID: dupID}},
		{{Topic: kmsg.StringPtr("dup")}, {TopicID: dupID}},
	} {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Topics = entries
		for _, rt := range rawAt[*kmsg.DeleteTopicsResponse](t, b, 6, req).Topics {
			wantCode(t, "repeated", rt.ErrorCode, kerr.InvalidRequest)
		}
		if b.cluster.lookupTopic("dup") == nil {
			t.Fatal("a repeated delete deleted the topic")
		}
	}

	// v1–v5 name topics in TopicNames.
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames = []string{"dup", "missing"}
	resp := rawAt[*kmsg.DeleteTopicsResponse](t, b, 5, req)
	wantCode(t, "v5 dup", resp.Topics[0].ErrorCode, nil)
	wantCode(t, "v5 missing", resp.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)
}

func TestDeleteTopicsDisabled(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.DeleteTopicEnable = false }))
	mustCreateTopic(t, b.Admin(t), "kept", 1, nil)
	for _, tc := range []struct {
		version int16
		want    *kerr.Error
	}{{6, kerr.TopicDeletionDisabled}, {3, kerr.TopicDeletionDisabled}, {2, kerr.InvalidRequest}} {
		req := kmsg.NewPtrDeleteTopicsRequest()
		if tc.version >= 6 {
			req.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("kept")}}
		} else {
			req.TopicNames = []string{"kept"}
		}
		resp := rawAt[*kmsg.DeleteTopicsResponse](t, b, tc.version, req)
		wantCode(t, "disabled", resp.Topics[0].ErrorCode, tc.want)
	}
	if b.cluster.lookupTopic("kept") == nil {
		t.Fatal("topic deleted although deletion is disabled")
	}
}
