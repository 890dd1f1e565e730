package broker

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

func TestAdminAPIsAdvertised(t *testing.T) {
	b := newTestBroker(t)
	resp := rawAt[*kmsg.ApiVersionsResponse](t, b, 3, &kmsg.ApiVersionsRequest{ClientSoftwareName: "test", ClientSoftwareVersion: "1"})
	got := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	for _, e := range b.adminEntries() {
		if got[e.key] != [2]int16{e.min, e.max} {
			t.Errorf("key %d advertised as %v, want v%d–v%d", e.key, got[e.key], e.min, e.max)
		}
	}
}

func TestDescribeCluster(t *testing.T) {
	b := newTestBroker(t)
	cl := b.Client(t)
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeClusterAuthorizedOperations = true
	kresp, err := cl.Request(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	resp := kresp.(*kmsg.DescribeClusterResponse)
	host, port := splitHostPort(t, b.Addr)
	wantCode(t, "describe cluster", resp.ErrorCode, nil)
	if resp.ClusterID != b.cluster.store.State().ClusterID || resp.ControllerID != b.cfg.NodeID || resp.EndpointType != 1 {
		t.Errorf("cluster %q controller %d endpoint type %d", resp.ClusterID, resp.ControllerID, resp.EndpointType)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != b.cfg.NodeID || resp.Brokers[0].Host != host ||
		resp.Brokers[0].Port != port || resp.Brokers[0].IsFenced {
		t.Errorf("brokers %+v, want this node at %s", resp.Brokers, b.Addr)
	}
	if resp.ClusterAuthorizedOperations != allOps(authz.ResourceCluster) {
		t.Errorf("authorized operations %b", resp.ClusterAuthorizedOperations)
	}

	// Versions and endpoint types, over the wire.
	for _, tc := range []struct {
		version  int16
		endpoint int8
		authOps  bool
		want     *kerr.Error
	}{
		{0, 1, false, nil},
		{1, 1, false, nil},
		{2, 1, false, nil},
		{1, 2, false, kerr.MismatchedEndpointType},
		{2, 7, false, kerr.UnsupportedEndpointType},
	} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.EndpointType, req.IncludeClusterAuthorizedOperations = tc.endpoint, tc.authOps
		resp := rawAt[*kmsg.DescribeClusterResponse](t, b, tc.version, req)
		wantCode(t, "v"+strconv.Itoa(int(tc.version)), resp.ErrorCode, tc.want)
		if tc.want == nil && (len(resp.Brokers) != 1 || resp.ClusterAuthorizedOperations != -2147483648) {
			t.Errorf("v%d: brokers %+v, authorized operations %d (not asked for)", tc.version, resp.Brokers, resp.ClusterAuthorizedOperations)
		}
		if tc.want != nil && (resp.ErrorMessage == nil || len(resp.Brokers) != 0) {
			t.Errorf("v%d endpoint %d: message %v, brokers %+v", tc.version, tc.endpoint, resp.ErrorMessage, resp.Brokers)
		}
	}
}

func splitHostPort(t testing.TB, addr string) (string, int32) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return host, int32(port)
}

// describeTopicPartitions sends one DescribeTopicPartitions request.
func describeTopicPartitions(t testing.TB, b *testBroker, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, topics ...string) *kmsg.DescribeTopicPartitionsResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit, req.Cursor = limit, cursor
	for _, name := range topics {
		req.Topics = append(req.Topics, kmsg.DescribeTopicPartitionsRequestTopic{Topic: name})
	}
	return rawAt[*kmsg.DescribeTopicPartitionsResponse](t, b, 0, req)
}

// pageSummary renders a response as "topic:partitions" entries (or "topic!code") and the cursor.
func pageSummary(resp *kmsg.DescribeTopicPartitionsResponse) (got []string, cursor string) {
	for _, rt := range resp.Topics {
		s := strOrNil(rt.Topic)
		if rt.ErrorCode != 0 {
			got = append(got, s+"!"+strconv.Itoa(int(rt.ErrorCode)))
			continue
		}
		s += ":"
		for _, p := range rt.Partitions {
			s += strconv.Itoa(int(p.Partition))
		}
		got = append(got, s)
	}
	if c := resp.NextCursor; c != nil {
		cursor = c.Topic + "/" + strconv.Itoa(int(c.Partition))
	}
	return got, cursor
}

