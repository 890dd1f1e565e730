package broker

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzAdminHandlers feeds arbitrary requests, at every served version, to every admin handler of
// a live broker. Input: [entry index][version offset][request body].
//
// Invariants: a request kmsg can decode never makes a handler panic; every handler answers at
// once (admin APIs never defer or drop their answer) with a response whose encoding decodes again
// at the same version. Partition counts are clamped so that one input cannot spend the run
// creating files. See decodeFuzzed for how bodies become requests.
func FuzzAdminHandlers(f *testing.F) {
	b := newTestBroker(f)
	entries := b.adminEntries()
	c := &conn{srv: b.Server, listener: "PLAINTEXT", remote: "fuzz", logger: b.logger}
	for i, e := range entries {
		for v := e.min; v <= e.max; v++ {
			req := fuzzSeedRequest(e.key)
			if dv, ok := plainVersion(req, v, e.min); ok {
				req.SetVersion(dv)
				f.Add(byte(i), byte(v-e.min), req.AppendTo(nil))
			}
		}
	}
	f.Add(byte(9), byte(2), []byte{1, 1, 0})                        // DescribeCluster v2
	f.Add(byte(10), byte(0), []byte{0, 0, 0, 2, 1, 'a', 0, 'b', 0}) // DescribeTopicPartitions
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

// decodeFuzzed turns a fuzzed body into a request at version v. kmsg's tagged-field reader loops
// once per claimed field without noticing that the input has run out (a 25-byte body claiming 2^32
// tags costs seconds of CPU), which would drown the run in one known slow path. So a body is
// decoded at the newest non-flexible version at or below v (flexible-only fields keep their
// defaults) and then set to v; the two APIs with no non-flexible version are built field by field.
func decodeFuzzed(e *apiEntry, v int16, body []byte) (kmsg.Request, bool) {
	switch e.key {
	case 60:
		r := kmsg.NewPtrDescribeClusterRequest()
		r.SetVersion(v)
		if len(body) >= 3 {
			r.IncludeClusterAuthorizedOperations, r.EndpointType, r.IncludeFencedBrokers = body[0]&1 == 1, int8(body[1]), body[2]&1 == 1
		}
		return r, true
	case 75:
		r := kmsg.NewPtrDescribeTopicPartitionsRequest()
		r.SetVersion(v)
		if len(body) < 5 {
			return r, true
		}
		r.ResponsePartitionLimit = int32(binary.BigEndian.Uint32(body))
		names := bytes.Split(body[5:], []byte{0})
		if body[4]&1 == 1 && len(names) > 0 {
			r.Cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: string(names[0]), Partition: int32(int8(body[4]) >> 1)}
			names = names[1:]
		}
		for _, n := range names {
			r.Topics = append(r.Topics, kmsg.DescribeTopicPartitionsRequestTopic{Topic: string(n)})
		}
		return r, true
	}
	req := kmsg.RequestForKey(e.key)
	dv, ok := plainVersion(req, v, e.min)
	if !ok {
		return nil, false
	}
	req.SetVersion(dv)
	if err := req.ReadFrom(body); err != nil {
		return nil, false
	}
	req.SetVersion(v)
	return req, true
}

// plainVersion is the newest non-flexible version of req's API in [floor, v].
func plainVersion(req kmsg.Request, v, floor int16) (int16, bool) {
	for ; v >= floor; v-- {
		req.SetVersion(v)
		if !req.IsFlexible() {
			return v, true
		}
	}
	return 0, false
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
