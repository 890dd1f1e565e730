package broker

// The group APIs: OffsetCommit (8), OffsetFetch (9), JoinGroup (11), Heartbeat (12),
// LeaveGroup (13), SyncGroup (14), DescribeGroups (15), ListGroups (16), DeleteGroups (42),
// OffsetDelete (47), ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69). Each is a thin
// adapter onto package group; requests that wait (a join phase, a journal fsync) answer from
// reply.later so the connection keeps reading.

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

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
	client := c.clientInfo(h)
	return deferred(kreq, func(ctx context.Context, req *kmsg.JoinGroupRequest) kmsg.Response {
		return s.coord.groups.JoinGroup(ctx, h.version, req, client)
	})
}

func (s *Server) handleSyncGroup(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return deferred(kreq, func(ctx context.Context, req *kmsg.SyncGroupRequest) kmsg.Response {
		return s.coord.groups.SyncGroup(ctx, h.version, req)
	})
}

func (s *Server) handleHeartbeat(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return respond(s.coord.groups.Heartbeat(h.version, kreq.(*kmsg.HeartbeatRequest)))
}

func (s *Server) handleLeaveGroup(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return respond(s.coord.groups.LeaveGroup(h.version, kreq.(*kmsg.LeaveGroupRequest)))
}

func (s *Server) handleOffsetCommit(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return deferred(kreq, func(ctx context.Context, req *kmsg.OffsetCommitRequest) kmsg.Response {
		return s.coord.groups.OffsetCommit(ctx, h.version, req)
	})
}

func (s *Server) handleOffsetFetch(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return respond(s.coord.groups.OffsetFetch(h.version, kreq.(*kmsg.OffsetFetchRequest)))
}

func (s *Server) handleDescribeGroups(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return respond(s.coord.groups.DescribeGroups(h.version, kreq.(*kmsg.DescribeGroupsRequest)))
}

func (s *Server) handleListGroups(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return respond(s.coord.groups.ListGroups(h.version, kreq.(*kmsg.ListGroupsRequest)))
}

func (s *Server) handleDeleteGroups(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return deferred(kreq, func(ctx context.Context, req *kmsg.DeleteGroupsRequest) kmsg.Response {
		return s.coord.groups.DeleteGroups(ctx, h.version, req)
	})
}

func (s *Server) handleOffsetDelete(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return deferred(kreq, func(ctx context.Context, req *kmsg.OffsetDeleteRequest) kmsg.Response {
		return s.coord.groups.OffsetDelete(ctx, h.version, req)
	})
}

func (s *Server) handleConsumerGroupHeartbeat(c *conn, h requestHeader, kreq kmsg.Request) reply {
	client := c.clientInfo(h)
	return deferred(kreq, func(ctx context.Context, req *kmsg.ConsumerGroupHeartbeatRequest) kmsg.Response {
		return s.coord.groups.ConsumerGroupHeartbeat(ctx, h.version, req, client)
	})
}

func (s *Server) handleConsumerGroupDescribe(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return respond(s.coord.groups.ConsumerGroupDescribe(h.version, kreq.(*kmsg.ConsumerGroupDescribeRequest)))
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
