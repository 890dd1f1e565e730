package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/acl"
	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/config"
)

// FuzzCoordinatorHandlers feeds arbitrary requests, at every served version, to every group and
// transaction handler of a live broker, in sequence, so one input's join or transaction meets the
// state earlier inputs left. Input: [entry index][version offset][request body].
//
// Invariants: a request never makes a handler panic; every handler answers (a deferred answer
// within a bounded wait: the request context ends after 200 ms, as a closing connection would
// end it) with a response whose encoding decodes again at the same version.
func FuzzCoordinatorHandlers(f *testing.F) {
	// ACLs allow names starting with f (topics), g (groups) and t (transactional ids), so inputs
	// reach both the coordinators and the authorization refusals in front of them.
	engine := acl.New(false)
	var acls []authz.Binding
	for rt, prefix := range map[authz.ResourceType]string{authz.ResourceTopic: "f", authz.ResourceGroup: "g", authz.ResourceTransactionalID: "t"} {
		acls = append(acls, authz.Binding{Pattern: authz.Pattern{Type: rt, Name: prefix, PatternType: authz.PatternPrefixed},
			Entry: authz.Entry{Principal: "User:*", Host: "*", Operation: authz.OpAll, Permission: authz.Allow}})
	}
	acls = append(acls, authz.Binding{Pattern: authz.Pattern{Type: authz.ResourceCluster, Name: authz.ClusterName, PatternType: authz.PatternLiteral},
		Entry: authz.Entry{Principal: "User:*", Host: "*", Operation: authz.OpIdempotentWrite, Permission: authz.Allow}})
	engine.SetACLs(acls)
	b := newTestBroker(f, fastGroups(), withOptions(WithAuthorizer(authz.NewSuperUsers([]string{"User:admin"}, fixedACLs{engine}))),
		withConfig(func(c *config.Config) { c.AuthorizerClassName = config.ACLAuthorizerClass }))
	mustCreateTopic(f, b.Admin(f), "fz", 2, nil)
	entries := b.coordinatorEntries()
	c := &conn{srv: b.Server, listener: "PLAINTEXT", remote: "127.0.0.1:1", logger: b.logger, ctx: context.Background()}
	for i, e := range entries {
		for v := e.min; v <= e.max; v++ {
			req := kmsg.RequestForKey(e.key)
			req.SetVersion(v)
			f.Add(byte(i), byte(v-e.min), req.AppendTo(nil))
			f.Add(byte(i), byte(v-e.min), []byte("g\x00fz\x00m\x00\x00\x00\x00\x00"))
		}
	}
	f.Fuzz(func(t *testing.T, which, version byte, body []byte) {
		e := entries[int(which)%len(entries)]
		v := e.min + int16(version)%(e.max-e.min+1)
		req, ok := decodeCoordinatorFuzzed(e, v, body)
		if !ok {
			return
		}
		h := requestHeader{key: e.key, version: v, clientID: "fuzz"}
		r := e.handle(c, h, req)
		resp := r.resp
		if r.later != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			resp = r.later(ctx)
			cancel()
		}
		if resp == nil {
			t.Fatalf("key %d v%d: no response", e.key, v)
		}
		enc := resp.AppendTo(nil)
		back := req.ResponseKind()
		back.SetVersion(v)
		if err := back.ReadFrom(enc); err != nil {
			t.Fatalf("key %d v%d: response does not decode: %v", e.key, v, err)
		}
	})
}

// decodeCoordinatorFuzzed decodes a body at version v (decodeFuzzed), except for the APIs whose
// interesting states a random body would seldom reach: those are built field by field from
// NUL-separated strings (group, member, names...), with the last 4 bytes as an epoch.
func decodeCoordinatorFuzzed(e *apiEntry, v int16, body []byte) (kmsg.Request, bool) {
	parts := bytes.Split(body, []byte{0})
	str := func(i int) string {
		if i < len(parts) {
			return string(parts[i])
		}
		return ""
	}
	var epoch int32
	if len(body) >= 4 {
		epoch = int32(binary.BigEndian.Uint32(body[len(body)-4:]))
	}
	var req kmsg.Request
	switch e.key {
	case 61:
		r := kmsg.NewPtrDescribeProducersRequest()
		r.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: str(1), Partitions: []int32{epoch % 4}}}
		req = r
	case 65:
		r := kmsg.NewPtrDescribeTransactionsRequest()
		r.TransactionalIDs = []string{str(0), str(1)}
		req = r
	case 66:
		r := kmsg.NewPtrListTransactionsRequest()
		r.StateFilters = []string{str(0)}
		r.DurationFilterMillis = int64(epoch)
		req = r
	case 68:
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Group, r.MemberID, r.MemberEpoch = str(0), str(2), epoch%4-2
		r.RebalanceTimeoutMillis = 1000
		if len(body) > 0 && body[0]&1 == 1 {
			r.SubscribedTopicNames = []string{str(1)}
			r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		}
		if len(body) > 0 && body[0]&2 == 2 {
			r.SubscribedTopicRegex = kmsg.StringPtr(str(3))
		}
		if len(body) > 0 && body[0]&4 == 4 {
			r.ServerAssignor = kmsg.StringPtr(str(4))
		}
		if len(body) > 0 && body[0]&8 == 8 {
			r.InstanceID = kmsg.StringPtr(str(5))
		}
		req = r
	case 69:
		r := kmsg.NewPtrConsumerGroupDescribeRequest()
		r.Groups = []string{str(0)}
		req = r
	default:
		return decodeFuzzed(e, v, body)
	}
	req.SetVersion(v)
	return req, true
}

// fixedACLs hides the engine's ACL store, so the broker's (empty) metadata log does not replace
// the fuzz run's fixed ACLs.
type fixedACLs struct{ e *acl.Engine }

func (f fixedACLs) Authorize(rc *authz.RequestContext, actions []authz.Action) []authz.Decision {
	return f.e.Authorize(rc, actions)
}

func (f fixedACLs) AuthorizeAny(rc *authz.RequestContext, op authz.Operation, rt authz.ResourceType) authz.Decision {
	return f.e.AuthorizeAny(rc, op, rt)
}
