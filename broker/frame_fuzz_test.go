package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzParseRequest feeds arbitrary frames to the request decoder.
// Invariants: it never panics; a request it accepts has a key and version the handler table
// serves (or is ApiVersions); and every accepted request re-encodes without panicking.
func FuzzParseRequest(f *testing.F) {
	table := &handlerTable{byKey: map[int16]*apiEntry{}}
	for _, e := range []*apiEntry{{key: 0, min: 3, max: 12}, {key: 1, min: 4, max: 17}, {key: 2, min: 1, max: 10},
		{key: 3, min: 0, max: 12}, {key: 18, min: 0, max: 4}, {key: 19, min: 2, max: 7}, {key: 32, min: 0, max: 4}} {
		table.byKey[e.key] = e
	}
	for _, req := range []kmsg.Request{kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest(),
		kmsg.NewPtrProduceRequest(), kmsg.NewPtrFetchRequest(), kmsg.NewPtrListOffsetsRequest()} {
		for _, v := range []int16{0, 3, 4, 7, 9, 12} {
			req.SetVersion(v)
			f.Add(encodeRequest(req, 1, "fuzz")[4:])
		}
	}
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0x05, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, req, err := parseRequest(frame, table, nil)
		if err != nil {
			return
		}
		if e, ok := table.lookup(h.key); !ok || (h.key != apiKeyApiVersions && (h.version < e.min || h.version > e.max)) {
			t.Fatalf("accepted key %d v%d outside the table", h.key, h.version)
		}
		_ = req.AppendTo(nil)
	})
}
