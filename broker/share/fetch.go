package share

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share-session epochs (KIP-932): 0 opens a session, -1 closes it; the epochs in between count
// the requests of an open session.
const (
	sessionOpen  int32 = 0
	sessionFinal int32 = -1
)

type sessionKey struct{ group, member string }

// topicPartition names a partition by topic id, as share sessions do.
type topicPartition struct {
	topic     [16]byte
	partition int32
}

// session is one member's share session: the partitions it fetches and the epoch its next
// request must carry. Only partitions of existing topics join it, so its size is bounded by the
// cluster's partitions.
type session struct {
	next  int32
	parts map[topicPartition]struct{}
	conn  uint64 // the connection that used it last: closing that connection ends it
}

// FetchOptions describe the connection a ShareFetch or ShareAcknowledge came on.
type FetchOptions struct {
	// Conn identifies the connection: when it closes, its share sessions end and the records
	// their members hold are released (ConnectionClosed).
	Conn uint64
	// Denied are the topics the principal may not READ: their partitions are answered
	// TOPIC_AUTHORIZATION_FAILED and never fetched or acknowledged, whether named in this
	// request or already in the session (an ACL can be revoked while a session lives).
	Denied map[[16]byte]bool
}

// partAck is one partition's acknowledgements in a request.
type partAck struct {
	tp      topicPartition
	batches []ackBatch
}

// partError is a partition answered with an error instead of data.
type partError struct {
	tp   topicPartition
	code int16
	msg  string
}

// SessionTopics lists the topics of a member's share session, so the broker can authorize them
// all before a fetch.
func (c *Coordinator) SessionTopics(group, member string) [][16]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[sessionKey{group, member}]
	if s == nil {
		return nil
	}
	seen := map[[16]byte]bool{}
	var out [][16]byte
	for tp := range s.parts {
		if !seen[tp.topic] {
			seen[tp.topic] = true
			out = append(out, tp.topic)
		}
	}
	return out
}

// Fetch serves ShareFetch: it updates the member's share session, applies the acknowledgements
// it carries (answered only once durable), and unless the session is closing acquires records
// for the session's partitions, waiting up to MaxWaitMillis for some to arrive.
func (c *Coordinator) Fetch(ctx context.Context, version int16, req *kmsg.ShareFetchRequest, opts FetchOptions) *kmsg.ShareFetchResponse {
	resp := req.ResponseKind().(*kmsg.ShareFetchResponse)
	groupID, memberID := strOr(req.GroupID), strOr(req.MemberID)
	lim := c.groupLimits(groupID)
	lim.allowRenewAcks = version >= 2
	resp.AcquisitionLockTimeoutMillis = int32(lim.lock.Milliseconds())
	out := newResponseBuilder(resp)
	var acks []partAck
	hasAcks := false
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tp := topicPartition{t.TopicID, p.Partition}
			if len(p.AcknowledgementBatches) == 0 {
				continue
			}
			hasAcks = true
			if opts.Denied[t.TopicID] {
				continue // answered below with the partition's authorization error
			}
			pa := partAck{tp: tp}
			for _, b := range p.AcknowledgementBatches {
				pa.batches = append(pa.batches, ackBatch{b.FirstOffset, b.LastOffset, b.AcknowledgeTypes})
			}
			acks = append(acks, pa)
		}
	}
	sess, bad, code, msg := c.openSession(groupID, memberID, req, hasAcks, opts)
	if code != 0 {
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		return resp
	}
	for _, e := range bad {
		pr := out.partition(e.tp)
		pr.ErrorCode, pr.ErrorMessage = e.code, kmsg.StringPtr(e.msg)
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				if t.TopicID == e.tp.topic && p.Partition == e.tp.partition && len(p.AcknowledgementBatches) > 0 {
					pr.AcknowledgeErrorCode = e.code
				}
			}
		}
	}
	for _, r := range c.acknowledge(ctx, groupID, memberID, acks, lim) {
		pr := out.partition(r.tp)
		pr.AcknowledgeErrorCode = r.code
		if r.msg != "" {
			pr.AcknowledgeErrorMessage = kmsg.StringPtr(r.msg)
		}
	}
	if req.ShareSessionEpoch == sessionFinal {
		c.releaseSession(ctx, groupID, memberID, sess, lim)
		return resp
	}
	if version >= 2 && req.IsRenewAck {
		return resp // KIP-1222: a request that only renews locks fetches nothing
	}
	budget := int(req.MaxRecords)
	if budget <= 0 {
		budget = 500
	}
	maxBytes := req.MaxBytes
	if maxBytes <= 0 || maxBytes > c.cfg.FetchMaxBytes {
		maxBytes = c.cfg.FetchMaxBytes
	}
	lim.strict = version >= 2 && req.ShareAcquireMode == 1 // record_limit: MaxRecords is exact
	deadline := time.Now().Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	for {
		got, waits := c.acquireAll(groupID, memberID, sess, budget, maxBytes, lim, opts.Denied, out)
		if got > 0 || req.MaxWaitMillis <= 0 || !time.Now().Before(deadline) {
			return resp
		}
		if !waitForRecords(ctx, deadline, waits) {
			return resp
		}
	}
}

