package broker

// Client quotas (KIP-13, KIP-124, KIP-219, KIP-599, KIP-612): the broker side of package quota.
//
// Every request but ApiVersions and the SASL exchange counts its handler time against
// request_percentage; Produce counts its size against producer_byte_rate (acks=0 skips the
// request quota, as Kafka does); Fetch counts its response size against consumer_byte_rate;
// CreateTopics, CreatePartitions and DeleteTopics count partitions against
// controller_mutation_rate; a new connection counts against its IP's connection_creation_rate.
//
// A throttled client is answered at once with throttle_time_ms set and its connection is then
// muted (not read) for that long (KIP-219), so even a client that ignores the field cannot go
// faster than its quota. A throttled Fetch is answered empty, its bytes are not counted and its
// fetch session is not updated; a fetch under a consumer quota returns at most what the quota
// allows over its window.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/meta"
	"github.com/bulwark-kafka/bulwark/broker/quota"
)

// newQuotaManager builds the quota manager and loads the quotas stored in the metadata log.
func (s *Server) newQuotaManager() {
	s.quotas = quota.NewManager(quota.Config{WindowNum: int(s.cfg.QuotaWindowNum),
		WindowSize: time.Duration(s.cfg.QuotaWindowSizeSeconds) * time.Second})
	s.syncQuotas(s.cluster.store.State())
}

// syncQuotas hands the quotas of st to the manager.
func (s *Server) syncQuotas(st *meta.State) {
	q := make(map[string]map[string]float64, len(st.ClientQuotas))
	for _, cq := range st.ClientQuotas {
		q[quota.Entity(cq.Entity).Key()] = cq.Values
	}
	s.quotas.SetQuotas(q)
}

// quotaClient is who a request counts against: the principal's name and the client id.
func (c *conn) quotaClient(h requestHeader) quota.Client {
	return quota.Client{User: c.principal().Name, ClientID: h.clientID}
}

// quotaExempt are the APIs that never count against the request quota: without them a throttled
// client could not even log in or learn the broker's versions.
func quotaExempt(key int16) bool {
	return key == apiKeyApiVersions || key == apiKeySaslHandshake || key == apiKeySaslAuthenticate
}

// throttleAfterHandler records what a just-handled request costs against its client's quotas and
// returns how long the client must be throttled for it. Fetch bandwidth is counted later, when
// the response's size is known (fetchThrottle).
func (c *conn) throttleAfterHandler(p *pending, req kmsg.Request) time.Duration {
	if !c.srv.quotas.Enabled() || quotaExempt(p.header.key) {
		return 0
	}
	client := c.quotaClient(p.header)
	var t time.Duration
	if pr, ok := req.(*kmsg.ProduceRequest); ok {
		t = c.srv.quotas.Produce(client, p.requestBytes)
		if pr.Acks == 0 {
			return t
		}
	}
	return max(t, c.srv.quotas.RequestTime(client, p.handlerDone.Sub(p.handlerStart)))
}

// prepareResponse encodes a response about to be written, with its throttle time: the pending
// throttle (produce bytes, request time) or the handler's own (controller mutations, a throttled
// fetch), whichever is longer. It returns the bytes (in buf's storage) and that throttle; a
// Fetch response carrying batches comes back as pieces instead (fetch_encode.go), with buf's
// storage holding all but the batches.
func (c *conn) prepareResponse(p *pending, buf []byte) ([]byte, [][]byte, time.Duration) {
	throttle := p.throttle
	if tr, ok := p.resp.(kmsg.ThrottleResponse); ok {
		if ms, _ := tr.Throttle(); ms > 0 {
			throttle = max(throttle, time.Duration(ms)*time.Millisecond)
		}
	}
	if throttle > 0 {
		setThrottle(p.resp, throttle)
	}
	if fr, ok := p.resp.(*kmsg.FetchResponse); ok && responseSizeHint(fr) >= largeResponse {
		if head, pieces, ok := encodeFetchPieces(buf, p.header.correlationID, fr); ok {
			return head, pieces, throttle
		}
	}
	return appendResponse(responseBuffer(buf, p.resp)[:0], p.header.correlationID, p.resp), nil, throttle
}

