package broker

// CreateTopics (key 19), v2–v7.
//
// Checks run in Kafka's order (ReplicationControlManager.createTopics): the name (INVALID_TOPIC_
// EXCEPTION; the metadata directory's name is INVALID_REQUEST as in ControllerApis), an existing
// topic (TOPIC_ALREADY_EXISTS), null config values (INVALID_CONFIG), then the partition layout.
// num_partitions and replication_factor -1 take the broker defaults (KIP-464). On this single
// node a replication factor other than 1 (after defaults) is INVALID_REPLICATION_FACTOR. A manual
// assignment needs both numbers at -1 (else INVALID_REQUEST), one entry per partition numbered
// 0..n-1 (else INVALID_REPLICA_ASSIGNMENT) and each replica list exactly [this node]. A name
// listed twice gets one INVALID_REQUEST result and is not created. Unknown config keys and bad
// values are INVALID_CONFIG. One request may add at most maxNewPartitionsPerRequest partitions
// in all (POLICY_VIOLATION beyond, as Kafka bounds one controller operation). validate_only runs
// every check and creates nothing (the topic id is then zero). v5+ results carry the partition
// count, replication factor and the topic's effective configs sorted by name; v7 the topic id.
// The timeout is ignored: creation is complete when the response is sent. Created partitions count
// against controller_mutation_rate, strictly from v6 (THROTTLING_QUOTA_EXCEEDED per topic).

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleCreateTopics(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	names := make([]string, len(req.Topics))
	for i := range req.Topics {
		names[i] = req.Topics[i].Topic
	}
	dups := duplicateNames(names)
	answered := make(map[string]bool, len(req.Topics))
	budget := partitionBudget(maxNewPartitionsPerRequest)
	mutations := c.mutationQuota(h, 6, req.ValidateOnly)
	// CREATE on the cluster allows every topic; otherwise CREATE on each topic.
	az := s.newAuthBatch(c, h)
	az.add(authz.OpCreate, authz.Cluster, true) // quiet: without it, the per-topic check decides and logs
	clusterCreate := az.ok(authz.OpCreate, authz.Cluster)
	if !clusterCreate {
		az.addTopics(authz.OpCreate, names, false)
	}
	az.addTopics(authz.OpDescribeConfigs, names, true)
	policy := s.topicCheck(c, h)
	for i := range req.Topics {
		rt := &req.Topics[i]
		if answered[rt.Topic] {
			continue
		}
		answered[rt.Topic] = true
		out := kmsg.NewCreateTopicsResponseTopic()
		out.Topic = rt.Topic
		switch {
		case dups[rt.Topic]:
			out.ErrorCode, out.ErrorMessage = errorCode(newAPIError(kerr.InvalidRequest, "duplicate topic name"))
		case !clusterCreate && !az.topicOK(authz.OpCreate, rt.Topic):
			out.ErrorCode, out.ErrorMessage = errorCode(deniedError(h, kerr.TopicAuthorizationFailed))
		default:
			if err := mutations.refuse(); err != nil {
				out.ErrorCode, out.ErrorMessage = errorCode(err)
				break
			}
			s.createOneTopic(rt, req.ValidateOnly, &budget, &out, policy)
		}
		if out.ErrorCode == 0 && !req.ValidateOnly {
			mutations.record(int(out.NumPartitions))
			s.logger.Info("topic created by request", "topic", rt.Topic, "client_id", h.clientID, "remote", c.remote)
		}
		if out.ErrorCode == 0 && !az.topicOK(authz.OpDescribeConfigs, rt.Topic) {
			// As Kafka: the created topic's configs are shown only to a principal that may
			// describe them.
			out.Configs, out.NumPartitions, out.ReplicationFactor = nil, -1, -1
			out.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
		}
		resp.Topics = append(resp.Topics, out)
	}
	resp.ThrottleMillis = mutations.throttleMillis()
	return respond(resp)
}

// createOneTopic validates and creates one topic, filling its result.
func (s *Server) createOneTopic(rt *kmsg.CreateTopicsRequestTopic, validateOnly bool, budget *partitionBudget, out *kmsg.CreateTopicsResponseTopic,
	policy func(authz.TopicChange) error) {
	numPartitions, overrides, err := s.checkNewTopic(rt)
	if numPartitions == -1 {
		numPartitions = s.effectiveConfig().NumPartitions
	}
	if err == nil && policy != nil {
		rf := rt.ReplicationFactor
		if rf == -1 {
			rf = 1
		}
		err = policy(authz.TopicChange{Topic: rt.Topic, Partitions: numPartitions, ReplicationFactor: rf, Configs: overrides, ValidateOnly: validateOnly})
	}
	if err == nil {
		err = budget.take(numPartitions)
	}
	var t *topic
	if err == nil {
		t, err = s.cluster.createTopic(rt.Topic, numPartitions, overrides, validateOnly)
	}
	if err != nil {
		out.ErrorCode, out.ErrorMessage = errorCode(err)
		return
	}
	if t != nil {
		out.TopicID = [16]byte(t.id)
	}
	out.NumPartitions = numPartitions
	out.ReplicationFactor = 1
	out.Configs = s.createdTopicConfigs(overrides)
}

