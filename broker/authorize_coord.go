package broker

// Authorization of the group and transaction coordinator APIs. The coordinators (packages group
// and txn) know nothing of principals: these adapters authorize each request before it reaches
// them (GROUP, TRANSACTIONAL_ID and TOPIC checks, with Kafka's error codes), hand on only what
// passed, and filter what the answers reveal (ListGroups, OffsetFetch of all topics,
// ListTransactions). KIP-430 operations are filled in here.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// groupDenied reports whether op on the group is refused.
func (s *Server) groupDenied(c *conn, h requestHeader, op authz.Operation, group string) bool {
	return !s.allowed(c, h, op, authz.Group(group))
}

// txnDenied reports whether WRITE on the transactional id is refused.
func (s *Server) txnDenied(c *conn, h requestHeader, id string) bool {
	return !s.allowed(c, h, authz.OpWrite, authz.TransactionalID(id))
}

// offsetCommitTopics authorizes READ on the topics of an OffsetCommit-shaped request and returns
// the refused ones (nil: none).
func (s *Server) deniedTopicSet(c *conn, h requestHeader, op authz.Operation, names []string) map[string]bool {
	az := s.newAuthBatch(c, h)
	if az == nil {
		return nil
	}
	az.addTopics(op, names, false)
	var denied map[string]bool
	for _, n := range names {
		if !az.topicOK(op, n) {
			if denied == nil {
				denied = map[string]bool{}
			}
			denied[n] = true
		}
	}
	return denied
}

// filterGroupsResponse applies DESCRIBE per group to a DescribeGroups answer and fills KIP-430
// operations when asked.
func (s *Server) filterDescribeGroups(c *conn, h requestHeader, req *kmsg.DescribeGroupsRequest, resp *kmsg.DescribeGroupsResponse) {
	az := s.newAuthBatch(c, h)
	for _, g := range resp.Groups {
		az.add(authz.OpDescribe, authz.Group(g.Group), false)
		if req.IncludeAuthorizedOperations {
			az.addOps(authz.Group(g.Group))
		}
	}
	for i := range resp.Groups {
		g := &resp.Groups[i]
		if !az.ok(authz.OpDescribe, authz.Group(g.Group)) {
			name := g.Group
			*g = kmsg.NewDescribeGroupsResponseGroup()
			g.Group = name
			g.ErrorCode = kerr.GroupAuthorizationFailed.Code
			g.AuthorizedOperations = opsNotRequested
			if h.version >= 6 {
				g.ErrorMessage = deniedMessage(h)
			}
			continue
		}
		if req.IncludeAuthorizedOperations && g.ErrorCode == 0 {
			g.AuthorizedOperations = az.authorizedOps(authz.Group(g.Group))
		}
	}
}

// filterConsumerGroupDescribe does the same for ConsumerGroupDescribe (KIP-848).
func (s *Server) filterConsumerGroupDescribe(c *conn, h requestHeader, req *kmsg.ConsumerGroupDescribeRequest, resp *kmsg.ConsumerGroupDescribeResponse) {
	az := s.newAuthBatch(c, h)
	for _, g := range resp.Groups {
		az.add(authz.OpDescribe, authz.Group(g.Group), false)
		if req.IncludeAuthorizedOperations {
			az.addOps(authz.Group(g.Group))
		}
		for _, t := range assignedTopics(g) {
			az.add(authz.OpDescribe, authz.Topic(t), true)
		}
	}
	for i := range resp.Groups {
		g := &resp.Groups[i]
		if !az.ok(authz.OpDescribe, authz.Group(g.Group)) {
			name := g.Group
			*g = kmsg.NewConsumerGroupDescribeResponseGroup()
			g.Group, g.ErrorCode, g.ErrorMessage = name, kerr.GroupAuthorizationFailed.Code, deniedMessage(h)
			g.AuthorizedOperations = opsNotRequested
			continue
		}
		if az != nil {
			for _, t := range assignedTopics(*g) {
				if !az.topicOK(authz.OpDescribe, t) {
					// As Kafka 4.0: a group whose assignments name a topic the principal may
					// not describe is not described at all.
					name := g.Group
					msg := "The group has described topic(s) that the client is not authorized to describe."
					*g = kmsg.NewConsumerGroupDescribeResponseGroup()
					g.Group, g.ErrorCode, g.ErrorMessage = name, kerr.TopicAuthorizationFailed.Code, &msg
					g.AuthorizedOperations = opsNotRequested
					break
				}
			}
			if g.ErrorCode == kerr.TopicAuthorizationFailed.Code {
				continue
			}
		}
		if req.IncludeAuthorizedOperations && g.ErrorCode == 0 {
			g.AuthorizedOperations = az.authorizedOps(authz.Group(g.Group))
		}
	}
}

