package broker

// The share-group APIs (KIP-932): ShareGroupHeartbeat (76), ShareGroupDescribe (77), ShareFetch
// (78), ShareAcknowledge (79), DescribeShareGroupOffsets (90), AlterShareGroupOffsets (91) and
// DeleteShareGroupOffsets (92), adapters onto package share, with Kafka's authorization: READ on
// the group for membership, fetching and acknowledging, DESCRIBE to describe, DELETE to delete
// offsets; READ on each topic fetched, acknowledged or altered, DESCRIBE on topics described.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/meta"
	"github.com/bulwark-kafka/bulwark/broker/share"
)

// shareEntries are the handler-table rows for the share-group APIs, at Kafka 4.2's versions.
func (s *Server) shareEntries() []*apiEntry {
	return []*apiEntry{
		{key: 76, min: 1, max: 1, handle: s.handleShareGroupHeartbeat},
		{key: 77, min: 1, max: 1, handle: s.handleShareGroupDescribe},
		{key: 78, min: 1, max: 2, handle: s.handleShareFetch},
		{key: 79, min: 1, max: 2, handle: s.handleShareAcknowledge},
		{key: 90, min: 0, max: 1, handle: s.handleDescribeShareGroupOffsets},
		{key: 91, min: 0, max: 0, handle: s.handleAlterShareGroupOffsets},
		{key: 92, min: 0, max: 0, handle: s.handleDeleteShareGroupOffsets},
	}
}

// newShareCoordinator makes the share coordinator from the broker's settings.
func (s *Server) newShareCoordinator() *share.Coordinator {
	cfg := share.Config{
		RecordLockDuration:    s.cfg.ShareRecordLockDuration,
		MinRecordLockDuration: s.cfg.ShareMinRecordLockDuration,
		MaxRecordLockDuration: s.cfg.ShareMaxRecordLockDuration,
		DeliveryCountLimit:    int16(min(s.cfg.ShareDeliveryCountLimit, 1<<15-1)),
		PartitionMaxLocks:     int(s.cfg.SharePartitionMaxRecordLocks),
		SessionTimeout:        s.cfg.ShareSessionTimeout,
		HeartbeatInterval:     s.cfg.ShareHeartbeatInterval,
		MaxSize:               int(s.cfg.ShareMaxSize),
		MaxShareSessions:      int(s.cfg.ShareMaxSessions),
		FetchMaxBytes:         s.cfg.FetchMaxBytes,
		GroupConfig:           s.groupConfigs,
		OtherGroup:            func(id string) bool { return s.coord.groups.Exists(id) },
		Logger:                s.logger.With("component", "share-coordinator"),
	}
	return share.New(cfg, shareLogs{s})
}

// shareLogs is the share coordinator's view of this broker's topics and logs.
type shareLogs struct{ s *Server }

func (l shareLogs) Partitions(name string) ([16]byte, int32, bool) {
	return topicView{l.s.cluster}.Partitions(name)
}

func (l shareLogs) TopicByID(id [16]byte) (string, int32, bool) {
	t := l.s.cluster.lookupTopicID(meta.TopicID(id))
	if t == nil {
		return "", 0, false
	}
	return t.name, int32(len(t.partitions)), true
}

func (l shareLogs) part(topic string, p int32) *partition {
	t := l.s.cluster.lookupTopic(topic)
	if t == nil {
		return nil
	}
	return t.partition(p)
}

func (l shareLogs) Bounds(topic string, p int32) (share.Bounds, bool) {
	part := l.part(topic, p)
	if part == nil {
		return share.Bounds{}, false
	}
	return share.Bounds{Start: part.log.LogStartOffset(), HighWatermark: part.log.HighWatermark(), LastStable: part.log.LastStableOffset()}, true
}

func (l shareLogs) Read(topic string, p int32, offset int64, maxBytes int32, upTo int64) ([]byte, error) {
	part := l.part(topic, p)
	if part == nil {
		return nil, nil
	}
	data, err := part.log.Read(offset, maxBytes, upTo, true)
	if errors.Is(err, plog.ErrOffsetOutOfRange) {
		return nil, share.ErrOffsetOutOfRange
	}
	return data, err
}

func (l shareLogs) AbortedTxns(topic string, p int32, from, upTo int64) []share.AbortedTxn {
	part := l.part(topic, p)
	if part == nil {
		return nil
	}
	var out []share.AbortedTxn
	for _, a := range part.log.AbortedTxns(from, upTo) {
		out = append(out, share.AbortedTxn{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset, LastOffset: a.LastOffset})
	}
	return out
}

func (l shareLogs) Wait(topic string, p int32) <-chan struct{} {
	part := l.part(topic, p)
	if part == nil {
		return nil
	}
	return part.log.Wait()
}

