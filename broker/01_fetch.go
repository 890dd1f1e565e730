package broker

// Fetch (key 1), v4–v17.
//
// Long poll: the answer goes out at once when max_wait <= 0, when the readable bytes reach
// min_bytes, or on any partition error; otherwise the request waits for new data on any of its
// partitions until max_wait (or the broker drains). Size rules follow KIP-74: partitions are
// filled in request order, the response stops at max_bytes (capped by fetch.max.bytes), and the
// first partition with data returns at least one whole batch even if it exceeds the limits. The
// first batch returned is the one containing the fetch offset. read_uncommitted reads up to the
// high watermark; read_committed up to the last stable offset, which equals it until
// transactions land. high_watermark, last_stable_offset and log_start_offset are filled on every
// path, errors included; preferred_read_replica is always -1. Fetch sessions follow KIP-227
// (fetch_sessions.go). v13+ names topics by id. v12+ checks last_fetched_epoch against the
// leader-epoch history and answers a diverging epoch instead of records when they disagree.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/meta"
	"github.com/bulwark-kafka/bulwark/broker/stats"
)

func (s *Server) handleFetch(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.FetchRequest)
	plan := s.planFetch(h, req)
	if plan.errCode != 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = plan.errCode
		return respond(resp)
	}
	maxBytes := req.MaxBytes
	if maxBytes <= 0 || maxBytes > s.cfg.FetchMaxBytes {
		maxBytes = s.cfg.FetchMaxBytes
	}
	// Under a consumer quota a fetch returns at most what the quota allows over its window, as
	// Kafka does, so a large max_bytes cannot make every fetch over quota (and answered empty).
	if quotaMax := s.quotas.FetchMaxBytes(c.quotaClient(h)); quotaMax >= 0 && int64(maxBytes) > quotaMax {
		maxBytes = int32(max(quotaMax, 1))
	}
	minBytes := min(max(req.MinBytes, 0), maxBytes)
	f := &fetchRun{s: s, c: c, h: h, req: req, plan: plan, maxBytes: maxBytes, minBytes: minBytes}
	f.tallies = f.tallyBuf[:0]
	f.denied = s.fetchDenials(c, h, plan)

	// Try once on the reader goroutine: most fetches either have data or do not wait.
	wake := f.waitChannels()
	resp, total, errored := f.read()
	if req.MaxWaitMillis <= 0 || total >= int64(minBytes) || errored || len(plan.parts) == 0 {
		return respond(f.finish(resp, total))
	}
	deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	return reply{later: func(ctx context.Context) kmsg.Response {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		for {
			if !waitAny(ctx, wake, timer.C, s.cluster.drain) {
				resp, total, _ = f.read()
				return f.finish(resp, total)
			}
			wake = f.waitChannels()
			resp, total, errored = f.read()
			if total >= int64(minBytes) || errored {
				return f.finish(resp, total)
			}
		}
	}}
}