// waitForRecords waits until a log grows, a lock ends or the deadline passes; false when ctx
// ended.
func waitForRecords(ctx context.Context, deadline time.Time, waits waitSet) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	woken := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, w := range waits.logs {
		go func(ch <-chan struct{}) {
			select {
			case <-ch:
				select {
				case woken <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}(w)
	}
	var expiry <-chan time.Time
	if !waits.expiry.IsZero() {
		t := time.NewTimer(time.Until(waits.expiry))
		defer t.Stop()
		expiry = t.C
	}
	select {
	case <-woken:
	case <-expiry:
	case <-timer.C:
	case <-ctx.Done():
		return false
	}
	return true
}

func strOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// openSession applies the request's epoch to the member's share session (KIP-932): 0 opens a
// new one (acknowledgements are not allowed then), a positive epoch must be the session's next,
// and -1 closes it after this request. The partitions named join the session first and the
// forgotten ones leave it after (a client names a partition only to acknowledge it and forgets
// it in the same request). Partitions of unknown or refused topics do not join: they are
// returned to be answered with their error. It returns a copy of the session.
func (c *Coordinator) openSession(groupID, memberID string, req *kmsg.ShareFetchRequest, hasAcks bool, opts FetchOptions) (*session, []partError, int16, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, kerr.NotCoordinator.Code, "the coordinator is shutting down"
	}
	g := c.groups[groupID]
	if g == nil || g.members[memberID] == nil {
		return nil, nil, kerr.UnknownMemberID.Code, "Member " + memberID + " is not a member of share group " + groupID + "."
	}
	key := sessionKey{groupID, memberID}
	s := c.sessions[key]
	switch epoch := req.ShareSessionEpoch; {
	case epoch == sessionOpen:
		if hasAcks {
			return nil, nil, kerr.InvalidRequest.Code, "Acknowledge data is not allowed when opening a share session."
		}
		if s == nil && len(c.sessions) >= c.cfg.MaxShareSessions {
			return nil, nil, kerr.ShareSessionLimitReached.Code, "The limit of share sessions (group.share.max.share.sessions) has been reached."
		}
		s = &session{parts: make(map[topicPartition]struct{})}
		c.sessions[key] = s
	case s == nil:
		return nil, nil, kerr.ShareSessionNotFound.Code, "The share session was not found."
	case epoch == sessionFinal:
		delete(c.sessions, key)
	case epoch != s.next:
		return nil, nil, kerr.InvalidShareSessionEpoch.Code, "The share session epoch is invalid."
	}
	var bad []partError
	for _, t := range req.Topics {
		_, n, known := c.logs.TopicByID(t.TopicID)
		for _, p := range t.Partitions {
			tp := topicPartition{t.TopicID, p.Partition}
			switch {
			case opts.Denied[t.TopicID]:
				bad = append(bad, partError{tp, kerr.TopicAuthorizationFailed.Code, "Not authorized to read the topic."})
			case !known:
				bad = append(bad, partError{tp, kerr.UnknownTopicID.Code, "This server does not host this topic ID."})
			case p.Partition < 0 || p.Partition >= n:
				bad = append(bad, partError{tp, kerr.UnknownTopicOrPartition.Code, "This server does not host this topic-partition."})
			default:
				s.parts[tp] = struct{}{}
			}
		}
	}
	for _, f := range req.ForgottenTopicsData {
		for _, p := range f.Partitions {
			delete(s.parts, topicPartition{f.TopicID, p})
		}
	}
	s.conn = opts.Conn
	if req.ShareSessionEpoch != sessionFinal {
		s.next = nextEpoch(req.ShareSessionEpoch)
	}
	cp := &session{next: s.next, parts: make(map[topicPartition]struct{}, len(s.parts))}
	for tp := range s.parts {
		cp.parts[tp] = struct{}{}
	}
	return cp, bad, 0, ""
}

func nextEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}

type ackResult struct {
	tp   topicPartition
	code int16
	msg  string
}

// acknowledge applies acknowledgements partition by partition, each written to the journal
// under the partition's lock (undone if the journal refuses it), and waits until they are
// durable; a partition whose state could not be written answers its error.
func (c *Coordinator) acknowledge(ctx context.Context, groupID, memberID string, acks []partAck, lim limits) []ackResult {
	if len(acks) == 0 {
		return nil
	}
	out := make([]ackResult, len(acks))
	waits := make([]func(context.Context) error, len(acks))
	now := c.cfg.Now()
	for i, a := range acks {
		out[i].tp = a.tp
		p, code, msg := c.sharePartition(groupID, a.tp)
		if code != 0 {
			out[i].code, out[i].msg = code, msg
			continue
		}
		p.mu.Lock()
		if p.removed {
			out[i].code, out[i].msg = kerr.InvalidRecordState.Code, errRemoved.Error()
		} else {
			before := p.snapshotLocked()
			out[i].code, out[i].msg = p.acknowledgeLocked(memberID, a.batches, now, lim)
			if out[i].code == 0 {
				w, err := c.persistLocked(p)
				if err != nil {
					p.restoreLocked(before)
					c.logger.Error("share coordinator: acknowledgement not written", "group", groupID, "topic", p.topic, "partition", p.index, "err", err)
					out[i].code, out[i].msg = kerr.CoordinatorNotAvailable.Code, "the acknowledgement could not be written"
				} else {
					waits[i] = w
				}
			}
		}
		p.mu.Unlock()
	}
	for i, w := range waits {
		if w != nil {
			if err := w(ctx); err != nil {
				out[i].code, out[i].msg = kerr.CoordinatorNotAvailable.Code, "the acknowledgement could not be written"
			}
		}
	}
	return out
}