func (s *Server) handleShareGroupHeartbeat(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ShareGroupHeartbeatRequest)
	az := s.newAuthBatch(c, h)
	az.add(authz.OpRead, authz.Group(req.GroupID), false)
	az.addTopics(authz.OpDescribe, req.SubscribedTopicNames, false)
	code := int16(0)
	if !az.ok(authz.OpRead, authz.Group(req.GroupID)) {
		code = kerr.GroupAuthorizationFailed.Code
	} else {
		for _, t := range req.SubscribedTopicNames {
			if !az.topicOK(authz.OpDescribe, t) {
				code = kerr.TopicAuthorizationFailed.Code
				break
			}
		}
	}
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
		resp.ErrorCode, resp.ErrorMessage = code, deniedMessage(h)
		return respond(resp)
	}
	client := share.ClientInfo{ClientID: h.clientID, Host: c.clientInfo(h).Host}
	return deferred(kreq, func(ctx context.Context, req *kmsg.ShareGroupHeartbeatRequest) kmsg.Response {
		return s.coord.shares.Heartbeat(ctx, h.version, req, client)
	})
}

func (s *Server) handleShareGroupDescribe(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ShareGroupDescribeRequest)
	az := s.newAuthBatch(c, h)
	for _, g := range req.GroupIDs {
		az.add(authz.OpDescribe, authz.Group(g), false)
		if req.IncludeAuthorizedOperations {
			az.addOps(authz.Group(g))
		}
	}
	resp := s.coord.shares.Describe(h.version, req)
	if az == nil {
		return respond(resp)
	}
	for i := range resp.Groups {
		g := &resp.Groups[i]
		if !az.ok(authz.OpDescribe, authz.Group(g.GroupID)) {
			*g = kmsg.ShareGroupDescribeResponseGroup{GroupID: g.GroupID, ErrorCode: kerr.GroupAuthorizationFailed.Code,
				ErrorMessage: deniedMessage(h), AuthorizedOperations: g.AuthorizedOperations}
			continue
		}
		if req.IncludeAuthorizedOperations {
			g.AuthorizedOperations = az.authorizedOps(authz.Group(g.GroupID))
		}
	}
	// A member's topics are shown only to whom may describe them all (Kafka 4.0).
	topics := s.newAuthBatch(c, h)
	for _, g := range resp.Groups {
		for _, m := range g.Members {
			topics.addTopics(authz.OpDescribe, m.SubscribedTopicNames, false)
			for _, tp := range m.Assignment.TopicPartitions {
				topics.add(authz.OpDescribe, authz.Topic(tp.Topic), false)
			}
		}
	}
	for i := range resp.Groups {
		g := &resp.Groups[i]
		for _, m := range g.Members {
			denied := false
			for _, t := range m.SubscribedTopicNames {
				denied = denied || !topics.topicOK(authz.OpDescribe, t)
			}
			for _, tp := range m.Assignment.TopicPartitions {
				denied = denied || !topics.topicOK(authz.OpDescribe, tp.Topic)
			}
			if denied {
				*g = kmsg.ShareGroupDescribeResponseGroup{GroupID: g.GroupID, ErrorCode: kerr.TopicAuthorizationFailed.Code,
					ErrorMessage: deniedMessage(h), AuthorizedOperations: g.AuthorizedOperations}
				break
			}
		}
	}
	return respond(resp)
}

// shareTopicsDenied asks READ on each topic (by id) a ShareFetch or ShareAcknowledge names or
// its member's share session holds, and returns the ids refused (nil without an authorizer;
// unknown ids are left to the coordinator). Session topics are asked again on every request, so
// a revoked ACL takes effect at once.
func (s *Server) shareTopicsDenied(c *conn, h requestHeader, group, member string, ids [][16]byte) map[[16]byte]bool {
	az := s.newAuthBatch(c, h)
	if az == nil {
		return nil
	}
	ids = append(ids, s.coord.shares.SessionTopics(group, member)...)
	names := make(map[[16]byte]string, len(ids))
	for _, id := range ids {
		if _, done := names[id]; done {
			continue
		}
		if t := s.cluster.lookupTopicID(meta.TopicID(id)); t != nil {
			names[id] = t.name
			az.add(authz.OpRead, authz.Topic(t.name), false)
		}
	}
	refused := map[[16]byte]bool{}
	for id, name := range names {
		if !az.topicOK(authz.OpRead, name) {
			refused[id] = true
		}
	}
	return refused
}

// shareAccess authorizes a ShareFetch or ShareAcknowledge: READ on the group (ok is false when
// refused) and READ on each topic it names or its member's session holds (FetchOptions.Denied).
func (s *Server) shareAccess(c *conn, h requestHeader, groupID, memberID *string, ids [][16]byte) (share.FetchOptions, bool) {
	group, member := strOr(groupID, ""), strOr(memberID, "")
	if !s.allowed(c, h, authz.OpRead, authz.Group(group)) {
		return share.FetchOptions{}, false
	}
	return share.FetchOptions{Conn: c.index, Denied: s.shareTopicsDenied(c, h, group, member, ids)}, true
}