// fetchThrottle counts a ready fetch's bytes against consumer_byte_rate and returns the throttle
// when the client is over that quota or over request_percentage; the bytes are then taken back,
// since a throttled fetch is answered empty.
func (c *conn) fetchThrottle(h requestHeader, bytes int64) time.Duration {
	q := c.srv.quotas
	if !q.Enabled() {
		return 0
	}
	client := c.quotaClient(h)
	bw := q.Fetch(client, int(min(bytes, int64(maxInt32))))
	req := q.RequestThrottled(client)
	if bw == 0 && req > 0 {
		q.UnrecordFetch(client, int(min(bytes, int64(maxInt32))))
	}
	return max(bw, req)
}

// throttledFetch is the empty answer a throttled fetch gets, as Kafka's fetch contexts give it:
// no partitions, the same session for an incremental fetch.
func throttledFetch(fr *kmsg.FetchResponse, throttle time.Duration) *kmsg.FetchResponse {
	out := kmsg.NewPtrFetchResponse()
	out.Version = fr.Version
	out.SessionID = fr.SessionID
	out.ErrorCode = fr.ErrorCode
	setThrottle(out, throttle)
	return out
}

func setThrottle(resp kmsg.Response, d time.Duration) {
	if st, ok := resp.(kmsg.SetThrottleResponse); ok {
		st.SetThrottle(int32(min(d.Milliseconds(), int64(maxInt32))))
	}
}

// mute stops the connection's reader until d from now (KIP-219).
func (c *conn) mute(d time.Duration) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(d).UnixNano()
	for {
		cur := c.mutedUntil.Load()
		if cur >= until || c.mutedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// waitUnmuted blocks the reader while the connection is muted, or until it closes or the broker
// starts draining.
func (c *conn) waitUnmuted() {
	if c.mutedUntil.Load() == 0 {
		return // never throttled: no clock read
	}
	for {
		d := time.Until(time.Unix(0, c.mutedUntil.Load()))
		if d <= 0 {
			return
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
		case <-c.srv.cluster.drain:
		}
		t.Stop()
		if c.ctx.Err() != nil || c.srv.draining.Load() {
			return
		}
	}
}

// mutationQuota applies controller_mutation_rate to one CreateTopics, CreatePartitions or
// DeleteTopics request (KIP-599). From the versions that know THROTTLING_QUOTA_EXCEEDED the quota
// is strict: a topic is refused while the client is over its rate. Older versions are permissive:
// everything is done and the client is throttled afterwards. validate_only changes nothing and is
// not counted.
type mutationQuota struct {
	c        *conn
	h        requestHeader
	strict   bool
	disabled bool
	throttle time.Duration
}

func (c *conn) mutationQuota(h requestHeader, strictFrom int16, validateOnly bool) *mutationQuota {
	return &mutationQuota{c: c, h: h, strict: h.version >= strictFrom, disabled: validateOnly}
}

// refuse returns THROTTLING_QUOTA_EXCEEDED for the next topic when the strict quota is exceeded.
func (m *mutationQuota) refuse() error {
	if m.disabled || !m.strict {
		return nil
	}
	d, over := m.c.srv.quotas.MutationThrottled(m.c.quotaClient(m.h))
	if !over {
		return nil
	}
	m.throttle = max(m.throttle, d)
	return newAPIError(kerr.ThrottlingQuotaExceeded, "the controller mutation quota is exceeded; retry in %d ms", d.Milliseconds())
}

// record counts n partitions created or deleted.
func (m *mutationQuota) record(n int) {
	if m.disabled || n <= 0 {
		return
	}
	m.throttle = max(m.throttle, m.c.srv.quotas.Mutations(m.c.quotaClient(m.h), n))
}

// throttleMillis is the request's throttle_time_ms.
func (m *mutationQuota) throttleMillis() int32 {
	return int32(min(m.throttle.Milliseconds(), int64(maxInt32)))
}
