package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// Topic ids in the group APIs (OffsetCommit and OffsetFetch v10, Kafka 4.1): requests name
// topics by id, which the broker resolves to names before the group coordinator (which keys
// offsets by name, as Kafka's does) sees them; answers carry the ids back. A topic id the broker
// does not know is answered UNKNOWN_TOPIC_ID for each of its partitions, as Kafka does.

// topicIDsFrom is the first OffsetCommit and OffsetFetch version that names topics by id.
const topicIDsFrom = 10

// topicName resolves a topic id; ok is false for an id no topic has.
func (s *Server) topicName(id [16]byte) (string, bool) {
	if t := s.cluster.lookupTopicID(meta.TopicID(id)); t != nil {
		return t.name, true
	}
	return "", false
}

// topicIDOf is a topic's id by name (zero for a topic deleted meanwhile).
func (s *Server) topicIDOf(name string) [16]byte {
	if t := s.cluster.lookupTopic(name); t != nil {
		return [16]byte(t.id)
	}
	return [16]byte{}
}

// resolveCommitTopicIDs names the topics of an OffsetCommit v10 and returns those whose ids are
// unknown, answered UNKNOWN_TOPIC_ID.
func (s *Server) resolveCommitTopicIDs(req *kmsg.OffsetCommitRequest) []kmsg.OffsetCommitResponseTopic {
	var unknown []kmsg.OffsetCommitResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		name, ok := s.topicName(t.TopicID)
		if !ok {
			out := kmsg.OffsetCommitResponseTopic{TopicID: t.TopicID}
			for _, p := range t.Partitions {
				out.Partitions = append(out.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: kerr.UnknownTopicID.Code})
			}
			unknown = append(unknown, out)
			continue
		}
		t.Topic = name
		kept = append(kept, t)
	}
	req.Topics = kept
	return unknown
}

// commitTopicIDs puts the ids into an OffsetCommit answer.
func (s *Server) commitTopicIDs(resp *kmsg.OffsetCommitResponse) {
	for i := range resp.Topics {
		if resp.Topics[i].TopicID == ([16]byte{}) {
			resp.Topics[i].TopicID = s.topicIDOf(resp.Topics[i].Topic)
		}
	}
}

// resolveFetchTopicIDs names the topics of an OffsetFetch v10, in place; it returns, per group
// index, the topics whose ids are unknown, answered UNKNOWN_TOPIC_ID.
func (s *Server) resolveFetchTopicIDs(req *kmsg.OffsetFetchRequest) map[int][]kmsg.OffsetFetchResponseGroupTopic {
	unknown := map[int][]kmsg.OffsetFetchResponseGroupTopic{}
	for gi := range req.Groups {
		g := &req.Groups[gi]
		if g.Topics == nil {
			continue // every topic of the group
		}
		kept := make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(g.Topics))
		for _, t := range g.Topics {
			name, ok := s.topicName(t.TopicID)
			if !ok {
				out := kmsg.OffsetFetchResponseGroupTopic{TopicID: t.TopicID}
				for _, p := range t.Partitions {
					out.Partitions = append(out.Partitions, kmsg.OffsetFetchResponseGroupTopicPartition{Partition: p, Offset: -1,
						LeaderEpoch: -1, ErrorCode: kerr.UnknownTopicID.Code})
				}
				unknown[gi] = append(unknown[gi], out)
				continue
			}
			t.Topic = name
			kept = append(kept, t)
		}
		g.Topics = kept
	}
	return unknown
}

// fetchTopicIDs puts the ids into an OffsetFetch answer and adds the unknown ones.
func (s *Server) fetchTopicIDs(req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse, unknown map[int][]kmsg.OffsetFetchResponseGroupTopic) {
	for gi := range resp.Groups {
		g := &resp.Groups[gi]
		for i := range g.Topics {
			if g.Topics[i].TopicID == ([16]byte{}) {
				g.Topics[i].TopicID = s.topicIDOf(g.Topics[i].Topic)
			}
		}
		for ri := range req.Groups {
			if req.Groups[ri].Group == g.Group {
				g.Topics = append(g.Topics, unknown[ri]...)
			}
		}
	}
}