// waitAny blocks until one of the partition channels fires (true), or the timer, the context or
// the drain channel does (false).
func waitAny(ctx context.Context, wake []<-chan struct{}, timer <-chan time.Time, drain <-chan struct{}) bool {
	// One goroutine-free select over a dynamic set would need reflect; the common case is a few
	// partitions, so fan in through a small merge channel instead.
	merged := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, w := range wake {
		go func(w <-chan struct{}) {
			select {
			case <-w:
				select {
				case merged <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}(w)
	}
	select {
	case <-merged:
		return true
	case <-timer:
	case <-ctx.Done():
	case <-drain:
	}
	return false
}

// fetchRun is one Fetch request being answered, possibly over several reads while it waits.
type fetchRun struct {
	s        *Server
	c        *conn
	h        requestHeader
	req      *kmsg.FetchRequest
	plan     fetchPlan
	maxBytes int32
	minBytes int32
	// denied are the topics the principal may not READ (nil: none): their partitions answer
	// TOPIC_AUTHORIZATION_FAILED, every fetch of the session, as Kafka re-checks each request.
	denied map[string]bool
	// tallies are what the last read took from each existing partition, counted into its topic's
	// metrics once the response is final (a long poll reads more than once). tallyBuf holds
	// them for fetches of up to eight partitions without another allocation.
	tallies  []fetchTally
	tallyBuf [8]fetchTally
}

// fetchTally is one partition's part of a fetch, for BrokerTopicMetrics.
type fetchTally struct {
	counters *stats.Topic
	bytes    int
	failed   bool
}

// fetchDenials authorizes READ on every topic the fetch (with its session) covers, in one batch.
// A topic id that names no topic is left to UNKNOWN_TOPIC_ID: there is nothing to authorize.
func (s *Server) fetchDenials(c *conn, h requestHeader, plan fetchPlan) map[string]bool {
	az := s.newAuthBatch(c, h)
	if az == nil {
		return nil
	}
	names := make([]string, 0, len(plan.parts))
	for _, sp := range plan.parts {
		name := sp.key.topic
		if h.version >= 13 {
			t := s.cluster.lookupTopicID(meta.TopicID(sp.key.topicID))
			if t == nil {
				continue
			}
			name = t.name
		}
		names = append(names, name)
		az.add(authz.OpRead, authz.Topic(name), false)
	}
	var denied map[string]bool
	for _, n := range names {
		if !az.topicOK(authz.OpRead, n) {
			if denied == nil {
				denied = map[string]bool{}
			}
			denied[n] = true
		}
	}
	return denied
}

// waitChannels returns, before reading, a wake-up channel per readable partition, so data
// appended between the read and the wait is never missed.
func (f *fetchRun) waitChannels() []<-chan struct{} {
	var out []<-chan struct{}
	for _, sp := range f.plan.parts {
		if _, p := f.resolve(sp.key); p != nil {
			out = append(out, p.log.Wait())
		}
	}
	return out
}

func (f *fetchRun) resolve(k sessionKey) (*topic, *partition) {
	var t *topic
	if f.h.version >= 13 {
		t = f.s.cluster.lookupTopicID(meta.TopicID(k.topicID))
	} else {
		t = f.s.cluster.lookupTopic(k.topic)
	}
	if t == nil {
		return nil, nil
	}
	return t, t.partition(k.partition)
}

// read builds a response from the current state of every planned partition. It reports the
// bytes of records it holds and whether any partition carries an error.
func (f *fetchRun) read() (*kmsg.FetchResponse, int64, bool) {
	resp := f.req.ResponseKind().(*kmsg.FetchResponse)
	if f.plan.session != nil {
		resp.SessionID = f.plan.session.id
	}
	var total int64
	errored := false
	budget := int64(f.maxBytes)
	f.tallies = f.tallies[:0]
	for _, sp := range f.plan.parts {
		rp := f.readPartition(sp, &budget, total == 0)
		total += int64(len(rp.RecordBatches))
		if rp.ErrorCode != 0 {
			errored = true
		}
		if f.plan.incremental && !sp.newsIn(&rp) {
			continue
		}
		appendFetchPartition(resp, sp.key, f.h.version, rp)
	}
	return resp, total, errored
}

func appendFetchPartition(resp *kmsg.FetchResponse, k sessionKey, version int16, rp kmsg.FetchResponseTopicPartition) {
	n := len(resp.Topics)
	if n == 0 || (version >= 13 && resp.Topics[n-1].TopicID != k.topicID) || (version < 13 && resp.Topics[n-1].Topic != k.topic) {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = k.topic, k.topicID
		resp.Topics = append(resp.Topics, rt)
		n++
	}
	resp.Topics[n-1].Partitions = append(resp.Topics[n-1].Partitions, rp)
}

// newsIn reports whether an incremental response must carry this partition: records, an error,
// or a high watermark, last stable or log start offset that changed since it was last sent.
func (sp *sessionPartition) newsIn(rp *kmsg.FetchResponseTopicPartition) bool {
	return len(rp.RecordBatches) > 0 || rp.ErrorCode != 0 || rp.HighWatermark != sp.sentHighWatermark ||
		rp.LastStableOffset != sp.sentLastStable || rp.LogStartOffset != sp.sentLogStartOffset ||
		rp.DivergingEpoch.Epoch != -1
}

func (f *fetchRun) readPartition(sp *sessionPartition, budget *int64, first bool) kmsg.FetchResponseTopicPartition {
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.Partition = sp.key.partition
	// Kafka never sends null records; librdkafka rejects a -1 size as a parse failure.
	rp.RecordBatches = []byte{}
	t, p := f.resolve(sp.key)
	if f.denied != nil {
		name := sp.key.topic
		if t != nil {
			name = t.name
		}
		if f.denied[name] {
			rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			return rp
		}
	}
	if p == nil {
		rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		if f.h.version >= 13 && t == nil {
			rp.ErrorCode = kerr.UnknownTopicID.Code
		}
		return rp
	}
	if f.s.stats != nil {
		defer func() {
			f.tallies = append(f.tallies, fetchTally{p.counters, len(rp.RecordBatches), rp.ErrorCode != 0})
		}()
	}
	hwm := p.log.HighWatermark()
	lso := min(p.log.LastStableOffset(), hwm)
	rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = hwm, lso, p.log.LogStartOffset()
	readCommitted := f.req.IsolationLevel == 1
	upTo := hwm
	if readCommitted {
		rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
		upTo = lso
	}
	if code := checkLeaderEpoch(sp.currentLeaderEpoch, p.leaderEpoch); code != 0 {
		rp.ErrorCode = code
		return rp
	}
	if f.h.version >= 12 && sp.lastFetchedEpoch >= 0 {
		epoch, end := p.log.EndOffsetForEpoch(sp.lastFetchedEpoch)
		if epoch != sp.lastFetchedEpoch || end < sp.fetchOffset {
			rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = epoch, end
			return rp
		}
	}
	limit := min(int64(sp.maxBytes), *budget)
	if limit <= 0 && !first {
		return rp
	}
	data, err := p.log.Read(sp.fetchOffset, int32(max(limit, 0)), upTo, first)
	switch {
	case errors.Is(err, plog.ErrOffsetOutOfRange):
		rp.ErrorCode = kerr.OffsetOutOfRange.Code
		return rp
	case err != nil:
		f.s.logger.Error("fetch read failed", "topic", p.topicName, "partition", p.index, "err", err)
		rp.ErrorCode = kerr.KafkaStorageError.Code
		return rp
	}
	if len(data) > 0 {
		rp.RecordBatches = data
		if readCommitted {
			for _, a := range p.log.AbortedTxns(sp.fetchOffset, upTo) {
				rp.AbortedTransactions = append(rp.AbortedTransactions, kmsg.FetchResponseTopicPartitionAbortedTransaction{
					ProducerID: a.ProducerID, FirstOffset: a.FirstOffset})
			}
		}
	}
	*budget -= int64(len(data))
	return rp
}

// checkLeaderEpoch fences a request that names a leader epoch (-1: none) other than the current.
func checkLeaderEpoch(requested, current int32) int16 {
	switch {
	case requested < 0 || requested == current:
		return 0
	case requested > current:
		return kerr.UnknownLeaderEpoch.Code
	default:
		return kerr.FencedLeaderEpoch.Code
	}
}

// commit records, for an incremental session, what the response told the client.
// finish applies the client's consumer quotas to a ready response: over consumer_byte_rate or
// request_percentage, the fetch is answered empty with the throttle time and its bytes are not
// counted, and the fetch session is left as it was (Kafka's getThrottledResponse), so nothing the
// client did not receive is recorded as sent. Otherwise the session is updated and the response
// goes out.
func (f *fetchRun) finish(resp *kmsg.FetchResponse, bytes int64) *kmsg.FetchResponse {
	if t := f.c.fetchThrottle(f.h, bytes); t > 0 {
		f.count(true)
		return throttledFetch(resp, t)
	}
	f.commit(resp)
	f.count(false)
	return resp
}

// count adds the final read to BrokerTopicMetrics: a fetch request per partition, and the bytes
// sent unless the response was throttled (and so sent empty). Consecutive partitions of one topic
// are summed first, so the shared counters take one add per topic.
func (f *fetchRun) count(throttled bool) {
	var sum stats.FetchTally
	var cur *stats.Topic
	for i, r := range f.tallies {
		if i > 0 && r.counters != cur {
			f.s.stats.Fetched(cur, &sum)
			sum = stats.FetchTally{}
		}
		cur = r.counters
		sum.Parts++
		if !throttled {
			sum.Bytes += uint64(r.bytes)
		}
		if r.failed {
			sum.Failed++
		}
	}
	f.s.stats.Fetched(cur, &sum)
}

// fetchFailed reports whether a partition's fetch error is one Kafka counts in
// FailedFetchRequests: not the expected ones (offset out of range, fenced or unknown leader
// epochs, unknown partitions, storage errors), which ReplicaManager.readFromLocalLog leaves out.
func fetchFailed(code int16) bool {
	switch code {
	case 0, kerr.OffsetOutOfRange.Code, kerr.FencedLeaderEpoch.Code, kerr.UnknownLeaderEpoch.Code,
		kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicID.Code, kerr.NotLeaderForPartition.Code,
		kerr.KafkaStorageError.Code, kerr.InconsistentTopicID.Code:
		return false
	}
	return true
}

func (f *fetchRun) commit(resp *kmsg.FetchResponse) {
	sess := f.plan.session
	if sess == nil {
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			k := sessionKey{partition: rp.Partition}
			if f.h.version >= 13 {
				k.topicID = rt.TopicID
			} else {
				k.topic = rt.Topic
			}
			if sp := sess.parts[k]; sp != nil {
				sp.sentHighWatermark, sp.sentLastStable, sp.sentLogStartOffset = rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset
			}
		}
	}
}
