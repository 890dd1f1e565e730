package broker

// The group APIs: OffsetCommit (8), OffsetFetch (9), JoinGroup (11), Heartbeat (12),
// LeaveGroup (13), SyncGroup (14), DescribeGroups (15), ListGroups (16), DeleteGroups (42),
// OffsetDelete (47), ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69). Each is a thin
// adapter onto package group; requests that wait (a join phase, a journal fsync) answer from
// reply.later so the connection keeps reading.

import (
	"context"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/group"
)

func (c *conn) clientInfo(h requestHeader) group.ClientInfo {
	host := c.remote
	if hst, _, err := net.SplitHostPort(c.remote); err == nil {
		host = hst
	}
	return group.ClientInfo{ClientID: h.clientID, Host: "/" + host}
}

func (s *Server) handleJoinGroup(c *conn, h requestHeader, kreq kmsg.Request) reply {
	if req := kreq.(*kmsg.JoinGroupRequest); s.groupDenied(c, h, authz.OpRead, req.Group) {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation = kerr.GroupAuthorizationFailed.Code, -1
		return respond(resp)
	}
	client := c.clientInfo(h)
	return deferred(kreq, func(ctx context.Context, req *kmsg.JoinGroupRequest) kmsg.Response {
		return s.coord.groups.JoinGroup(ctx, h.version, req, client)
	})
}

func (s *Server) handleSyncGroup(c *conn, h requestHeader, kreq kmsg.Request) reply {
	if req := kreq.(*kmsg.SyncGroupRequest); s.groupDenied(c, h, authz.OpRead, req.Group) {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return respond(resp)
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.SyncGroupRequest) kmsg.Response {
		return s.coord.groups.SyncGroup(ctx, h.version, req)
	})
}

func (s *Server) handleHeartbeat(c *conn, h requestHeader, kreq kmsg.Request) reply {
	if req := kreq.(*kmsg.HeartbeatRequest); s.groupDenied(c, h, authz.OpRead, req.Group) {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return respond(resp)
	}
	return respond(s.coord.groups.Heartbeat(h.version, kreq.(*kmsg.HeartbeatRequest)))
}

func (s *Server) handleLeaveGroup(c *conn, h requestHeader, kreq kmsg.Request) reply {
	if req := kreq.(*kmsg.LeaveGroupRequest); s.groupDenied(c, h, authz.OpRead, req.Group) {
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return respond(resp)
	}
	return respond(s.coord.groups.LeaveGroup(h.version, kreq.(*kmsg.LeaveGroupRequest)))
}

// handleOffsetCommit: READ on the group (or every partition fails with
// GROUP_AUTHORIZATION_FAILED), then READ per topic; refused topics are answered here and the
// rest committed.
func (s *Server) handleOffsetCommit(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.OffsetCommitRequest)
	if s.groupDenied(c, h, authz.OpRead, req.Group) {
		resp := offsetCommitErrors(req, req.Topics, kerr.GroupAuthorizationFailed.Code)
		if h.version >= topicIDsFrom {
			for i := range resp.Topics {
				resp.Topics[i].TopicID = req.Topics[i].TopicID
			}
		}
		return respond(resp)
	}
	var unknownIDs []kmsg.OffsetCommitResponseTopic
	coordVersion := h.version
	if h.version >= topicIDsFrom {
		// Topics by id: named here, and the coordinator sees a v9 commit (v10 differs only so).
		named := *req
		named.Version = topicIDsFrom - 1 // so that the copy made for the coordinator keeps the names
		named.Topics = append([]kmsg.OffsetCommitRequestTopic(nil), req.Topics...)
		unknownIDs = s.resolveCommitTopicIDs(&named)
		req, kreq, coordVersion = &named, &named, topicIDsFrom-1
	}
	names := make([]string, len(req.Topics))
	for i, t := range req.Topics {
		names[i] = t.Topic
	}
	denied := s.deniedTopicSet(c, h, authz.OpRead, names)
	var refused []kmsg.OffsetCommitRequestTopic
	if denied != nil {
		var kept []kmsg.OffsetCommitRequestTopic
		kept, refused = splitDenied(req.Topics, denied, func(t kmsg.OffsetCommitRequestTopic) string { return t.Topic })
		if len(kept) == 0 { // nothing left to commit: the coordinator is not asked, as in Kafka
			resp := offsetCommitErrors(req, refused, kerr.TopicAuthorizationFailed.Code)
			if h.version >= topicIDsFrom {
				s.commitTopicIDs(resp)
				resp.Topics = append(resp.Topics, unknownIDs...)
				resp.SetVersion(h.version)
			}
			return respond(resp)
		}
		narrowed := *req
		narrowed.Topics = kept
		kreq = &narrowed
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.OffsetCommitRequest) kmsg.Response {
		resp := s.coord.groups.OffsetCommit(ctx, coordVersion, req)
		if len(refused) > 0 {
			resp.Topics = append(resp.Topics, offsetCommitErrors(req, refused, kerr.TopicAuthorizationFailed.Code).Topics...)
		}
		if h.version >= topicIDsFrom {
			s.commitTopicIDs(resp)
			resp.Topics = append(resp.Topics, unknownIDs...)
			resp.SetVersion(h.version)
		}
		return resp
	})
}

