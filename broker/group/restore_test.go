package group

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type fakeTopics map[string]int32

func (f fakeTopics) Partitions(name string) ([16]byte, int32, bool) {
	n, ok := f[name]
	return [16]byte{1}, n, ok
}

func (f fakeTopics) Names() []string {
	var out []string
	for n := range f {
		out = append(out, n)
	}
	return out
}

func testCoordinator() *Coordinator {
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay, cfg.MinSessionTimeout = 0, 10*time.Millisecond
	return New(cfg, fakeTopics{"t": 2})
}

// FuzzRestore replays arbitrary journal entries (as a damaged or hostile journal would hold)
// and then drives the restored group: Restore must reject or absorb them, and nothing after may
// panic.
func FuzzRestore(f *testing.F) {
	f.Add([]byte(`group/["g"]`), []byte(`{"type":"classic","protocol_type":"consumer","protocol":"range","generation":3,"leader":"m","members":[{"id":"m","protocols":[{"Name":"range","Metadata":"AQ=="}]}]}`))
	f.Add([]byte(`group/["g"]`), []byte(`{"type":"classic","members":[{"id":"m"}],"leader":"x"}`))
	f.Add([]byte(`group/["c"]`), []byte(`{"type":"consumer","consumer":{"epoch":2,"assignor":"nope","members":[{"id":"a","topics":["t"],"assigned":{"zz":[1]}}]}}`))
	f.Add([]byte(`offset/["g","t",1]`), []byte(`{"offset":5,"leader_epoch":-1,"metadata":"x","commit_ms":1}`))
	f.Add([]byte(`txnoffset/["g",7,"t",0]`), []byte(`{"offset":9}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		c := testCoordinator()
		if err := c.Restore(key, value); err != nil {
			return
		}
		c.Start()
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		for id := range c.groups {
			c.DescribeGroups(5, &kmsg.DescribeGroupsRequest{Groups: []string{id}})
			c.ConsumerGroupDescribe(0, &kmsg.ConsumerGroupDescribeRequest{Groups: []string{id}})
			c.OffsetFetch(8, &kmsg.OffsetFetchRequest{Groups: []kmsg.OffsetFetchRequestGroup{{Group: id}}, RequireStable: true})
			join := kmsg.NewPtrJoinGroupRequest()
			join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = id, 20, 20, "consumer"
			join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
			c.JoinGroup(ctx, 3, join, ClientInfo{ClientID: "fuzz"})
			hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
			hb.Group, hb.MemberID, hb.MemberEpoch, hb.RebalanceTimeoutMillis = id, "a", 0, 100
			hb.SubscribedTopicNames, hb.Topics = []string{"t"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
			c.ConsumerGroupHeartbeat(ctx, 1, hb, ClientInfo{})
			_ = c.CompleteTxn(ctx, id, 7, true)
		}
		c.ListGroups(5, &kmsg.ListGroupsRequest{})
		c.ExpireOffsets()
	})
}
