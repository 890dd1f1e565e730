package broker

// CreatePartitions (key 37), v0–v3.
//
// The count is the new total and must grow the topic: the same count is INVALID_PARTITIONS
// ("already has N partitions"), a smaller one INVALID_PARTITIONS ("would not be an increase");
// Kafka never shrinks a topic. An unknown topic is UNKNOWN_TOPIC_OR_PARTITION. A topic listed
// twice gets one INVALID_REQUEST result and is not changed. Assignments, if given, must hold one
// replica list per new partition (else INVALID_REPLICA_ASSIGNMENT), each exactly [this node]
// (Kafka's validateManualPartitionAssignment). One request may add at most
// maxNewPartitionsPerRequest partitions in all (POLICY_VIOLATION beyond). New partitions start at
// leader epoch 0 and are served at once. validate_only checks without creating; the timeout is ignored.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleCreatePartitions(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	names := make([]string, len(req.Topics))
	for i := range req.Topics {
		names[i] = req.Topics[i].Topic
	}
	dups := duplicateNames(names)
	answered := make(map[string]bool, len(req.Topics))
	budget := partitionBudget(maxNewPartitionsPerRequest)
	mutations := c.mutationQuota(h, 3, req.ValidateOnly)
	az := s.newAuthBatch(c, h)
	az.addTopics(authz.OpAlter, names, false)
	policy := s.topicCheck(c, h)
	for i := range req.Topics {
		rt := &req.Topics[i]
		if answered[rt.Topic] {
			continue
		}
		answered[rt.Topic] = true
		out := kmsg.NewCreatePartitionsResponseTopic()
		out.Topic = rt.Topic
		var err error
		var added int32
		if dups[rt.Topic] {
			err = newAPIError(kerr.InvalidRequest, "duplicate topic name")
		} else if !az.topicOK(authz.OpAlter, rt.Topic) {
			err = deniedError(h, kerr.TopicAuthorizationFailed)
		} else if err = mutations.refuse(); err == nil {
			if err = s.checkNewPartitions(rt, &budget); err == nil && policy != nil {
				if t := s.cluster.lookupTopic(rt.Topic); t != nil {
					err = policy(authz.TopicChange{Topic: rt.Topic, Partitions: rt.Count, ReplicationFactor: 1, Configs: t.overrides, ValidateOnly: req.ValidateOnly})
				}
			}
			if err == nil {
				added, err = s.cluster.createPartitions(rt.Topic, rt.Count, req.ValidateOnly)
			}
		}
		out.ErrorCode, out.ErrorMessage = errorCode(err)
		if err == nil && !req.ValidateOnly {
			mutations.record(int(added))
			s.logger.Info("partitions created by request", "topic", rt.Topic, "total", rt.Count,
				"client_id", h.clientID, "remote", c.remote)
		}
		resp.Topics = append(resp.Topics, out)
	}
	resp.ThrottleMillis = mutations.throttleMillis()
	return respond(resp)
}

// checkNewPartitions validates a request's assignments against the topic's current size. The
// count itself is checked again by createPartitions under the admin lock, which is what makes
// the check race-free. New partitions count against the request's budget.
func (s *Server) checkNewPartitions(rt *kmsg.CreatePartitionsRequestTopic, budget *partitionBudget) error {
	t := s.cluster.lookupTopic(rt.Topic)
	if t == nil {
		return newAPIError(kerr.UnknownTopicOrPartition, "topic '%s' does not exist", rt.Topic)
	}
	if err := refuseInternalChange(t.name); err != nil {
		return err
	}
	have := int32(len(t.partitions))
	if rt.Count <= have {
		return nil // createPartitions reports a count that does not grow the topic
	}
	if err := budget.take(rt.Count - have); err != nil {
		return err
	}
	if rt.Assignment == nil {
		return nil
	}
	if add := rt.Count - have; int32(len(rt.Assignment)) != add {
		return newAPIError(kerr.InvalidReplicaAssignment,
			"attempted to add %d additional partition(s), but only %d assignment(s) were specified", add, len(rt.Assignment))
	}
	for _, a := range rt.Assignment {
		if err := s.validateReplicas(a.Replicas); err != nil {
			return err
		}
	}
	return nil
}
