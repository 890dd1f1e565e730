package broker

// FindCoordinator (key 10), v0–v6. This single broker coordinates every group and every
// transactional id, so each key is answered with this node at the address advertised for the
// request's listener. v4+ batches keys (KIP-699) and answers each with its own error.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Coordinator key types.
const (
	coordinatorGroup       int8 = 0
	coordinatorTransaction int8 = 1
)

func (s *Server) handleFindCoordinator(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := s.advertised(c.listener)
	// One batch for every key (v4+ batches them): DESCRIBE on each group or transactional id.
	keys := req.CoordinatorKeys
	if h.version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	az := s.newAuthBatch(c, h)
	resource := authz.Group
	if req.CoordinatorType == coordinatorTransaction {
		resource = authz.TransactionalID
	}
	if req.CoordinatorType == coordinatorGroup || req.CoordinatorType == coordinatorTransaction {
		for _, k := range keys {
			az.add(authz.OpDescribe, resource(k), false)
		}
	}
	answer := func(key string) (int16, string) {
		switch {
		case req.CoordinatorType != coordinatorGroup && req.CoordinatorType != coordinatorTransaction:
			return kerr.InvalidRequest.Code, "unsupported coordinator type"
		case key == "" && req.CoordinatorType == coordinatorTransaction:
			return kerr.InvalidRequest.Code, "empty transactional id"
		case req.CoordinatorType == coordinatorGroup && !az.ok(authz.OpDescribe, authz.Group(key)):
			return kerr.GroupAuthorizationFailed.Code, *deniedMessage(h)
		case req.CoordinatorType == coordinatorTransaction && !az.ok(authz.OpDescribe, authz.TransactionalID(key)):
			return kerr.TransactionalIDAuthorizationFailed.Code, *deniedMessage(h)
		}
		return 0, ""
	}
	if h.version < 4 {
		code, msg := answer(req.CoordinatorKey)
		resp.ErrorCode = code
		if code != 0 {
			resp.NodeID, resp.Port = -1, -1
			if h.version >= 1 {
				resp.ErrorMessage = &msg
			}
			return respond(resp)
		}
		resp.NodeID, resp.Host, resp.Port = s.cfg.NodeID, host, port
		return respond(resp)
	}
	for _, key := range req.CoordinatorKeys {
		out := kmsg.FindCoordinatorResponseCoordinator{Key: key, NodeID: -1, Port: -1}
		if code, msg := answer(key); code != 0 {
			out.ErrorCode, out.ErrorMessage = code, &msg
		} else {
			out.NodeID, out.Host, out.Port = s.cfg.NodeID, host, port
		}
		resp.Coordinators = append(resp.Coordinators, out)
	}
	return respond(resp)
}
