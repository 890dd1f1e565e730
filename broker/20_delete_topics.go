package broker

// DeleteTopics (key 20), v1–v6.
//
// v1–v5 name topics; v6 names each by name or by id. As in Kafka's ControllerApis: an entry with
// both or neither is INVALID_REQUEST, a name or id listed twice gets one INVALID_REQUEST result,
// an unknown name UNKNOWN_TOPIC_OR_PARTITION and an unknown id UNKNOWN_TOPIC_ID. With
// delete.topic.enable=false every entry gets TOPIC_DELETION_DISABLED (INVALID_REQUEST below v3).
// Deviation: when one topic is named both by name and by id, every reference gets
// INVALID_REQUEST (Kafka answers only the name). Results keep request order (Kafka shuffles
// them), and carry both the name and the id of a deleted topic. The timeout is ignored: a topic is
// gone when the response is sent.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// deleteRef is one entry of a DeleteTopics request, resolved.
type deleteRef struct {
	name *string
	id   [16]byte
	// byName and byID say how a well-formed entry named its topic.
	byName, byID bool
	t            *topic
	err          error
}

func (s *Server) handleDeleteTopics(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	entries := req.Topics
	if h.version < 6 {
		entries = make([]kmsg.DeleteTopicsRequestTopic, len(req.TopicNames))
		for i := range req.TopicNames {
			entries[i].Topic = &req.TopicNames[i]
		}
	}
	if !s.cfg.DeleteTopicEnable {
		code := kerr.TopicDeletionDisabled
		if h.version < 3 {
			code = kerr.InvalidRequest
		}
		for _, e := range entries {
			resp.Topics = append(resp.Topics, deleteResult(e.Topic, e.TopicID, newAPIError(code, "topic deletion is disabled")))
		}
		return respond(resp)
	}
	mutations := c.mutationQuota(h, 5, false)
	refs := s.resolveDeletes(entries)
	s.authorizeDeletes(c, h, refs)
	for _, ref := range refs {
		if ref.err == nil {
			ref.err = refuseInternalChange(ref.t.name)
		}
		if ref.err == nil {
			ref.err = mutations.refuse()
		}
		if ref.err == nil {
			ref.err = s.cluster.deleteTopic(ref.t)
			if ref.err == nil {
				mutations.record(len(ref.t.partitions))
				s.logger.Info("topic deleted by request", "topic", ref.t.name, "client_id", h.clientID, "remote", c.remote)
				// Committed offsets go with the topic, as in Kafka, so a topic re-created under
				// the same name does not inherit them.
				s.coord.groups.DeleteTopicOffsets(c.ctx, ref.t.name)
				s.coord.shares.DeleteTopic(c.ctx, ref.t.name)
			}
		}
		resp.Topics = append(resp.Topics, deleteResult(ref.name, ref.id, ref.err))
	}
	resp.ThrottleMillis = mutations.throttleMillis()
	return respond(resp)
}

// resolveDeletes looks every entry up and applies the request-level checks, answering each
// duplicated name or id once.
func (s *Server) resolveDeletes(entries []kmsg.DeleteTopicsRequestTopic) []deleteRef {
	refs := make([]deleteRef, 0, len(entries))
	names := make(map[string]int)
	ids := make(map[[16]byte]int)
	for _, e := range entries {
		ref := deleteRef{name: e.Topic, id: e.TopicID}
		hasID := e.TopicID != [16]byte{}
		switch {
		case e.Topic != nil && hasID:
			ref.err = newAPIError(kerr.InvalidRequest, "you may not specify both topic name and topic id")
		case e.Topic == nil && !hasID:
			ref.err = newAPIError(kerr.InvalidRequest, "neither topic name nor id were specified")
		case e.Topic != nil:
			ref.byName = true
			names[*e.Topic]++
			if names[*e.Topic] > 1 {
				continue // answered once, below
			}
			if ref.t = s.cluster.lookupTopic(*e.Topic); ref.t == nil {
				ref.err = newAPIError(kerr.UnknownTopicOrPartition, "topic '%s' does not exist", *e.Topic)
			}
		default:
			ref.byID = true
			ids[e.TopicID]++
			if ids[e.TopicID] > 1 {
				continue
			}
			if ref.t = s.cluster.lookupTopicID(meta.TopicID(e.TopicID)); ref.t == nil {
				ref.err = newAPIError(kerr.UnknownTopicID, "topic id %s does not exist", meta.TopicID(e.TopicID))
			}
		}
		refs = append(refs, ref)
	}
	// A topic referenced more than once (by repeated names or ids, or by a name and an id) is
	// not deleted.
	targets := make(map[*topic]int)
	for _, r := range refs {
		if r.err == nil {
			targets[r.t]++
		}
	}
	for i := range refs {
		r := &refs[i]
		switch {
		case r.byName && names[*r.name] > 1:
			r.err = newAPIError(kerr.InvalidRequest, "duplicate topic name")
		case r.byID && ids[r.id] > 1:
			r.err = newAPIError(kerr.InvalidRequest, "duplicate topic id")
		case r.err == nil && targets[r.t] > 1:
			r.err = newAPIError(kerr.InvalidRequest, "the provided topic name maps to an ID that was already supplied")
		}
		if r.err == nil {
			name := r.t.name
			r.name, r.id = &name, [16]byte(r.t.id)
		}
	}
	return refs
}

func deleteResult(name *string, id [16]byte, err error) kmsg.DeleteTopicsResponseTopic {
	out := kmsg.NewDeleteTopicsResponseTopic()
	out.Topic = name
	out.TopicID = id
	out.ErrorCode, out.ErrorMessage = errorCode(err)
	return out
}

// authorizeDeletes applies Kafka's checks to resolved deletions: DELETE on the cluster allows
// all; otherwise a topic the principal may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED whether or
// not it exists (by name), and one it may describe but not DELETE is TOPIC_AUTHORIZATION_FAILED.
func (s *Server) authorizeDeletes(c *conn, h requestHeader, refs []deleteRef) {
	az := s.newAuthBatch(c, h)
	if az == nil {
		return
	}
	nameOf := func(r *deleteRef) (string, bool) {
		switch {
		case r.t != nil:
			return r.t.name, true
		case r.byName && r.name != nil:
			return *r.name, true
		}
		return "", false
	}
	// DELETE on the cluster allows every topic; only without it are the topics asked (Kafka's
	// order, so a cluster-wide grant logs no per-topic denials).
	az.add(authz.OpDelete, authz.Cluster, true)
	if az.ok(authz.OpDelete, authz.Cluster) {
		return
	}
	for i := range refs {
		if n, ok := nameOf(&refs[i]); ok {
			az.add(authz.OpDescribe, authz.Topic(n), false)
			az.add(authz.OpDelete, authz.Topic(n), false)
		}
	}
	for i := range refs {
		r := &refs[i]
		n, ok := nameOf(r)
		if !ok {
			continue // malformed, or an unknown id: nothing to authorize
		}
		// Without DESCRIBE the answer hides everything else about the topic, even an error
		// that would tell which id a name has.
		describable := az.topicOK(authz.OpDescribe, n)
		if !describable || (r.t != nil && r.err == nil && !az.topicOK(authz.OpDelete, n)) {
			if r.byID && !describable {
				r.name = nil // the name is shown only to a principal that may describe the topic
			}
			r.err = deniedError(h, kerr.TopicAuthorizationFailed)
		}
	}
}
