package broker

// DescribeTopicPartitions (key 75), v0.
//
// Describes the requested topics (all topics when the list is empty), sorted by name, page by
// page (Kafka's DescribeTopicPartitionsRequestHandler and KRaftMetadataCache): at most
// response_partition_limit partitions (capped at max.request.partition.size.limit's default,
// 2000, and at least 1) per response, starting from the cursor's topic and partition; when the
// limit cuts a topic short, next_cursor names the first partition not returned. Topics before the
// cursor's are skipped; a cursor topic missing from an explicit topic list, or a negative cursor
// partition, is INVALID_REQUEST for every requested topic. A requested topic that does not exist
// gets UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for an invalid name). Every partition
// is led by this node with replicas and ISR [this node]; eligible leader replicas and last known
// ELR are empty (no KIP-966 state on one node). Topic authorized operations are always filled,
// as Kafka does for this API. Authorization: DESCRIBE per topic (see the handler).

import (
	"slices"

	"github.com/bulwark-kafka/bulwark/auth/authz"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxResponsePartitions is Kafka's default max.request.partition.size.limit.
const maxResponsePartitions = 2000

func (s *Server) handleDescribeTopicPartitions(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeTopicPartitionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	all := len(req.Topics) == 0
	cursorTopic, cursorPart := "", int32(0)
	if req.Cursor != nil {
		cursorTopic, cursorPart = req.Cursor.Topic, req.Cursor.Partition
	}
	var names []string
	if all {
		for _, t := range s.cluster.allTopics() {
			if t.name >= cursorTopic {
				names = append(names, t.name)
			}
		}
	} else {
		seen := make(map[string]bool, len(req.Topics))
		for _, rt := range req.Topics {
			if rt.Topic >= cursorTopic && !seen[rt.Topic] {
				seen[rt.Topic] = true
				names = append(names, rt.Topic)
			}
		}
	}
	slices.Sort(names)
	// Authorization: DESCRIBE per topic. A listing leaves out what the principal may not see; a
	// named topic it may not see is TOPIC_AUTHORIZATION_FAILED (existing or not), after the rest.
	az := s.newAuthBatch(c, h)
	for _, n := range names {
		az.add(authz.OpDescribe, authz.Topic(n), all)
		// Every name, existing or not: a topic created by another connection before the loop
		// below must still find its operations asked.
		az.addOps(authz.Topic(n))
	}
	var denied []string
	names = slices.DeleteFunc(names, func(n string) bool {
		if az.topicOK(authz.OpDescribe, n) {
			return false
		}
		if !all {
			denied = append(denied, n)
		}
		return true
	})
	defer func() {
		for _, n := range denied {
			resp.Topics = append(resp.Topics, describeTopicError(n, kerr.TopicAuthorizationFailed))
		}
	}()
	if req.Cursor != nil && (cursorPart < 0 || (!all && !slices.Contains(names, cursorTopic))) {
		for _, rt := range req.Topics {
			resp.Topics = append(resp.Topics, describeTopicError(rt.Topic, kerr.InvalidRequest))
		}
		return respond(resp)
	}
	remaining := int(max(min(req.ResponsePartitionLimit, maxResponsePartitions), 1))
	for _, name := range names {
		if remaining == 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		t := s.cluster.lookupTopic(name)
		if t == nil {
			if !all {
				code := kerr.UnknownTopicOrPartition
				if validTopicName(name) != "" {
					code = kerr.InvalidTopicException
				}
				resp.Topics = append(resp.Topics, describeTopicError(name, code))
			}
			continue
		}
		start := 0
		if name == cursorTopic {
			start = int(cursorPart)
		}
		upper := min(len(t.partitions), start+remaining)
		resp.Topics = append(resp.Topics, s.describeTopicPartitions(t, start, upper, az.authorizedOps(authz.Topic(name))))
		if upper < len(t.partitions) {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: int32(upper)}
			break
		}
		remaining -= max(upper-start, 0)
	}
	return respond(resp)
}

// describeTopicPartitions describes partitions [start, upper) of t.
func (s *Server) describeTopicPartitions(t *topic, start, upper int, ops int32) kmsg.DescribeTopicPartitionsResponseTopic {
	out := kmsg.NewDescribeTopicPartitionsResponseTopic()
	name := t.name
	out.Topic = &name
	out.TopicID = [16]byte(t.id)
	out.IsInternal = isInternalTopic(t.name)
	out.AuthorizedOperations = ops
	out.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
	node := s.cfg.NodeID
	for i := start; i < upper; i++ {
		p := t.partitions[i]
		op := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
		op.Partition = p.index
		op.LeaderID = node
		op.LeaderEpoch = p.leaderEpoch
		op.Replicas = []int32{node}
		op.ISR = []int32{node}
		op.EligibleLeaderReplicas = []int32{}
		op.LastKnownELR = []int32{}
		op.OfflineReplicas = []int32{}
		out.Partitions = append(out.Partitions, op)
	}
	return out
}

func describeTopicError(name string, code *kerr.Error) kmsg.DescribeTopicPartitionsResponseTopic {
	out := kmsg.NewDescribeTopicPartitionsResponseTopic()
	out.Topic = &name
	out.ErrorCode = code.Code
	out.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
	return out
}
