package broker

// DescribeUserScramCredentials (key 50), v0 (KIP-554).
//
// Lists each user's SCRAM mechanisms and iteration counts, never salts or keys. A null user list
// describes every user with a credential. A named user without credentials is RESOURCE_NOT_FOUND
// and a user named twice is DUPLICATE_RESOURCE, once per name, as Kafka answers.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDescribeUserScramCredentials(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !s.allowed(c, h, authz.OpDescribe, authz.Cluster) {
		resp.ErrorCode, resp.ErrorMessage = kerr.ClusterAuthorizationFailed.Code, deniedMessage(h)
		for range req.Users { // one result per user asked for, without the name, as Kafka does
			r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			r.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			resp.Results = append(resp.Results, r)
		}
		return respond(resp)
	}
	users := s.cluster.store.State().ScramUsers
	var names []string
	if req.Users == nil {
		for u := range users {
			names = append(names, u)
		}
		sort.Strings(names)
	} else {
		count := map[string]int{}
		for _, u := range req.Users {
			if count[u.Name]++; count[u.Name] == 1 {
				names = append(names, u.Name)
			}
		}
		for _, n := range names {
			if count[n] > 1 {
				resp.Results = append(resp.Results, scramResultError(n, kerr.DuplicateResource, "cannot describe SCRAM credentials for the same user twice in a single request"))
			}
		}
		names = filter(names, func(n string) bool { return count[n] == 1 })
	}
	for _, n := range names {
		mechs, ok := users[n]
		if !ok {
			resp.Results = append(resp.Results, scramResultError(n, kerr.ResourceNotFound, "attempt to describe a user credential that does not exist"))
			continue
		}
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = n
		for num := int8(1); num <= 2; num++ {
			if cred, ok := mechs[scramMechanisms[num]]; ok {
				info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				info.Mechanism, info.Iterations = num, int32(cred.Iterations)
				r.CredentialInfos = append(r.CredentialInfos, info)
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return respond(resp)
}

func scramResultError(user string, e *kerr.Error, msg string) kmsg.DescribeUserSCRAMCredentialsResponseResult {
	r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
	r.User, r.ErrorCode, r.ErrorMessage = user, e.Code, &msg
	return r
}

func filter[T any](in []T, keep func(T) bool) []T {
	out := in[:0]
	for _, v := range in {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}
