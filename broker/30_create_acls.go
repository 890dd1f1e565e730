package broker

// The ACL APIs: CreateAcls (30), DescribeAcls (29) and DeleteAcls (31), v0–v3 (flexible from
// v2). ACLs live in the metadata log (records CreateACLs and DeleteACLs) and reach the ACL engine
// whenever they change. Kafka's rules: CreateAcls needs ALTER on the cluster, validates each
// binding (INVALID_REQUEST with Kafka's messages) and treats an existing binding as created;
// DescribeAcls needs DESCRIBE on the cluster and groups bindings by resource pattern; DeleteAcls
// needs ALTER on the cluster and answers, per filter, the bindings it removed (a binding matched
// by several filters is listed under each). With no ACL engine configured every ACL API answers
// SECURITY_DISABLED.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// aclEntries are the handler-table rows of the ACL APIs.
func (s *Server) aclEntries() []*apiEntry {
	return []*apiEntry{
		{key: 29, min: 0, max: 3, handle: s.handleDescribeAcls},
		{key: 30, min: 0, max: 3, handle: s.handleCreateAcls},
		{key: 31, min: 0, max: 3, handle: s.handleDeleteAcls},
	}
}

// aclsDisabled is the answer when no ACL engine is configured.
func (s *Server) aclsDisabled() (bool, *string) {
	if authz.KeepsACLs(s.authz) {
		return false, nil
	}
	m := "No Authorizer is configured."
	if s.authz != nil {
		m = "The configured authorizer (" + s.cfg.AuthorizerClassName + ") does not keep Kafka ACLs."
	}
	return true, &m
}

func (s *Server) handleCreateAcls(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	result := func(code int16, msg *string) {
		r := kmsg.NewCreateACLsResponseResult()
		r.ErrorCode, r.ErrorMessage = code, msg
		resp.Results = append(resp.Results, r)
	}
	disabled, why := s.aclsDisabled()
	denied := !disabled && !s.allowed(c, h, authz.OpAlter, authz.Cluster)
	var good []authz.Binding
	var goodAt []int
	for _, rc := range req.Creations {
		switch {
		case disabled:
			result(kerr.SecurityDisabled.Code, why)
			continue
		case denied:
			result(kerr.ClusterAuthorizationFailed.Code, deniedMessage(h))
			continue
		}
		b := authz.Binding{
			Pattern: authz.Pattern{Type: authz.ResourceType(rc.ResourceType), Name: rc.ResourceName, PatternType: authz.PatternType(rc.ResourcePatternType)},
			Entry: authz.Entry{Principal: rc.Principal, Host: rc.Host, Operation: authz.Operation(rc.Operation),
				Permission: authz.Permission(rc.PermissionType)},
		}
		if h.version == 0 {
			b.Pattern.PatternType = authz.PatternLiteral
		}
		if err := b.Validate(); err != nil {
			msg := err.Error()
			result(kerr.InvalidRequest.Code, &msg)
			continue
		}
		good, goodAt = append(good, b), append(goodAt, len(resp.Results))
		result(0, nil)
	}
	if len(good) > 0 {
		st, err := s.cluster.store.Commit(meta.CreateACLs{ACLs: good})
		if err != nil {
			code, msg := errorCode(fmt.Errorf("store ACLs: %w", err))
			for _, i := range goodAt {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = code, msg
			}
			s.logger.Error("CreateAcls failed", "request_id", h.id, "err", err)
		} else {
			s.syncACLs(st)
			for _, b := range good {
				s.logger.Info("ACL created", "acl", b.String(), "principal", c.principal().String(), "request_id", h.id)
			}
		}
	}
	return respond(resp)
}

// aclFilter turns a wire filter into an authz.Filter, refusing UNKNOWN enums as Kafka does.
func aclFilter(version int16, rt, pt, op, perm int8, name, principal, host *string) (authz.Filter, error) {
	f := authz.Filter{Type: authz.ResourceType(rt), Name: name, PatternType: authz.PatternType(pt),
		Principal: principal, Host: host, Operation: authz.Operation(op), Permission: authz.Permission(perm)}
	if version == 0 {
		f.PatternType = authz.PatternLiteral
	}
	return f, f.Validate()
}

