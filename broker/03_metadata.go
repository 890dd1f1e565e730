package broker

// Metadata (key 3), v0–v12.
//
// v0: an empty topic list means all topics; v1+: null means all, empty means none. Topics
// requested by name that do not exist are created when auto.create.topics.enable and the
// request's allow_auto_topic_creation (v4+; always true before) both hold and the request is not
// for all topics. Unlike Kafka, whose first answer for an auto-created topic is
// LEADER_NOT_AVAILABLE or UNKNOWN_TOPIC_OR_PARTITION, this single-node broker creates the topic
// synchronously and describes it at once. v10+ carries topic ids; v12 may request by id (an
// unknown id gets UNKNOWN_TOPIC_ID); ids in v10–11 requests are INVALID_REQUEST. Authorized
// operations are filled only when asked for (v8+).
//
// Authorization as Kafka: a listing of all topics leaves out those the principal may not
// DESCRIBE; a topic asked for by name or id without DESCRIBE gets TOPIC_AUTHORIZATION_FAILED
// whether or not it exists; auto-creation needs CREATE on the cluster or on the topic.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

func (s *Server) handleMetadata(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	host, port := s.advertised(c.listener)
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: s.cfg.NodeID, Host: host, Port: port}}
	st := s.cluster.store.State()
	clusterID := st.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = s.cfg.NodeID
	wantClusterOps := req.IncludeClusterAuthorizedOperations && h.version >= 8 && h.version <= 10
	az := s.newAuthBatch(c, h)
	if wantClusterOps {
		az.add(authz.OpDescribe, authz.Cluster, true)
		az.addOps(authz.Cluster)
	}

	allTopics := req.Topics == nil || (h.version == 0 && len(req.Topics) == 0)
	if allTopics {
		// Listing: topics the principal may not DESCRIBE are left out, quietly (Kafka's
		// logIfDenied=false), never reported.
		topics := s.cluster.allTopics()
		sort.Slice(topics, func(i, j int) bool { return topics[i].name < topics[j].name })
		for _, t := range topics {
			az.add(authz.OpDescribe, authz.Topic(t.name), true)
			if req.IncludeTopicAuthorizedOperations {
				az.addOps(authz.Topic(t.name))
			}
		}
		for _, t := range topics {
			if az.topicOK(authz.OpDescribe, t.name) {
				resp.Topics = append(resp.Topics, s.describeTopic(t, req, az))
			}
		}
	} else {
		autoCreate := s.cfg.AutoCreateTopics && (h.version < 4 || req.AllowAutoTopicCreation)
		resolved := make([]*topic, len(req.Topics))
		for i, rt := range req.Topics {
			t := s.resolveMetadataTopic(h, rt)
			resolved[i] = t
			switch {
			case t != nil:
				az.add(authz.OpDescribe, authz.Topic(t.name), false)
				if req.IncludeTopicAuthorizedOperations {
					az.addOps(authz.Topic(t.name))
				}
			case rt.Topic != nil:
				az.add(authz.OpDescribe, authz.Topic(*rt.Topic), false)
				if autoCreate {
					// Kafka's logIfDenied=false: without it, CREATE on the topic is asked (and
					// logged) when the topic is about to be created.
					az.add(authz.OpCreate, authz.Cluster, true)
					if req.IncludeTopicAuthorizedOperations {
						az.addOps(authz.Topic(*rt.Topic))
					}
				}
			}
		}
		for i, rt := range req.Topics {
			resp.Topics = append(resp.Topics, s.metadataForTopic(c, h, req, rt, resolved[i], autoCreate, az))
		}
	}
	if wantClusterOps {
		// As Kafka: 0 for a principal that may not DESCRIBE the cluster.
		resp.AuthorizedOperations = 0
		if az.ok(authz.OpDescribe, authz.Cluster) {
			resp.AuthorizedOperations = az.authorizedOps(authz.Cluster)
		}
	}
	return respond(resp)
}

