package broker

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// API keys the connection layer and the request metrics need to know by name.
const (
	apiKeyProduce          int16 = 0
	apiKeyFetch            int16 = 1
	apiKeyApiVersions      int16 = 18
	apiKeySaslHandshake    int16 = 17
	apiKeySaslAuthenticate int16 = 36
)

// reply is what a handler gives back for one request. Most handlers answer at once (resp); a
// handler whose answer must wait (an acks=all Produce waiting for fsync, a long-polling Fetch)
// returns later instead, which runs on its own goroutine. Either way the connection writes
// responses strictly in request order.
type reply struct {
	resp  kmsg.Response
	later func(ctx context.Context) kmsg.Response
	// none means no response bytes at all (Produce with acks=0).
	none bool
	// closeConn closes the connection once this reply (if any) is written: an acks=0 Produce
	// that failed, as Kafka does, so the client refreshes its metadata.
	closeConn bool
}

func respond(resp kmsg.Response) reply { return reply{resp: resp} }

// handler serves one decoded request. It runs on the connection's reader goroutine, so anything
// that must happen in request order (appends, session updates) happens here, before the next
// request on the connection is read; only waiting is deferred to reply.later. The request's byte
// slices alias the connection's read buffer, which is reused for the next request: a handler (and
// its reply.later) must not keep them after returning.
type handler func(c *conn, h requestHeader, req kmsg.Request) reply

// apiEntry is one row of the handler table: an API key, the versions this broker serves, and the
// handler. The same rows produce the ApiVersions answer, so the broker never advertises what it
// does not implement.
type apiEntry struct {
	key      int16
	min, max int16
	handle   handler
	// preAuth marks the APIs served before a connection has authenticated.
	preAuth bool
}

// handlerTable maps API keys to entries.
type handlerTable struct {
	byKey map[int16]*apiEntry
}

func (t *handlerTable) lookup(key int16) (*apiEntry, bool) {
	e, ok := t.byKey[key]
	return e, ok
}

// sorted returns the entries in API-key order, for ApiVersions.
func (t *handlerTable) sorted() []*apiEntry {
	out := make([]*apiEntry, 0, len(t.byKey))
	for _, e := range t.byKey {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// newHandlerTable is the one place that says which APIs, at which versions, the broker serves.
// Version floors follow Kafka 4.0 (KIP-896 removed Produce < v3, Fetch < v4, ListOffsets < v1 and
// others); ceilings are the newest versions whose semantics are implemented here.
func newHandlerTable(s *Server) *handlerTable {
	entries := []*apiEntry{
		// Produce advertises v0–v2 although it refuses them (see 00_produce.go), as Kafka 4.0 does
		// (KAFKA-18659): librdkafka 2.0 compresses only when it sees Produce v0–v2 advertised.
		{key: 0, min: 0, max: 12, handle: s.handleProduce},
		{key: 1, min: 4, max: 17, handle: s.handleFetch},
		{key: 2, min: 1, max: 10, handle: s.handleListOffsets},
		{key: 3, min: 0, max: 12, handle: s.handleMetadata},
		{key: apiKeyApiVersions, min: 0, max: 4, handle: s.handleApiVersions, preAuth: true},
	}
	entries = append(entries, s.adminEntries()...)
	entries = append(entries, s.aclEntries()...)
	entries = append(entries, s.coordinatorEntries()...)
	entries = append(entries, s.saslEntries()...)
	t := &handlerTable{byKey: make(map[int16]*apiEntry, len(entries))}
	for _, e := range entries {
		t.byKey[e.key] = e
	}
	return t
}