func (s *Server) handleDescribeAcls(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	if disabled, why := s.aclsDisabled(); disabled {
		m := "No Authorizer is configured on the broker"
		if s.authz != nil {
			m = *why
		}
		resp.ErrorCode, resp.ErrorMessage = kerr.SecurityDisabled.Code, &m
		return respond(resp)
	}
	if !s.allowed(c, h, authz.OpDescribe, authz.Cluster) {
		resp.ErrorCode, resp.ErrorMessage = kerr.ClusterAuthorizationFailed.Code, deniedMessage(h)
		return respond(resp)
	}
	f, err := aclFilter(h.version, int8(req.ResourceType), int8(req.ResourcePatternType), int8(req.Operation), int8(req.PermissionType),
		req.ResourceName, req.Principal, req.Host)
	if err != nil {
		msg := err.Error()
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, &msg
		return respond(resp)
	}
	var matched []authz.Binding
	for _, b := range s.cluster.store.State().ACLList() {
		if f.Matches(b) {
			matched = append(matched, b)
		}
	}
	resp.Resources = describedACLs(matched)
	return respond(resp)
}

// describedACLs groups sorted bindings by resource pattern.
func describedACLs(bs []authz.Binding) []kmsg.DescribeACLsResponseResource {
	var out []kmsg.DescribeACLsResponseResource
	for _, b := range bs {
		n := len(out)
		if n == 0 || out[n-1].ResourceName != b.Pattern.Name || out[n-1].ResourceType != kmsg.ACLResourceType(b.Pattern.Type) ||
			out[n-1].ResourcePatternType != kmsg.ACLResourcePatternType(b.Pattern.PatternType) {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName = kmsg.ACLResourceType(b.Pattern.Type), b.Pattern.Name
			r.ResourcePatternType = kmsg.ACLResourcePatternType(b.Pattern.PatternType)
			out = append(out, r)
			n++
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host = b.Entry.Principal, b.Entry.Host
		a.Operation, a.PermissionType = kmsg.ACLOperation(b.Entry.Operation), kmsg.ACLPermissionType(b.Entry.Permission)
		out[n-1].ACLs = append(out[n-1].ACLs, a)
	}
	return out
}

func (s *Server) handleDeleteAcls(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	disabled, why := s.aclsDisabled()
	denied := !disabled && !s.allowed(c, h, authz.OpAlter, authz.Cluster)
	s.cluster.adminMu.Lock()
	defer s.cluster.adminMu.Unlock()
	all := s.cluster.store.State().ACLList()
	gone := map[authz.Binding]bool{}
	var remove []authz.Binding
	for _, rf := range req.Filters {
		r := kmsg.NewDeleteACLsResponseResult()
		switch {
		case disabled:
			r.ErrorCode, r.ErrorMessage = kerr.SecurityDisabled.Code, why
		case denied:
			r.ErrorCode, r.ErrorMessage = kerr.ClusterAuthorizationFailed.Code, deniedMessage(h)
		default:
			f, err := aclFilter(h.version, int8(rf.ResourceType), int8(rf.ResourcePatternType), int8(rf.Operation), int8(rf.PermissionType),
				rf.ResourceName, rf.Principal, rf.Host)
			if err != nil {
				msg := err.Error()
				r.ErrorCode, r.ErrorMessage = kerr.InvalidRequest.Code, &msg
				break
			}
			for _, b := range all {
				if !f.Matches(b) {
					continue
				}
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType, m.ResourceName = kmsg.ACLResourceType(b.Pattern.Type), b.Pattern.Name
				m.ResourcePatternType = kmsg.ACLResourcePatternType(b.Pattern.PatternType)
				m.Principal, m.Host = b.Entry.Principal, b.Entry.Host
				m.Operation, m.PermissionType = kmsg.ACLOperation(b.Entry.Operation), kmsg.ACLPermissionType(b.Entry.Permission)
				r.MatchingACLs = append(r.MatchingACLs, m)
				if !gone[b] {
					gone[b] = true
					remove = append(remove, b)
				}
			}
		}
		resp.Results = append(resp.Results, r)
	}
	if len(remove) > 0 {
		st, err := s.cluster.store.Commit(meta.DeleteACLs{ACLs: remove})
		if err != nil {
			code, msg := errorCode(fmt.Errorf("delete ACLs: %w", err))
			for i := range resp.Results {
				if resp.Results[i].ErrorCode == 0 {
					resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage, resp.Results[i].MatchingACLs = code, msg, nil
				}
			}
			s.logger.Error("DeleteAcls failed", "request_id", h.id, "err", err)
		} else {
			s.syncACLs(st)
			for _, b := range remove {
				s.logger.Info("ACL deleted", "acl", b.String(), "principal", c.principal().String(), "request_id", h.id)
			}
		}
	}
	return respond(resp)
}