// checkNewTopic runs the request-level checks on one topic and returns the partition count to
// create (-1: the default) and the config overrides.
func (s *Server) checkNewTopic(rt *kmsg.CreateTopicsRequestTopic) (int32, map[string]string, error) {
	if rt.Topic == metadataDirName || reservedTopicName(rt.Topic) {
		return 0, nil, newAPIError(kerr.InvalidRequest, "creation of internal topic %s is prohibited", rt.Topic)
	}
	if why := validTopicName(rt.Topic); why != "" {
		return 0, nil, newAPIError(kerr.InvalidTopicException, "%s", why)
	}
	if s.cluster.lookupTopic(rt.Topic) != nil {
		return 0, nil, newAPIError(kerr.TopicAlreadyExists, "topic '%s' already exists", rt.Topic)
	}
	overrides, err := creationConfigs(rt.Configs)
	if err != nil {
		return 0, nil, err
	}
	n, err := s.partitionLayout(rt)
	return n, overrides, err
}

// creationConfigs turns a request's configs into an override map; Kafka refuses null values.
func creationConfigs(cfgs []kmsg.CreateTopicsRequestTopicConfig) (map[string]string, error) {
	if len(cfgs) == 0 {
		return nil, nil
	}
	overrides := make(map[string]string, len(cfgs))
	var nulls []string
	for _, rc := range cfgs {
		if rc.Value == nil {
			nulls = append(nulls, rc.Name)
			continue
		}
		overrides[rc.Name] = *rc.Value
	}
	if len(nulls) > 0 {
		return nil, newAPIError(kerr.InvalidConfig, "null value not supported for topic configs: %s", strings.Join(nulls, ","))
	}
	return overrides, nil
}

// partitionLayout checks the partition count, replication factor and any manual assignment,
// returning the number of partitions (-1 for the broker default).
func (s *Server) partitionLayout(rt *kmsg.CreateTopicsRequestTopic) (int32, error) {
	if len(rt.ReplicaAssignment) > 0 {
		return s.manualLayout(rt)
	}
	if rt.ReplicationFactor < -1 || rt.ReplicationFactor == 0 {
		return 0, newAPIError(kerr.InvalidReplicationFactor, "replication factor must be larger than 0, or -1 to use the default value")
	}
	if rt.NumPartitions < -1 || rt.NumPartitions == 0 {
		return 0, newAPIError(kerr.InvalidPartitions, "number of partitions was set to an invalid non-positive value")
	}
	rf := rt.ReplicationFactor
	if rf == -1 {
		rf = s.cfg.DefaultReplicationFactor
	}
	if rf != 1 {
		return 0, newAPIError(kerr.InvalidReplicationFactor,
			"unable to replicate the partition %d time(s): the target replication factor of %d cannot be reached because only 1 broker(s) are registered", rf, rf)
	}
	return rt.NumPartitions, nil
}

// manualLayout checks a manual replica assignment (Kafka's rules, on one node).
func (s *Server) manualLayout(rt *kmsg.CreateTopicsRequestTopic) (int32, error) {
	if rt.ReplicationFactor != -1 {
		return 0, newAPIError(kerr.InvalidRequest, "a manual partition assignment was specified, but replication factor was not set to -1")
	}
	if rt.NumPartitions != -1 {
		return 0, newAPIError(kerr.InvalidRequest, "a manual partition assignment was specified, but numPartitions was not set to -1")
	}
	seen := make(map[int32]bool, len(rt.ReplicaAssignment))
	for _, ra := range rt.ReplicaAssignment {
		if seen[ra.Partition] {
			return 0, newAPIError(kerr.InvalidReplicaAssignment, "found multiple manual partition assignments for partition %d", ra.Partition)
		}
		seen[ra.Partition] = true
		if err := s.validateReplicas(ra.Replicas); err != nil {
			return 0, err
		}
	}
	n := int32(len(rt.ReplicaAssignment))
	for i := range n {
		if !seen[i] {
			return 0, newAPIError(kerr.InvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence")
		}
	}
	return n, nil
}

// createdTopicConfigs lists a new topic's effective configuration for CreateTopics v5+, sorted
// by name as Kafka does.
func (s *Server) createdTopicConfigs(overrides map[string]string) []kmsg.CreateTopicsResponseTopicConfig {
	entries := s.configView(s.cluster.store.State()).DescribeTopic(overrides, nil)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	out := make([]kmsg.CreateTopicsResponseTopicConfig, 0, len(entries))
	for _, e := range entries {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		rc.Name = e.Name
		rc.Value = e.Value
		if e.Sensitive {
			rc.Value = nil
		}
		rc.ReadOnly = e.ReadOnly
		rc.Source = e.Source
		rc.IsSensitive = e.Sensitive
		out = append(out, rc)
	}
	return out
}