func (s *Server) handleShareFetch(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ShareFetchRequest)
	ids := make([][16]byte, 0, len(req.Topics))
	for _, t := range req.Topics {
		ids = append(ids, t.TopicID)
	}
	opts, ok := s.shareAccess(c, h, req.GroupID, req.MemberID, ids)
	if !ok {
		resp := req.ResponseKind().(*kmsg.ShareFetchResponse)
		resp.ErrorCode, resp.ErrorMessage = kerr.GroupAuthorizationFailed.Code, deniedMessage(h)
		return respond(resp)
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.ShareFetchRequest) kmsg.Response {
		return s.coord.shares.Fetch(ctx, h.version, req, opts)
	})
}

func (s *Server) handleShareAcknowledge(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ShareAcknowledgeRequest)
	ids := make([][16]byte, 0, len(req.Topics))
	for _, t := range req.Topics {
		ids = append(ids, t.TopicID)
	}
	opts, ok := s.shareAccess(c, h, req.GroupID, req.MemberID, ids)
	if !ok {
		resp := req.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
		resp.ErrorCode, resp.ErrorMessage = kerr.GroupAuthorizationFailed.Code, deniedMessage(h)
		return respond(resp)
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.ShareAcknowledgeRequest) kmsg.Response {
		return s.coord.shares.Acknowledge(ctx, h.version, req, opts)
	})
}

func (s *Server) handleDescribeShareGroupOffsets(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	az := s.newAuthBatch(c, h)
	for _, g := range req.Groups {
		az.add(authz.OpDescribe, authz.Group(g.GroupID), false)
	}
	for _, rg := range req.Groups {
		if !az.ok(authz.OpDescribe, authz.Group(rg.GroupID)) {
			resp.Groups = append(resp.Groups, kmsg.DescribeShareGroupOffsetsResponseGroup{GroupID: rg.GroupID,
				ErrorCode: kerr.GroupAuthorizationFailed.Code, ErrorMessage: deniedMessage(h)})
			continue
		}
		out := s.coord.shares.DescribeOffsets(rg)
		if tz := s.newAuthBatch(c, h); tz != nil {
			// Topics the principal may not describe are left out, as Kafka does.
			for _, t := range out.Topics {
				tz.add(authz.OpDescribe, authz.Topic(t.Topic), true)
			}
			kept := out.Topics[:0]
			for _, t := range out.Topics {
				if tz.topicOK(authz.OpDescribe, t.Topic) {
					kept = append(kept, t)
				}
			}
			out.Topics = kept
		}
		resp.Groups = append(resp.Groups, out)
	}
	return respond(resp)
}

func (s *Server) handleAlterShareGroupOffsets(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.AlterShareGroupOffsetsRequest)
	az := s.newAuthBatch(c, h)
	az.add(authz.OpRead, authz.Group(req.GroupID), false)
	for _, t := range req.Topics {
		az.add(authz.OpRead, authz.Topic(t.Topic), false)
	}
	if !az.ok(authz.OpRead, authz.Group(req.GroupID)) {
		resp := req.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
		resp.ErrorCode, resp.ErrorMessage = kerr.GroupAuthorizationFailed.Code, deniedMessage(h)
		return respond(resp)
	}
	for _, t := range req.Topics {
		if !az.topicOK(authz.OpRead, t.Topic) {
			resp := req.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
			resp.ErrorCode, resp.ErrorMessage = kerr.TopicAuthorizationFailed.Code, deniedMessage(h)
			return respond(resp)
		}
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.AlterShareGroupOffsetsRequest) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
		s.coord.shares.AlterOffsets(ctx, req, resp)
		return resp
	})
}

func (s *Server) handleDeleteShareGroupOffsets(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DeleteShareGroupOffsetsRequest)
	az := s.newAuthBatch(c, h)
	az.add(authz.OpDelete, authz.Group(req.GroupID), false)
	for _, t := range req.Topics {
		az.add(authz.OpRead, authz.Topic(t.Topic), false)
	}
	if !az.ok(authz.OpDelete, authz.Group(req.GroupID)) {
		resp := req.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
		resp.ErrorCode, resp.ErrorMessage = kerr.GroupAuthorizationFailed.Code, deniedMessage(h)
		return respond(resp)
	}
	for _, t := range req.Topics {
		if !az.topicOK(authz.OpRead, t.Topic) {
			resp := req.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
			resp.ErrorCode, resp.ErrorMessage = kerr.TopicAuthorizationFailed.Code, deniedMessage(h)
			return respond(resp)
		}
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.DeleteShareGroupOffsetsRequest) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
		s.coord.shares.DeleteOffsets(ctx, req, resp)
		return resp
	})
}
