package broker

// AlterUserScramCredentials (key 51), v0 (KIP-554).
//
// Upsertions carry the salt and the salted password (the client never sends the password); the
// broker stores only StoredKey and ServerKey. Results are per user: a user whose operations
// include an invalid one (unknown mechanism, iterations outside 4096..16384, an empty name or
// salted password, the same user and mechanism twice, deleting a credential that does not exist)
// gets that error and none of its operations apply; the other users' changes commit together and
// are usable by the very next login.

import (
	"maps"
	"slices"

	"github.com/bulwark-kafka/bulwark/auth/authz"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/scram"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// userScramOps collects one user's operations and the first problem with them.
type userScramOps struct {
	recs []meta.Record
	err  *apiError
}

func (s *Server) handleAlterUserScramCredentials(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	if !s.allowed(c, h, authz.OpAlter, authz.Cluster) {
		// Every user named gets the failure, once each, as Kafka answers.
		seen := map[string]bool{}
		for _, d := range req.Deletions {
			seen[d.Name] = true
		}
		for _, u := range req.Upsertions {
			seen[u.Name] = true
		}
		for _, n := range slices.Sorted(maps.Keys(seen)) {
			r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			r.User, r.ErrorCode, r.ErrorMessage = n, kerr.ClusterAuthorizationFailed.Code, deniedMessage(h)
			resp.Results = append(resp.Results, r)
		}
		return respond(resp)
	}
	s.cluster.adminMu.Lock()
	defer s.cluster.adminMu.Unlock()
	st := s.cluster.store.State()

	var order []string
	ops := map[string]*userScramOps{}
	seen := map[[2]string]bool{}
	get := func(user string) *userScramOps {
		u, ok := ops[user]
		if !ok {
			u = &userScramOps{}
			ops[user] = u
			order = append(order, user)
		}
		return u
	}
	fail := func(u *userScramOps, e *kerr.Error, format string, args ...any) {
		if u.err == nil {
			u.err = newAPIError(e, format, args...)
		}
	}
	check := func(u *userScramOps, user string, num int8) (string, bool) {
		mech, ok := scramMechanisms[num]
		switch {
		case user == "":
			fail(u, kerr.UnacceptableCredential, "username must not be empty")
		case !ok:
			fail(u, kerr.UnsupportedSaslMechanism, "unknown SCRAM mechanism %d", num)
		case seen[[2]string{user, mech}]:
			fail(u, kerr.DuplicateResource, "a user credential cannot be altered twice in the same request")
		default:
			seen[[2]string{user, mech}] = true
			return mech, true
		}
		return "", false
	}
	for _, d := range req.Deletions {
		u := get(d.Name)
		mech, ok := check(u, d.Name, d.Mechanism)
		if !ok {
			continue
		}
		if _, exists := st.ScramUsers[d.Name][mech]; !exists {
			fail(u, kerr.ResourceNotFound, "attempt to delete a user credential that does not exist")
			continue
		}
		u.recs = append(u.recs, meta.DeleteScramCredential{User: d.Name, Mechanism: mech})
	}
	for _, up := range req.Upsertions {
		u := get(up.Name)
		mech, ok := check(u, up.Name, up.Mechanism)
		if !ok {
			continue
		}
		size := scram.Hash(mech)().Size()
		switch {
		case up.Iterations < meta.MinScramIterations || up.Iterations > meta.MaxScramIterations:
			fail(u, kerr.UnacceptableCredential, "iterations must be between %d and %d", meta.MinScramIterations, meta.MaxScramIterations)
		case len(up.Salt) == 0:
			fail(u, kerr.UnacceptableCredential, "salt must not be empty")
		case len(up.SaltedPassword) != size:
			fail(u, kerr.UnacceptableCredential, "salted password must be %d bytes for %s", size, mech)
		default:
			c, _ := scram.FromSalted(mech, up.Salt, up.SaltedPassword, int(up.Iterations)) // mech is known
			u.recs = append(u.recs, meta.SetScramCredential{User: up.Name, Mechanism: mech, Credential: storedCredential(c)})
		}
	}

	var recs []meta.Record
	for _, user := range order {
		if u := ops[user]; u.err == nil {
			recs = append(recs, u.recs...)
		}
	}
	var commitErr error
	if len(recs) > 0 {
		if _, commitErr = s.cluster.store.Commit(recs...); commitErr != nil {
			s.logger.Error("alter SCRAM credentials: metadata commit failed", "err", commitErr)
		}
	}
	for _, user := range order {
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User = user
		switch u := ops[user]; {
		case u.err != nil:
			r.ErrorCode, r.ErrorMessage = u.err.code.Code, &u.err.msg
		case commitErr != nil:
			msg := "the credential could not be stored; see the broker log"
			r.ErrorCode, r.ErrorMessage = kerr.UnknownServerError.Code, &msg
		default:
			c.logger.Info("SCRAM credentials changed", "user", user, "by", c.principalName())
		}
		resp.Results = append(resp.Results, r)
	}
	return respond(resp)
}