// filterListGroups keeps the groups the principal may DESCRIBE, unless it may DESCRIBE the
// cluster; the check only filters, so denials are not events.
func (s *Server) filterListGroups(c *conn, h requestHeader, resp *kmsg.ListGroupsResponse) {
	az := s.newAuthBatch(c, h)
	if az == nil {
		return
	}
	az.add(authz.OpDescribe, authz.Cluster, true)
	for _, g := range resp.Groups {
		az.add(authz.OpDescribe, authz.Group(g.Group), true)
	}
	if az.ok(authz.OpDescribe, authz.Cluster) {
		return
	}
	kept := resp.Groups[:0]
	for _, g := range resp.Groups {
		if az.ok(authz.OpDescribe, authz.Group(g.Group)) {
			kept = append(kept, g)
		}
	}
	resp.Groups = kept
}

// filterOffsetFetch applies DESCRIBE per group and per topic to an OffsetFetch answer: a refused
// group answers GROUP_AUTHORIZATION_FAILED; a topic asked for by name that may not be described
// answers TOPIC_AUTHORIZATION_FAILED per partition; a topic the principal may not describe is
// left out of an all-topics answer.
func (s *Server) filterOffsetFetch(c *conn, h requestHeader, req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse) {
	az := s.newAuthBatch(c, h)
	if az == nil {
		return
	}
	if h.version < 8 {
		az.add(authz.OpDescribe, authz.Group(req.Group), false)
		for _, t := range resp.Topics {
			az.add(authz.OpDescribe, authz.Topic(t.Topic), req.Topics == nil)
		}
		if !az.ok(authz.OpDescribe, authz.Group(req.Group)) {
			resp.Topics, resp.ErrorCode = nil, kerr.GroupAuthorizationFailed.Code
			if h.version < 2 {
				// v0–1 have no top-level error: as Kafka, every requested partition carries it.
				for _, rt := range req.Topics {
					out := kmsg.OffsetFetchResponseTopic{Topic: rt.Topic}
					for _, p := range rt.Partitions {
						out.Partitions = append(out.Partitions, kmsg.OffsetFetchResponseTopicPartition{Partition: p, Offset: -1,
							LeaderEpoch: -1, ErrorCode: kerr.GroupAuthorizationFailed.Code})
					}
					resp.Topics = append(resp.Topics, out)
				}
			}
			return
		}
		kept := resp.Topics[:0]
		for _, t := range resp.Topics {
			if !az.topicOK(authz.OpDescribe, t.Topic) {
				if req.Topics == nil {
					continue
				}
				for j := range t.Partitions {
					t.Partitions[j].ErrorCode, t.Partitions[j].Offset = kerr.TopicAuthorizationFailed.Code, -1
					t.Partitions[j].Metadata = nil
				}
			}
			kept = append(kept, t)
		}
		resp.Topics = kept
		return
	}
	named := map[string]bool{}
	for _, g := range req.Groups {
		named[g.Group] = g.Topics != nil
	}
	for _, g := range resp.Groups {
		az.add(authz.OpDescribe, authz.Group(g.Group), false)
		for _, t := range g.Topics {
			az.add(authz.OpDescribe, authz.Topic(t.Topic), !named[g.Group])
		}
	}
	for i := range resp.Groups {
		g := &resp.Groups[i]
		if !az.ok(authz.OpDescribe, authz.Group(g.Group)) {
			g.Topics, g.ErrorCode = nil, kerr.GroupAuthorizationFailed.Code
			continue
		}
		kept := g.Topics[:0]
		for _, t := range g.Topics {
			if !az.topicOK(authz.OpDescribe, t.Topic) {
				if !named[g.Group] {
					continue
				}
				for j := range t.Partitions {
					t.Partitions[j].ErrorCode, t.Partitions[j].Offset = kerr.TopicAuthorizationFailed.Code, -1
					t.Partitions[j].Metadata = nil
				}
			}
			kept = append(kept, t)
		}
		g.Topics = kept
	}
}

// assignedTopics lists the topic names of a described group's current and target assignments.
func assignedTopics(g kmsg.ConsumerGroupDescribeResponseGroup) []string {
	var out []string
	for _, m := range g.Members {
		for _, t := range m.Assignment.TopicPartitions {
			if t.Topic != "" { // a deleted topic has no name left to check
				out = append(out, t.Topic)
			}
		}
		for _, t := range m.TargetAssignment.TopicPartitions {
			if t.Topic != "" {
				out = append(out, t.Topic)
			}
		}
	}
	return out
}

// splitDenied splits a request's topics into those the principal may use and those it may not.
func splitDenied[T any](topics []T, denied map[string]bool, name func(T) string) (kept, refused []T) {
	kept = make([]T, 0, len(topics))
	for _, t := range topics {
		if denied[name(t)] {
			refused = append(refused, t)
		} else {
			kept = append(kept, t)
		}
	}
	return kept, refused
}

// distinct returns the distinct names in order of first appearance.
func distinct(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
