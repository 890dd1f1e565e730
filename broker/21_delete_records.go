package broker

// DeleteRecords (key 21), v0–v2.
//
// Per partition: offset -1 means the high watermark; an offset below 0 or above the high
// watermark is OFFSET_OUT_OF_RANGE; an unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION; a
// topic whose cleanup.policy lacks "delete" POLICY_VIOLATION (Partition.deleteRecordsOnLeader).
// Otherwise the log start offset moves up (never down; it may land mid-segment, and whole
// segments below it are removed) and is persisted in the metadata log before the answer, which
// carries the new low watermark (-1 on error). The timeout is ignored.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDeleteRecords(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	az := s.newAuthBatch(c, h)
	for _, rt := range req.Topics {
		az.add(authz.OpDelete, authz.Topic(rt.Topic), false)
	}
	for _, rt := range req.Topics {
		out := kmsg.NewDeleteRecordsResponseTopic()
		out.Topic = rt.Topic
		t := s.cluster.lookupTopic(rt.Topic)
		for _, rp := range rt.Partitions {
			op := kmsg.NewDeleteRecordsResponseTopicPartition()
			op.Partition = rp.Partition
			op.LowWatermark = -1
			if !az.topicOK(authz.OpDelete, rt.Topic) {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
				out.Partitions = append(out.Partitions, op)
				continue
			}
			low, err := s.deleteRecords(t, rp)
			if err != nil {
				op.ErrorCode, _ = errorCode(err)
			} else {
				op.LowWatermark = low
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return respond(resp)
}

func (s *Server) deleteRecords(t *topic, rp kmsg.DeleteRecordsRequestTopicPartition) (int64, error) {
	var p *partition
	if t != nil {
		p = t.partition(rp.Partition)
	}
	if p == nil {
		return -1, newAPIError(kerr.UnknownTopicOrPartition, "unknown topic or partition")
	}
	if err := refuseInternalChange(t.name); err != nil {
		return -1, err
	}
	if !t.cfg.Deletes() {
		return -1, newAPIError(kerr.PolicyViolation, "records of partition %s-%d can not be deleted due to the configured policy", t.name, p.index)
	}
	return s.cluster.deleteRecords(p, rp.Offset)
}
