package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/acl"
	"github.com/bulwark-kafka/bulwark/broker/config"
)

// FuzzAdminHandlers feeds arbitrary requests, at every served version, to every admin and ACL
// handler of a live broker with the ACL authorizer (allow.everyone.if.no.acl.found=true, so the
// handlers run until fuzzed ACLs deny them). Input: [entry index][version offset][request body].
//
// Invariants: a request kmsg can decode never makes a handler panic; every handler answers at
// once (admin APIs never defer or drop their answer) with a response whose encoding decodes again
// at the same version. Partition counts are clamped so that one input cannot spend the run
// creating files.
func FuzzAdminHandlers(f *testing.F) {
	b := newTestBroker(f, withOptions(WithAuthorizer(acl.New(true))), withConfig(func(c *config.Config) {
		c.AuthorizerClassName = config.ACLAuthorizerClass
	}))
	entries := append(b.adminEntries(), b.aclEntries()...)
	c := &conn{srv: b.Server, listener: "PLAINTEXT", remote: "fuzz", logger: b.logger}
	for i, e := range entries {
		for v := e.min; v <= e.max; v++ {
			req := fuzzSeedRequest(e.key)
			req.SetVersion(v)
			f.Add(byte(i), byte(v-e.min), req.AppendTo(nil))
		}
	}
	f.Fuzz(func(t *testing.T, which, version byte, body []byte) {
		e := entries[int(which)%len(entries)]
		req, ok := decodeFuzzed(e, e.min+int16(version)%(e.max-e.min+1), body)
		if !ok {
			return
		}
		clampPartitions(req)
		h := requestHeader{key: e.key, version: req.GetVersion(), clientID: "fuzz"}
		r := e.handle(c, h, req)
		if r.resp == nil || r.later != nil || r.none {
			t.Fatalf("key %d v%d: no immediate response", e.key, h.version)
		}
		enc := r.resp.AppendTo(nil)
		back := req.ResponseKind()
		back.SetVersion(h.version)
		if err := back.ReadFrom(enc); err != nil {
			t.Fatalf("key %d v%d: response does not decode: %v", e.key, h.version, err)
		}
	})
}

// decodeFuzzed decodes a fuzzed body as a request at version v, flexible versions included:
// the patched kmsg (third_party/kmsg) bounds every count by the input left, so no body can make
// decoding slow.
func decodeFuzzed(e *apiEntry, v int16, body []byte) (kmsg.Request, bool) {
	req := kmsg.RequestForKey(e.key)
	req.SetVersion(v)
	if err := req.ReadFrom(body); err != nil {
		return nil, false
	}
	return req, true
}

// fuzzSeedRequest returns a small, valid request for an admin key, touching topics the fuzz run
// creates.
func fuzzSeedRequest(key int16) kmsg.Request {
	switch key {
	case 19:
		r := kmsg.NewPtrCreateTopicsRequest()
		r.Topics = append(r.Topics, newCreateTopic("fz", 2, 1))
		return r
	case 20:
		r := kmsg.NewPtrDeleteTopicsRequest()
		r.TopicNames = []string{"fz"}
		r.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("fz")}}
		return r
	case 32:
		r := kmsg.NewPtrDescribeConfigsRequest()
		r.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "fz"}}
		return r
	case 30:
		r := kmsg.NewPtrCreateACLsRequest()
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "fz", kmsg.ACLResourcePatternTypePrefixed
		c.Principal, c.Host, c.Operation, c.PermissionType = "User:ANONYMOUS", "*", kmsg.ACLOperationAll, kmsg.ACLPermissionTypeDeny
		r.Creations = append(r.Creations, c)
		return r
	case 31:
		r := kmsg.NewPtrDeleteACLsRequest()
		fl := kmsg.NewDeleteACLsRequestFilter()
		fl.ResourceType, fl.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeMatch
		fl.Operation, fl.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		fl.ResourceName = kmsg.StringPtr("fz")
		r.Filters = append(r.Filters, fl)
		return r
	case 49:
		r := kmsg.NewPtrAlterClientQuotasRequest()
		e := kmsg.NewAlterClientQuotasRequestEntry()
		e.Entity = []kmsg.AlterClientQuotasRequestEntryEntity{{Type: "user", Name: kmsg.StringPtr("fz")}}
		e.Ops = []kmsg.AlterClientQuotasRequestEntryOp{{Key: "producer_byte_rate", Value: 1 << 20}}
		r.Entries = append(r.Entries, e)
		return r
	case 48:
		r := kmsg.NewPtrDescribeClientQuotasRequest()
		r.Components = []kmsg.DescribeClientQuotasRequestComponent{{EntityType: "user", MatchType: 2}}
		return r
	case 44:
		r := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "fz"
		rr.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "cleanup.policy", Op: 2, Value: kmsg.StringPtr("compact")}}
		r.Resources = append(r.Resources, rr)
		return r
	default:
		return kmsg.RequestForKey(key)
	}
}

// clampPartitions bounds the partitions a fuzzed request may create.
func clampPartitions(req kmsg.Request) {
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		r.Topics = r.Topics[:min(len(r.Topics), 4)]
		for i := range r.Topics {
			r.Topics[i].NumPartitions = min(r.Topics[i].NumPartitions, 4)
			if len(r.Topics[i].ReplicaAssignment) > 4 {
				r.Topics[i].ReplicaAssignment = r.Topics[i].ReplicaAssignment[:4]
			}
		}
	case *kmsg.CreatePartitionsRequest:
		r.Topics = r.Topics[:min(len(r.Topics), 4)]
		for i := range r.Topics {
			r.Topics[i].Count = min(r.Topics[i].Count, 8)
		}
	}
}