// offsetCommitErrors answers every partition of topics with code.
func offsetCommitErrors(req *kmsg.OffsetCommitRequest, topics []kmsg.OffsetCommitRequestTopic, code int16) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, t := range topics {
		out := kmsg.OffsetCommitResponseTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			out.Partitions = append(out.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: code})
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp
}

func (s *Server) handleOffsetFetch(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.OffsetFetchRequest)
	if h.version < topicIDsFrom {
		resp := s.coord.groups.OffsetFetch(h.version, req)
		s.filterOffsetFetch(c, h, req, resp)
		return respond(resp)
	}
	// Topics by id: named here; the coordinator and the authorization filter see a v9 fetch.
	named := *req
	named.Version = topicIDsFrom - 1
	named.Groups = make([]kmsg.OffsetFetchRequestGroup, len(req.Groups))
	for i, g := range req.Groups {
		named.Groups[i] = g
		if g.Topics != nil {
			named.Groups[i].Topics = append([]kmsg.OffsetFetchRequestGroupTopic{}, g.Topics...)
		}
	}
	unknown := s.resolveFetchTopicIDs(&named)
	h9 := h
	h9.version = topicIDsFrom - 1
	resp := s.coord.groups.OffsetFetch(h9.version, &named)
	s.filterOffsetFetch(c, h9, &named, resp)
	s.fetchTopicIDs(&named, resp, unknown)
	resp.SetVersion(h.version)
	return respond(resp)
}

func (s *Server) handleDescribeGroups(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeGroupsRequest)
	resp := s.coord.groups.DescribeGroups(h.version, req)
	for i := range resp.Groups {
		if g := &resp.Groups[i]; g.ErrorCode == kerr.GroupIDNotFound.Code && s.coord.shares.IsShareGroup(g.Group) {
			g.ErrorMessage = kmsg.StringPtr("Group " + g.Group + " is not a classic group.")
		}
	}
	s.filterDescribeGroups(c, h, req, resp)
	if h.version >= 6 { // KIP-1043: errors say what they mean
		for i := range resp.Groups {
			g := &resp.Groups[i]
			switch {
			case g.ErrorCode == 0 || g.ErrorMessage != nil:
			case g.ErrorCode == kerr.GroupIDNotFound.Code:
				g.ErrorMessage = kmsg.StringPtr("Group " + g.Group + " not found.")
			default:
				if e, ok := kerr.ErrorForCode(g.ErrorCode).(*kerr.Error); ok {
					g.ErrorMessage = kmsg.StringPtr(e.Description)
				}
			}
		}
	}
	return respond(resp)
}

func (s *Server) handleListGroups(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ListGroupsRequest)
	resp := s.coord.groups.ListGroups(h.version, req)
	if resp.ErrorCode == 0 {
		// Share groups, listed as Kafka lists them: protocol type and group type "share".
		for _, g := range s.coord.shares.List() {
			if matchesFilter(req.StatesFilter, g.State) && matchesFilter(req.TypesFilter, "share") {
				resp.Groups = append(resp.Groups, kmsg.ListGroupsResponseGroup{Group: g.ID, ProtocolType: "share", GroupState: g.State, GroupType: "share"})
			}
		}
	}
	s.filterListGroups(c, h, resp)
	return respond(resp)
}

// matchesFilter is ListGroups' filter rule: empty matches all, else any entry, ignoring case.
func matchesFilter(filter []string, v string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if strings.EqualFold(f, v) {
			return true
		}
	}
	return false
}

// handleDeleteGroups: DELETE per group; refused groups are answered here.
func (s *Server) handleDeleteGroups(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DeleteGroupsRequest)
	az := s.newAuthBatch(c, h)
	for _, g := range req.Groups {
		az.add(authz.OpDelete, authz.Group(g), false)
	}
	var refused []string
	if az != nil {
		kept := make([]string, 0, len(req.Groups))
		for _, g := range req.Groups {
			if az.ok(authz.OpDelete, authz.Group(g)) {
				kept = append(kept, g)
			} else {
				refused = append(refused, g)
			}
		}
		narrowed := *req
		narrowed.Groups = kept
		kreq = &narrowed
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.DeleteGroupsRequest) kmsg.Response {
		// Share groups are the share coordinator's; the rest go to the group coordinator.
		var shared []kmsg.DeleteGroupsResponseGroup
		classic := *req
		classic.Groups = nil
		for _, g := range req.Groups {
			if s.coord.shares.IsShareGroup(g) {
				shared = append(shared, kmsg.DeleteGroupsResponseGroup{Group: g, ErrorCode: s.coord.shares.Delete(ctx, g)})
			} else {
				classic.Groups = append(classic.Groups, g)
			}
		}
		resp := s.coord.groups.DeleteGroups(ctx, h.version, &classic)
		resp.Groups = append(resp.Groups, shared...)
		for _, g := range resp.Groups {
			// A deleted group's configs go with it, as in Kafka.
			if g.ErrorCode == 0 && len(s.groupConfigs(g.Group)) > 0 {
				if err := s.updateGroupConfigs(g.Group, func(map[string]string) (map[string]string, error) { return nil, nil }, false); err != nil {
					s.logger.Warn("deleting a deleted group's configs failed", "group", g.Group, "err", err)
				}
			}
		}
		for _, g := range refused {
			resp.Groups = append(resp.Groups, kmsg.DeleteGroupsResponseGroup{Group: g, ErrorCode: kerr.GroupAuthorizationFailed.Code})
		}
		return resp
	})
}

