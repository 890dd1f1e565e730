package broker

// OffsetForLeaderEpoch (key 23), v2–v4.
//
// Per partition: the largest leader epoch at or below the requested one and its end offset (the
// start of the next higher epoch, or the log end offset for the latest epoch), mirroring Kafka's
// LeaderEpochFileCache.endOffsetFor: an epoch above every known one answers (-1, -1), one below
// every known one answers (requested epoch, start offset of the first known epoch).
// current_leader_epoch is fenced as in Fetch (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH); an
// unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION. replica_id (v3+) is ignored: this
// broker always answers as the leader, which is what consumers (replica_id -1) ask for.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetForLeaderEpoch(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	// CLUSTER_ACTION (a follower) allows every topic; otherwise DESCRIBE per topic.
	az := s.newAuthBatch(c, h)
	az.add(authz.OpClusterAction, authz.Cluster, true)
	follower := az.ok(authz.OpClusterAction, authz.Cluster)
	if !follower {
		for _, rt := range req.Topics {
			az.add(authz.OpDescribe, authz.Topic(rt.Topic), false)
		}
	}
	for _, rt := range req.Topics {
		out := kmsg.NewOffsetForLeaderEpochResponseTopic()
		out.Topic = rt.Topic
		t := s.cluster.lookupTopic(rt.Topic)
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			op.Partition = rp.Partition
			var p *partition
			if t != nil {
				p = t.partition(rp.Partition)
			}
			if !follower && !az.topicOK(authz.OpDescribe, rt.Topic) {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if p == nil {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if op.ErrorCode = checkLeaderEpoch(rp.CurrentLeaderEpoch, p.leaderEpoch); op.ErrorCode == 0 {
				op.LeaderEpoch, op.EndOffset = p.log.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return respond(resp)
}
