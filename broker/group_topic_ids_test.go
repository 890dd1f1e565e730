package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupAPIsByTopicID: OffsetCommit and OffsetFetch v10 (Kafka 4.1) name topics by id: a
// known id commits and fetches by it, an unknown one answers UNKNOWN_TOPIC_ID; DescribeGroups v6
// answers an unknown group GROUP_ID_NOT_FOUND with a message (KIP-1043).
func TestGroupAPIsByTopicID(t *testing.T) {
	b := newTestBroker(t, fastGroups())
	cl, ctx := rawClient(t, b)
	mustCreateTopic(t, b.Admin(t), "t", 2, nil)
	id := topicID(t, b, "t")
	bogus := [16]byte{1, 2, 3}

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version = 10
	commit.Group, commit.Generation = "ids", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{
		{TopicID: id, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 42, LeaderEpoch: -1}}},
		{TopicID: bogus, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}},
	}
	cresp, err := commit.RequestWith(ctx, cl)
	if err != nil || cresp.Version != 10 || len(cresp.Topics) != 2 {
		t.Fatalf("commit v10: %+v, %v", cresp, err)
	}
	for _, rt := range cresp.Topics {
		want := int16(0)
		if rt.TopicID == bogus {
			want = kerr.UnknownTopicID.Code
		} else if rt.TopicID != id {
			t.Fatalf("commit answer names topic id %x", rt.TopicID)
		}
		if rt.Partitions[0].ErrorCode != want {
			t.Errorf("commit of %x: error %d, want %d", rt.TopicID, rt.Partitions[0].ErrorCode, want)
		}
	}

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 10
	fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "ids", Topics: []kmsg.OffsetFetchRequestGroupTopic{
		{TopicID: id, Partitions: []int32{0, 1}}, {TopicID: bogus, Partitions: []int32{0}}}}}
	fresp, err := fetch.RequestWith(ctx, cl)
	if err != nil || len(fresp.Groups) != 1 {
		t.Fatalf("fetch v10: %+v, %v", fresp, err)
	}
	got := map[[16]byte]map[int32]kmsg.OffsetFetchResponseGroupTopicPartition{}
	for _, rt := range fresp.Groups[0].Topics {
		got[rt.TopicID] = map[int32]kmsg.OffsetFetchResponseGroupTopicPartition{}
		for _, p := range rt.Partitions {
			got[rt.TopicID][p.Partition] = p
		}
	}
	if p := got[id][1]; p.Offset != 42 || p.ErrorCode != 0 {
		t.Errorf("fetch t-1 by id: %+v", p)
	}
	if p := got[id][0]; p.Offset != -1 || p.ErrorCode != 0 {
		t.Errorf("fetch t-0 (never committed) by id: %+v", p)
	}
	if p := got[bogus][0]; p.ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("fetch of an unknown id: %+v", p)
	}

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version = 6
	dg.Groups = []string{"nobody"}
	dresp, err := dg.RequestWith(ctx, cl)
	if err != nil || len(dresp.Groups) != 1 || dresp.Groups[0].ErrorCode != kerr.GroupIDNotFound.Code ||
		dresp.Groups[0].ErrorMessage == nil || *dresp.Groups[0].ErrorMessage != "Group nobody not found." {
		t.Fatalf("DescribeGroups v6 of an unknown group: %+v, %v", dresp, err)
	}
}
