package broker

// ListOffsets (key 2), v1–v10.
//
// Timestamps: -1 latest (high watermark, or last stable offset for read_committed), -2 earliest
// (log start offset), -3 max timestamp (v7+), -4 earliest local (v8+, the log start offset: there
// is no remote tier), -5 latest tiered (v9+, always -1: no tiering); any other value finds the
// first offset whose batch's max timestamp is at or after it, answering offset -1 and timestamp
// -1 when there is none. Special values a version does not allow get UNSUPPORTED_VERSION; a
// partition listed twice gets INVALID_REQUEST. leader_epoch is the epoch of the returned offset.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	offsetLatest        = -1
	offsetEarliest      = -2
	offsetMaxTimestamp  = -3
	offsetEarliestLocal = -4
	offsetLatestTiered  = -5
	minVersionMaxTS     = 7
	minVersionLocal     = 8
	minVersionTiered    = 9
)

func (s *Server) handleListOffsets(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	type tp struct {
		topic string
		part  int32
	}
	seen := make(map[tp]bool)
	az := s.newAuthBatch(c, h)
	for _, rt := range req.Topics {
		az.add(authz.OpDescribe, authz.Topic(rt.Topic), false)
	}
	for _, rt := range req.Topics {
		out := kmsg.NewListOffsetsResponseTopic()
		out.Topic = rt.Topic
		t := s.cluster.lookupTopic(rt.Topic)
		for _, rp := range rt.Partitions {
			op := kmsg.NewListOffsetsResponseTopicPartition()
			op.Partition = rp.Partition
			op.Timestamp, op.Offset, op.LeaderEpoch = -1, -1, -1
			key := tp{rt.Topic, rp.Partition}
			switch {
			case !az.topicOK(authz.OpDescribe, rt.Topic):
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case seen[key]:
				op.ErrorCode = kerr.InvalidRequest.Code
			default:
				seen[key] = true
				s.listOffset(h.version, req.IsolationLevel, t, rp, &op)
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return respond(resp)
}

func (s *Server) listOffset(version int16, isolation int8, t *topic, rp kmsg.ListOffsetsRequestTopicPartition, op *kmsg.ListOffsetsResponseTopicPartition) {
	var p *partition
	if t != nil {
		p = t.partition(rp.Partition)
	}
	if p == nil {
		op.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return
	}
	if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, p.leaderEpoch); code != 0 {
		op.ErrorCode = code
		return
	}
	switch ts := rp.Timestamp; {
	case ts == offsetLatest:
		op.Offset = p.log.HighWatermark()
		if isolation == 1 {
			op.Offset = min(p.log.LastStableOffset(), op.Offset)
		}
	case ts == offsetEarliest:
		op.Offset = p.log.LogStartOffset()
	case ts == offsetMaxTimestamp:
		if version < minVersionMaxTS {
			op.ErrorCode = kerr.UnsupportedVersion.Code
			return
		}
		off, mts, ok, err := p.log.MaxTimestamp()
		if err != nil {
			s.logger.Error("list offsets by max timestamp failed", "topic", p.topicName, "partition", p.index, "err", err)
			op.ErrorCode = kerr.KafkaStorageError.Code
			return
		}
		if ok {
			op.Offset, op.Timestamp = off, mts
		}
	case ts == offsetEarliestLocal:
		if version < minVersionLocal {
			op.ErrorCode = kerr.UnsupportedVersion.Code
			return
		}
		op.Offset = p.log.LogStartOffset()
	case ts == offsetLatestTiered:
		if version < minVersionTiered {
			op.ErrorCode = kerr.UnsupportedVersion.Code
			return
		}
		return // no remote tier: offset -1
	case ts < 0:
		op.ErrorCode = kerr.UnsupportedVersion.Code
		return
	default:
		off, found, ok, err := p.log.OffsetForTimestamp(ts)
		if err != nil {
			s.logger.Error("list offsets by time failed", "topic", p.topicName, "partition", p.index, "err", err)
			op.ErrorCode = kerr.KafkaStorageError.Code
			return
		}
		if !ok || off >= p.log.HighWatermark() {
			return
		}
		op.Offset, op.Timestamp = off, found
	}
	if op.Offset >= 0 {
		op.LeaderEpoch = p.log.EpochForOffset(op.Offset)
		if op.LeaderEpoch < 0 {
			op.LeaderEpoch = p.leaderEpoch
		}
	}
}
