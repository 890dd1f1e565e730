package broker

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzParseRequest feeds arbitrary frames to the request decoder, for every API key and version
// kmsg knows (SaslHandshake 17, SaslAuthenticate 36 and every flexible body among them): the seed
// corpus holds each one empty and with one element in every array, plus the tag-flood frame.
// Invariants: it never panics; a request it accepts has a key and version the table serves (or
// is ApiVersions); every accepted request re-encodes without panicking; and, by the patched
// kmsg's bounds, no input makes it loop or allocate beyond a constant per input byte (a fuzz
// input that did would hang the target, which the fuzzer reports).
func FuzzParseRequest(f *testing.F) {
	table := everyVersionTable()
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		if kmsg.RequestForKey(key) == nil {
			continue
		}
		for v := int16(0); v <= kmsg.RequestForKey(key).MaxVersion(); v++ {
			req := kmsg.RequestForKey(key)
			req.SetVersion(v)
			f.Add(encodeRequest(req, 1, "fuzz")[4:])
			fillOneOfEach(reflect.ValueOf(req).Elem(), 0)
			f.Add(encodeRequest(req, 1, "fuzz")[4:])
		}
	}
	f.Add(saslAuthenticateFlood())
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
