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

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// Kafka's AclOperation codes, as bits in authorized-operations fields.
const (
	opRead            = 3
	opWrite           = 4
	opCreate          = 5
	opDelete          = 6
	opAlter           = 7
	opDescribe        = 8
	opClusterAction   = 9
	opDescribeConfigs = 10
	opAlterConfigs    = 11
	opIdempotentWrite = 12
)

// Until authorization lands every principal may do everything, so these are the full sets Kafka
// reports for an all-powerful principal.
const (
	allTopicOps   = 1<<opRead | 1<<opWrite | 1<<opCreate | 1<<opDelete | 1<<opAlter | 1<<opDescribe | 1<<opDescribeConfigs | 1<<opAlterConfigs
	allClusterOps = 1<<opCreate | 1<<opAlter | 1<<opDescribe | 1<<opClusterAction | 1<<opDescribeConfigs | 1<<opAlterConfigs | 1<<opIdempotentWrite
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
	if req.IncludeClusterAuthorizedOperations && h.version >= 8 && h.version <= 10 {
		resp.AuthorizedOperations = allClusterOps
	}

	allTopics := req.Topics == nil || (h.version == 0 && len(req.Topics) == 0)
	if allTopics {
		topics := s.cluster.allTopics()
		sort.Slice(topics, func(i, j int) bool { return topics[i].name < topics[j].name })
		for _, t := range topics {
			resp.Topics = append(resp.Topics, s.describeTopic(t, req))
		}
		return respond(resp)
	}
	autoCreate := s.cfg.AutoCreateTopics && (h.version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		resp.Topics = append(resp.Topics, s.metadataForTopic(c, h, req, rt, autoCreate))
	}
	return respond(resp)
}

func (s *Server) metadataForTopic(c *conn, h requestHeader, req *kmsg.MetadataRequest, rt kmsg.MetadataRequestTopic, autoCreate bool) kmsg.MetadataResponseTopic {
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
	case hasID:
		t := s.cluster.lookupTopicID(meta.TopicID(rt.TopicID))
		if t == nil {
			return rtErr(kerr.UnknownTopicID)
		}
		return s.describeTopic(t, req)
	}
	name := *rt.Topic
	if t := s.cluster.lookupTopic(name); t != nil {
		return s.describeTopic(t, req)
	}
	if validTopicName(name) != "" {
		return rtErr(kerr.InvalidTopicException)
	}
	if !autoCreate {
		return rtErr(kerr.UnknownTopicOrPartition)
	}
	t, err := s.cluster.createTopic(name, -1, nil, false)
	if err != nil {
		code, _ := errorCode(err)
		if code == kerr.TopicAlreadyExists.Code { // created concurrently by another request
			if t := s.cluster.lookupTopic(name); t != nil {
				return s.describeTopic(t, req)
			}
		}
		out := rtErr(kerr.UnknownTopicOrPartition)
		out.ErrorCode = code
		return out
	}
	s.logger.Info("auto-created topic", "topic", name, "client_id", h.clientID, "remote", c.remote)
	return s.describeTopic(t, req)
}

func (s *Server) describeTopic(t *topic, req *kmsg.MetadataRequest) kmsg.MetadataResponseTopic {
	out := kmsg.NewMetadataResponseTopic()
	name := t.name
	out.Topic = &name
	out.TopicID = [16]byte(t.id)
	if req.IncludeTopicAuthorizedOperations {
		out.AuthorizedOperations = allTopicOps
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