func TestDescribeTopicPartitions(t *testing.T) {
	b := newTestBroker(t)
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "c", 1, nil)
	mustCreateTopic(t, adm, "a", 3, nil)
	mustCreateTopic(t, adm, "b", 2, nil)
	cur := func(topic string, p int32) *kmsg.DescribeTopicPartitionsRequestCursor {
		return &kmsg.DescribeTopicPartitionsRequestCursor{Topic: topic, Partition: p}
	}
	cases := []struct {
		name       string
		limit      int32
		cursor     *kmsg.DescribeTopicPartitionsRequestCursor
		topics     []string
		want       []string
		wantCursor string
	}{
		{"all", 2000, nil, nil, []string{"a:012", "b:01", "c:0"}, ""},
		{"first page", 4, nil, nil, []string{"a:012", "b:0"}, "b/1"},
		{"second page", 4, cur("b", 1), nil, []string{"b:1", "c:0"}, ""},
		{"page ends on a topic boundary", 3, nil, nil, []string{"a:012"}, "b/0"},
		{"limit 0 means 1", 0, nil, nil, []string{"a:0"}, "a/1"},
		{"listed, sorted, unknown and invalid", 2000, nil, []string{"c", "zz", "a", "c", "x/y"},
			[]string{"a:012", "c:0", "x/y!17", "zz!3"}, ""},
		{"cursor skips earlier topics", 2000, cur("b", 0), []string{"a", "b"}, []string{"b:01"}, ""},
		{"cursor not listed", 2000, cur("b", 0), []string{"a", "c"}, []string{"a!42", "c!42"}, ""},
		{"negative cursor partition", 2000, cur("a", -1), nil, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := describeTopicPartitions(t, b, tc.limit, tc.cursor, tc.topics...)
			got, cursor := pageSummary(resp)
			if !slices.Equal(got, tc.want) || cursor != tc.wantCursor {
				t.Fatalf("got %v cursor %q, want %v cursor %q", got, cursor, tc.want, tc.wantCursor)
			}
		})
	}
	resp := describeTopicPartitions(t, b, 2000, nil, "a")
	rt := resp.Topics[0]
	p := rt.Partitions[1]
	if rt.TopicID != [16]byte(b.cluster.lookupTopic("a").id) || rt.AuthorizedOperations != allOps(authz.ResourceTopic) || rt.IsInternal ||
		p.LeaderID != b.cfg.NodeID || p.LeaderEpoch != 0 || len(p.Replicas) != 1 || len(p.ISR) != 1 ||
		p.EligibleLeaderReplicas == nil || len(p.OfflineReplicas) != 0 {
		t.Fatalf("topic %+v partition %+v", rt, p)
	}
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	b := newTestBroker(t)
	mustCreateTopic(t, b.Admin(t), "ofle", 2, nil)
	produceTo(t, b, "ofle", 0, 5)
	ask := func(version int16, topic string, partition, current, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: partition, CurrentLeaderEpoch: current, LeaderEpoch: epoch}}
		req.Topics = append(req.Topics, rt)
		return rawAt[*kmsg.OffsetForLeaderEpochResponse](t, b, version, req).Topics[0].Partitions[0]
	}
	cases := []struct {
		name                 string
		version              int16
		topic                string
		partition, cur, want int32
		wantErr              *kerr.Error
		wantEpoch            int32
		wantEnd              int64
	}{
		{"latest epoch ends at the log end", 4, "ofle", 0, 0, 0, nil, 0, 5},
		{"no current epoch", 2, "ofle", 0, -1, 0, nil, 0, 5},
		{"epoch above all known", 3, "ofle", 0, -1, 3, nil, -1, -1},
		{"empty partition", 4, "ofle", 1, -1, 0, nil, -1, -1},
		{"current epoch from the future", 4, "ofle", 0, 1, 0, kerr.UnknownLeaderEpoch, -1, -1},
		{"unknown partition", 4, "ofle", 9, -1, 0, kerr.UnknownTopicOrPartition, -1, -1},
		{"unknown topic", 4, "nope", 0, -1, 0, kerr.UnknownTopicOrPartition, -1, -1},
	}
	for _, tc := range cases {
		got := ask(tc.version, tc.topic, tc.partition, tc.cur, tc.want)
		wantCode(t, tc.name, got.ErrorCode, tc.wantErr)
		if got.LeaderEpoch != tc.wantEpoch || got.EndOffset != tc.wantEnd {
			t.Errorf("%s: epoch %d end %d, want %d %d", tc.name, got.LeaderEpoch, got.EndOffset, tc.wantEpoch, tc.wantEnd)
		}
	}

	// kadm speaks it too.
	var r kadm.OffsetForLeaderEpochRequest
	r.Add("ofle", 0, 0)
	res, err := b.Admin(t).OffsetForLeaderEpoch(testContext(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if o := res["ofle"][0]; o.Err != nil || o.EndOffset != 5 {
		t.Fatalf("kadm: %+v", o)
	}
}

func TestDescribeLogDirs(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.LogDirs = []string{dir1, dir2} }))
	mustCreateTopic(t, b.Admin(t), "spread", 4, nil)
	produceTo(t, b, "spread", 0, 3)

	all, err := b.Admin(t).DescribeAllLogDirs(testContext(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := all[b.cfg.NodeID]
	if len(dirs) != 2 {
		t.Fatalf("%d dirs described, want 2", len(dirs))
	}
	seen := 0
	for _, d := range []string{dir1, dir2} {
		abs, _ := filepath.Abs(d)
		ld, ok := dirs[abs]
		if !ok || ld.Err != nil || ld.TotalBytes <= 0 || ld.UsableBytes < 0 || ld.UsableBytes > ld.TotalBytes {
			t.Fatalf("dir %s: %+v", abs, ld)
		}
		for _, p := range ld.Topics["spread"] {
			seen++
			tp := b.cluster.lookupTopic("spread").partition(p.Partition)
			if filepath.Dir(tp.dir) != abs || p.Size != tp.log.Size() || p.OffsetLag != 0 || p.IsFuture {
				t.Errorf("partition %d listed in %s with size %d: %+v", p.Partition, abs, p.Size, p)
			}
			if p.Partition == 0 && p.Size == 0 {
				t.Error("partition 0 holds records but has size 0")
			}
		}
	}
	if seen != 4 {
		t.Fatalf("%d partitions listed, want 4", seen)
	}

	// A filter lists only what it names; v1 has no volume sizes.
	req := kmsg.NewPtrDescribeLogDirsRequest()
	req.Topics = []kmsg.DescribeLogDirsRequestTopic{{Topic: "spread", Partitions: []int32{2, 99}}, {Topic: "nope", Partitions: []int32{0}}}
	resp := rawAt[*kmsg.DescribeLogDirsResponse](t, b, 1, req)
	listed := 0
	for _, d := range resp.Dirs {
		for _, rt := range d.Topics {
			for _, p := range rt.Partitions {
				listed++
				if rt.Topic != "spread" || p.Partition != 2 {
					t.Errorf("filtered answer lists %s-%d", rt.Topic, p.Partition)
				}
			}
		}
	}
	if listed != 1 {
		t.Fatalf("filtered answer lists %d partitions, want 1", listed)
	}
	for _, d := range resp.Dirs {
		if d.TotalBytes != -1 {
			t.Errorf("v1 answer carries volume sizes")
		}
	}
}

func TestDescribeLogDirsOffline(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.LogDirs = []string{dir1, dir2} }))
	// dir2 holds no partitions (there are no topics), so removing it breaks nothing but itself.
	if err := os.RemoveAll(dir2); err != nil {
		t.Fatal(err)
	}
	resp := rawAt[*kmsg.DescribeLogDirsResponse](t, b, 4, kmsg.NewPtrDescribeLogDirsRequest())
	abs1, _ := filepath.Abs(dir1)
	abs2, _ := filepath.Abs(dir2)
	if len(resp.Dirs) != 2 || resp.Dirs[0].Dir != abs1 || resp.Dirs[1].Dir != abs2 {
		t.Fatalf("dirs %+v", resp.Dirs)
	}
	wantCode(t, "present dir", resp.Dirs[0].ErrorCode, nil)
	wantCode(t, "removed dir", resp.Dirs[1].ErrorCode, kerr.KafkaStorageError)
}