// resolveMetadataTopic finds the topic a Metadata entry names, by id (v12) or name; nil if none.
func (s *Server) resolveMetadataTopic(h requestHeader, rt kmsg.MetadataRequestTopic) *topic {
	hasID := rt.TopicID != [16]byte{}
	switch {
	case hasID && h.version >= 12:
		return s.cluster.lookupTopicID(meta.TopicID(rt.TopicID))
	case !hasID && rt.Topic != nil:
		return s.cluster.lookupTopic(*rt.Topic)
	}
	return nil
}

func (s *Server) metadataForTopic(c *conn, h requestHeader, req *kmsg.MetadataRequest, rt kmsg.MetadataRequestTopic,
	t *topic, autoCreate bool, az *authBatch) kmsg.MetadataResponseTopic {
	rtErr := func(code *kerr.Error) kmsg.MetadataResponseTopic {
		out := kmsg.NewMetadataResponseTopic()
		out.Topic = rt.Topic
		out.TopicID = rt.TopicID
		out.ErrorCode = code.Code
		return out
	}
	hasID := rt.TopicID != [16]byte{}
	switch {
	case hasID && h.version < 12, rt.Topic == nil && !hasID:
		return rtErr(kerr.InvalidRequest)
	case hasID && t == nil:
		return rtErr(kerr.UnknownTopicID)
	case t != nil && !az.topicOK(authz.OpDescribe, t.name):
		// Without DESCRIBE the answer is the same whether or not the topic exists.
		out := rtErr(kerr.TopicAuthorizationFailed)
		if hasID {
			out.Topic = nil
		} else {
			out.TopicID = [16]byte{}
		}
		return out
	case t != nil:
		return s.describeTopic(t, req, az)
	}
	name := *rt.Topic
	if !az.topicOK(authz.OpDescribe, name) {
		return rtErr(kerr.TopicAuthorizationFailed)
	}
	if validTopicName(name) != "" {
		return rtErr(kerr.InvalidTopicException)
	}
	if !autoCreate || reservedTopicName(name) { // the broker alone creates its internal topics
		return rtErr(kerr.UnknownTopicOrPartition)
	}
	if !az.ok(authz.OpCreate, authz.Cluster) {
		az.add(authz.OpCreate, authz.Topic(name), false)
		if !az.topicOK(authz.OpCreate, name) {
			return rtErr(kerr.TopicAuthorizationFailed)
		}
	}
	if policy := s.topicCheck(c, h); policy != nil {
		// An auto-created topic meets the topic policy like any other (Kafka applies
		// create.topic.policy to it too).
		if err := policy(authz.TopicChange{Topic: name, Partitions: s.effectiveConfig().NumPartitions, ReplicationFactor: 1}); err != nil {
			code, _ := errorCode(err)
			out := rtErr(kerr.PolicyViolation)
			out.ErrorCode = code
			return out
		}
	}
	t, err := s.cluster.createTopic(name, -1, nil, false)
	if err != nil {
		code, _ := errorCode(err)
		if code == kerr.TopicAlreadyExists.Code { // created concurrently by another request
			if t := s.cluster.lookupTopic(name); t != nil {
				return s.describeTopic(t, req, az)
			}
		}
		out := rtErr(kerr.UnknownTopicOrPartition)
		out.ErrorCode = code
		return out
	}
	s.logger.Info("auto-created topic", "topic", name, "client_id", h.clientID, "remote", c.remote, "request_id", h.id)
	return s.describeTopic(t, req, az)
}

// describeTopic answers for one topic the principal may describe; az holds its KIP-430
// operations when they were asked for.
func (s *Server) describeTopic(t *topic, req *kmsg.MetadataRequest, az *authBatch) kmsg.MetadataResponseTopic {
	out := kmsg.NewMetadataResponseTopic()
	name := t.name
	out.Topic = &name
	out.TopicID = [16]byte(t.id)
	out.IsInternal = isInternalTopic(t.name)
	if req.IncludeTopicAuthorizedOperations {
		out.AuthorizedOperations = az.authorizedOps(authz.Topic(t.name))
	}
	node := s.cfg.NodeID
	for _, p := range t.partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.index
		mp.Leader = node
		mp.LeaderEpoch = p.leaderEpoch
		mp.Replicas = []int32{node}
		mp.ISR = []int32{node}
		mp.OfflineReplicas = []int32{}
		out.Partitions = append(out.Partitions, mp)
	}
	return out
}