// handleOffsetDelete: DELETE on the group, then READ per topic.
func (s *Server) handleOffsetDelete(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.OffsetDeleteRequest)
	if s.groupDenied(c, h, authz.OpDelete, req.Group) {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return respond(resp)
	}
	names := make([]string, len(req.Topics))
	for i, t := range req.Topics {
		names[i] = t.Topic
	}
	if denied := s.deniedTopicSet(c, h, authz.OpRead, names); denied != nil {
		kept, refused := splitDenied(req.Topics, denied, func(t kmsg.OffsetDeleteRequestTopic) string { return t.Topic })
		narrowed := *req
		narrowed.Topics = kept
		return deferred(kmsg.Request(&narrowed), func(ctx context.Context, req *kmsg.OffsetDeleteRequest) kmsg.Response {
			resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
			if len(req.Topics) > 0 { // nothing left to delete: the coordinator is not asked
				resp = s.coord.groups.OffsetDelete(ctx, h.version, req)
			}
			for _, t := range refused {
				out := kmsg.OffsetDeleteResponseTopic{Topic: t.Topic}
				for _, p := range t.Partitions {
					out.Partitions = append(out.Partitions, kmsg.OffsetDeleteResponseTopicPartition{Partition: p.Partition, ErrorCode: kerr.TopicAuthorizationFailed.Code})
				}
				resp.Topics = append(resp.Topics, out)
			}
			return resp
		})
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.OffsetDeleteRequest) kmsg.Response {
		return s.coord.groups.OffsetDelete(ctx, h.version, req)
	})
}

func (s *Server) handleConsumerGroupHeartbeat(c *conn, h requestHeader, kreq kmsg.Request) reply {
	// READ on the group; since Kafka 4.0 every subscribed topic named also needs DESCRIBE.
	req := kreq.(*kmsg.ConsumerGroupHeartbeatRequest)
	az := s.newAuthBatch(c, h)
	az.add(authz.OpRead, authz.Group(req.Group), false)
	az.addTopics(authz.OpDescribe, req.SubscribedTopicNames, false)
	code := int16(0)
	if !az.ok(authz.OpRead, authz.Group(req.Group)) {
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
		resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode, resp.ErrorMessage = code, deniedMessage(h)
		return respond(resp)
	}
	client := c.clientInfo(h)
	if az := s.newAuthBatch(c, h); az != nil {
		// Regex matches are filtered by this member's DESCRIBE (Kafka 4.0), decided here in one
		// quiet batch over the existing topics, so the coordinator never calls the authorizer
		// under its lock; a topic created later is matched from the member's next heartbeat.
		names := topicView{s.cluster}.Names()
		az.addTopics(authz.OpDescribe, names, true)
		describable := make(map[string]bool, len(names))
		for _, n := range names {
			if az.topicOK(authz.OpDescribe, n) {
				describable[n] = true
			}
		}
		client.DescribeTopic = func(topic string) bool { return describable[topic] }
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.ConsumerGroupHeartbeatRequest) kmsg.Response {
		return s.coord.groups.ConsumerGroupHeartbeat(ctx, h.version, req, client)
	})
}

func (s *Server) handleConsumerGroupDescribe(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := s.coord.groups.ConsumerGroupDescribe(h.version, req)
	for i := range resp.Groups {
		if g := &resp.Groups[i]; g.ErrorCode == kerr.GroupIDNotFound.Code && s.coord.shares.IsShareGroup(g.Group) {
			g.ErrorMessage = kmsg.StringPtr("Group " + g.Group + " is not a consumer group.")
		}
	}
	s.filterConsumerGroupDescribe(c, h, req, resp)
	return respond(resp)
}

// deferred answers a request from its own goroutine (reply.later) with a private copy of it.
func deferred[R kmsg.Request](kreq kmsg.Request, fn func(ctx context.Context, req R) kmsg.Response) reply {
	req := cloneRequest(kreq).(R)
	return reply{later: func(ctx context.Context) kmsg.Response { return fn(ctx, req) }}
}

// cloneRequest deep-copies a request whose handler answers later: the decoded request's byte
// slices alias the connection's read buffer, which the next request reuses.
func cloneRequest(req kmsg.Request) kmsg.Request {
	out := req.ResponseKind().RequestKind()
	out.SetVersion(req.GetVersion())
	if err := out.ReadFrom(req.AppendTo(nil)); err != nil {
		// Re-decoding what was just encoded cannot fail; keep the original if it somehow does.
		return req
	}
	return out
}