// sharePartition finds a share partition of the group, creating its state (from
// share.auto.offset.reset) if the group never consumed it.
func (c *Coordinator) sharePartition(groupID string, tp topicPartition) (*partition, int16, string) {
	name, n, ok := c.logs.TopicByID(tp.topic)
	if !ok {
		return nil, kerr.UnknownTopicID.Code, "This server does not host this topic ID."
	}
	if tp.partition < 0 || tp.partition >= n {
		return nil, kerr.UnknownTopicOrPartition.Code, "This server does not host this topic-partition."
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := partKey{groupID, name, tp.partition}
	p := c.parts[k]
	if p == nil {
		p = &partition{group: groupID, topic: name, index: tp.partition, start: c.initialStart(groupID, name, tp.partition)}
		c.putPartLocked(k, p)
		c.write(partitionEntry(p))
	}
	return p, 0, ""
}

// waitSet is what an empty fetch can wait on: the logs' growth and the earliest lock expiry.
type waitSet struct {
	logs   []<-chan struct{}
	expiry time.Time
}

// acquireAll acquires records for the session's partitions and adds them to the response. It
// returns how many records it acquired and what to wait on if none. State changes that are not
// acknowledgements (expired locks, archived records) are written without holding the answer:
// they change no promise made to a client.
func (c *Coordinator) acquireAll(groupID, memberID string, sess *session, budget int, maxBytes int32, lim limits, denied map[[16]byte]bool, out *responseBuilder) (int, waitSet) {
	var ws waitSet
	total := 0
	now := c.cfg.Now()
	for tp := range sess.parts {
		if denied[tp.topic] {
			pr := out.partition(tp)
			pr.ErrorCode, pr.ErrorMessage = kerr.TopicAuthorizationFailed.Code, kmsg.StringPtr("Not authorized to read the topic.")
			continue
		}
		p, code, msg := c.sharePartition(groupID, tp)
		if code != 0 {
			pr := out.partition(tp)
			pr.ErrorCode, pr.ErrorMessage = code, kmsg.StringPtr(msg)
			continue
		}
		p.mu.Lock()
		if p.removed {
			p.mu.Unlock()
			continue // reset under us: the next fetch sees the new state
		}
		expired := p.expireLocked(now, lim)
		var a acquisition
		changed := false
		var err error
		if budget > 0 && maxBytes > 0 {
			a, changed, err = p.acquireLocked(c.logs, memberID, now, budget, maxBytes, lim)
		}
		if expired || changed {
			if _, werr := c.persistLocked(p); werr != nil && werr != errRemoved {
				c.logger.Error("share coordinator: state not written", "group", groupID, "topic", p.topic, "partition", p.index, "err", werr)
			}
		}
		if t := p.nextExpiryLocked(); !t.IsZero() && (ws.expiry.IsZero() || t.Before(ws.expiry)) {
			ws.expiry = t
		}
		topic, index := p.topic, p.index
		p.mu.Unlock()
		if err != nil {
			pr := out.partition(tp)
			pr.ErrorCode, pr.ErrorMessage = kerr.KafkaStorageError.Code, kmsg.StringPtr(err.Error())
			continue
		}
		if a.count > 0 {
			pr := out.partition(tp)
			pr.Records, pr.AcquiredRecords = a.records, a.acquired
			total += a.count
			budget -= a.count
			maxBytes -= int32(len(a.records))
		} else if w := c.logs.Wait(topic, index); w != nil {
			ws.logs = append(ws.logs, w)
		}
	}
	return total, ws
}

// releaseSession releases what the member holds in a closed session's partitions (KIP-932: a
// final request ends the session and gives back its records).
func (c *Coordinator) releaseSession(ctx context.Context, groupID, memberID string, sess *session, lim limits) {
	c.mu.Lock()
	var parts []*partition
	for tp := range sess.parts {
		if name, _, ok := c.logs.TopicByID(tp.topic); ok {
			if p := c.parts[partKey{groupID, name, tp.partition}]; p != nil {
				parts = append(parts, p)
			}
		}
	}
	waits := c.releaseLocked(memberID, parts, lim)
	c.mu.Unlock()
	if err := chain(waits...)(ctx); err != nil {
		c.logger.Warn("share coordinator: releasing a closed session's records was not written", "err", err)
	}
}

// responseBuilder adds partitions to a ShareFetch response, one entry per partition.
type responseBuilder struct {
	resp   *kmsg.ShareFetchResponse
	topics map[[16]byte]int
	index  map[topicPartition][2]int
}

func newResponseBuilder(resp *kmsg.ShareFetchResponse) *responseBuilder {
	return &responseBuilder{resp: resp, topics: make(map[[16]byte]int), index: make(map[topicPartition][2]int)}
}

func (b *responseBuilder) partition(tp topicPartition) *kmsg.ShareFetchResponseTopicPartition {
	if at, ok := b.index[tp]; ok {
		return &b.resp.Topics[at[0]].Partitions[at[1]]
	}
	ti, ok := b.topics[tp.topic]
	if !ok {
		b.resp.Topics = append(b.resp.Topics, kmsg.ShareFetchResponseTopic{TopicID: tp.topic})
		ti = len(b.resp.Topics) - 1
		b.topics[tp.topic] = ti
	}
	pr := kmsg.NewShareFetchResponseTopicPartition()
	pr.Partition = tp.partition
	// No leader hint (-1): this broker leads every partition; a hint would move the client.
	pr.CurrentLeader.LeaderID, pr.CurrentLeader.LeaderEpoch = -1, -1
	b.resp.Topics[ti].Partitions = append(b.resp.Topics[ti].Partitions, pr)
	b.index[tp] = [2]int{ti, len(b.resp.Topics[ti].Partitions) - 1}
	return &b.resp.Topics[ti].Partitions[len(b.resp.Topics[ti].Partitions)-1]
}

// Acknowledge serves ShareAcknowledge: acknowledgements outside a fetch (a commit, or closing
// the consumer with epoch -1, which also releases what the member still holds), answered once
// durable.
func (c *Coordinator) Acknowledge(ctx context.Context, version int16, req *kmsg.ShareAcknowledgeRequest, opts FetchOptions) *kmsg.ShareAcknowledgeResponse {
	resp := req.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
	groupID, memberID := strOr(req.GroupID), strOr(req.MemberID)
	lim := c.groupLimits(groupID)
	lim.allowRenewAcks = version >= 2
	resp.AcquisitionLockTimeoutMillis = int32(lim.lock.Milliseconds())
	c.mu.Lock()
	code, msg := int16(0), ""
	key := sessionKey{groupID, memberID}
	s := c.sessions[key]
	var closing *session
	switch {
	case c.closed:
		code, msg = kerr.NotCoordinator.Code, "the coordinator is shutting down"
	case c.groups[groupID] == nil || c.groups[groupID].members[memberID] == nil:
		code, msg = kerr.UnknownMemberID.Code, "Member "+memberID+" is not a member of share group "+groupID+"."
	case req.ShareSessionEpoch == sessionOpen:
		code, msg = kerr.InvalidShareSessionEpoch.Code, "ShareAcknowledge cannot open a share session."
	case s == nil:
		code, msg = kerr.ShareSessionNotFound.Code, "The share session was not found."
	case req.ShareSessionEpoch == sessionFinal:
		delete(c.sessions, key)
		closing = s
	case req.ShareSessionEpoch != s.next:
		code, msg = kerr.InvalidShareSessionEpoch.Code, "The share session epoch is invalid."
	default:
		s.next, s.conn = nextEpoch(s.next), opts.Conn
	}
	c.mu.Unlock()
	if code != 0 {
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		return resp
	}
	topics := map[[16]byte]int{}
	add := func(tp topicPartition, code int16, msg string) {
		ti, ok := topics[tp.topic]
		if !ok {
			resp.Topics = append(resp.Topics, kmsg.ShareAcknowledgeResponseTopic{TopicID: tp.topic})
			ti = len(resp.Topics) - 1
			topics[tp.topic] = ti
		}
		pr := kmsg.NewShareAcknowledgeResponseTopicPartition()
		pr.Partition, pr.ErrorCode = tp.partition, code
		if msg != "" {
			pr.ErrorMessage = kmsg.StringPtr(msg)
		}
		pr.CurrentLeader.LeaderID, pr.CurrentLeader.LeaderEpoch = -1, -1
		resp.Topics[ti].Partitions = append(resp.Topics[ti].Partitions, pr)
	}
	var acks []partAck
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tp := topicPartition{t.TopicID, p.Partition}
			if opts.Denied[t.TopicID] {
				add(tp, kerr.TopicAuthorizationFailed.Code, "Not authorized to read the topic.")
				continue
			}
			pa := partAck{tp: tp}
			for _, b := range p.AcknowledgementBatches {
				pa.batches = append(pa.batches, ackBatch{b.FirstOffset, b.LastOffset, b.AcknowledgeTypes})
			}
			acks = append(acks, pa)
		}
	}
	for _, r := range c.acknowledge(ctx, groupID, memberID, acks, lim) {
		add(r.tp, r.code, r.msg)
	}
	if closing != nil {
		c.releaseSession(ctx, groupID, memberID, closing, lim)
	}
	return resp
}

// ConnectionClosed ends the share sessions a closed connection used and releases the records
// their members hold in them, as Kafka does when a share session's connection goes away.
func (c *Coordinator) ConnectionClosed(ctx context.Context, conn uint64) {
	type ended struct {
		key  sessionKey
		sess *session
	}
	c.mu.Lock()
	var gone []ended
	for k, s := range c.sessions {
		if s.conn == conn {
			gone = append(gone, ended{k, s})
			delete(c.sessions, k)
		}
	}
	c.mu.Unlock()
	for _, e := range gone {
		c.releaseSession(ctx, e.key.group, e.key.member, e.sess, c.groupLimits(e.key.group))
	}
}
