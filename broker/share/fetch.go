package share

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
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
// request must carry.
type session struct {
	next  int32
	parts []topicPartition
	conn  uint64 // the connection that used it last: closing that connection ends it
}

func (s *session) has(tp topicPartition) bool {
	for _, p := range s.parts {
		if p == tp {
			return true
		}
	}
	return false
}

// FetchOptions describe the connection a ShareFetch or ShareAcknowledge came on.
type FetchOptions struct {
	// Conn identifies the connection: when it closes, its share sessions end and the records
	// their members hold are released (ConnectionClosed).
	Conn uint64
}

// partAck is one partition's acknowledgements in a request.
type partAck struct {
	tp      topicPartition
	batches []ackBatch
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
	var acks []partAck
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) == 0 {
				continue
			}
			pa := partAck{tp: topicPartition{t.TopicID, p.Partition}}
			for _, b := range p.AcknowledgementBatches {
				pa.batches = append(pa.batches, ackBatch{b.FirstOffset, b.LastOffset, b.AcknowledgeTypes})
			}
			acks = append(acks, pa)
		}
	}
	sess, code, msg := c.openSession(groupID, memberID, req, len(acks) > 0, opts.Conn)
	if code != 0 {
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		return resp
	}
	out := newResponseBuilder(resp)
	for _, r := range c.acknowledge(ctx, groupID, memberID, acks, lim) {
		pr := out.partition(r.tp)
		pr.AcknowledgeErrorCode = r.code
		if r.msg != "" {
			pr.AcknowledgeErrorMessage = kmsg.StringPtr(r.msg)
		}
	}
	if req.ShareSessionEpoch == sessionFinal || (version >= 2 && req.IsRenewAck) {
		return resp // a closing session, or (KIP-1222) a request that only renews locks
	}
	budget := int(req.MaxRecords)
	if budget <= 0 {
		budget = 500
	}
	maxBytes := req.MaxBytes
	if maxBytes <= 0 || maxBytes > c.cfg.FetchMaxBytes {
		maxBytes = c.cfg.FetchMaxBytes
	}
	deadline := time.Now().Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	for {
		lim.strict = version >= 2 && req.ShareAcquireMode == 1 // record_limit: MaxRecords is exact
		got, waits := c.acquireAll(ctx, groupID, memberID, sess, budget, maxBytes, lim, out)
		if got > 0 || req.MaxWaitMillis <= 0 || !time.Now().Before(deadline) {
			return resp
		}
		// Nothing to hand out: wait for a log to grow or a lock to end, up to MaxWaitMillis.
		timer := time.NewTimer(time.Until(deadline))
		woken := make(chan struct{}, 1)
		stop := make(chan struct{})
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
		var expiryTimer *time.Timer
		if !waits.expiry.IsZero() {
			expiryTimer = time.NewTimer(time.Until(waits.expiry))
			expiry = expiryTimer.C
		}
		select {
		case <-woken:
		case <-expiry:
		case <-timer.C:
		case <-ctx.Done():
		}
		close(stop)
		timer.Stop()
		if expiryTimer != nil {
			expiryTimer.Stop()
		}
		if ctx.Err() != nil {
			return resp
		}
	}
}

func strOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// openSession applies the request's epoch to the member's share session (KIP-932): 0 opens a
// new one (acknowledgements are not allowed then), a positive epoch must be the session's next,
// and -1 closes it after this request. The partitions named join the session and the forgotten
// ones leave it.
func (c *Coordinator) openSession(groupID, memberID string, req *kmsg.ShareFetchRequest, hasAcks bool, conn uint64) (*session, int16, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, kerr.NotCoordinator.Code, "the coordinator is shutting down"
	}
	g := c.groups[groupID]
	if g == nil || g.members[memberID] == nil {
		return nil, kerr.UnknownMemberID.Code, "Member " + memberID + " is not a member of share group " + groupID + "."
	}
	key := sessionKey{groupID, memberID}
	s := c.sessions[key]
	switch epoch := req.ShareSessionEpoch; {
	case epoch == sessionOpen:
		if hasAcks {
			return nil, kerr.InvalidRequest.Code, "Acknowledge data is not allowed when opening a share session."
		}
		if s == nil && len(c.sessions) >= c.cfg.MaxShareSessions {
			return nil, kerr.ShareSessionLimitReached.Code, "The limit of share sessions (group.share.max.share.sessions) has been reached."
		}
		s = &session{}
		c.sessions[key] = s
	case s == nil:
		return nil, kerr.ShareSessionNotFound.Code, "The share session was not found."
	case epoch == sessionFinal:
		delete(c.sessions, key)
	case epoch != s.next:
		return nil, kerr.InvalidShareSessionEpoch.Code, "The share session epoch is invalid."
	}
	// Named partitions join first and forgotten ones leave after: a client names a partition
	// only to acknowledge it and forgets it in the same request.
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if tp := (topicPartition{t.TopicID, p.Partition}); !s.has(tp) {
				s.parts = append(s.parts, tp)
			}
		}
	}
	for _, f := range req.ForgottenTopicsData {
		for _, p := range f.Partitions {
			tp := topicPartition{f.TopicID, p}
			for i, have := range s.parts {
				if have == tp {
					s.parts = append(s.parts[:i], s.parts[i+1:]...)
					break
				}
			}
		}
	}
	s.conn = conn
	if req.ShareSessionEpoch != sessionFinal {
		s.next = nextEpoch(req.ShareSessionEpoch)
	}
	cp := &session{next: s.next, parts: append([]topicPartition(nil), s.parts...)}
	return cp, 0, ""
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

// acknowledge applies acknowledgements partition by partition and waits until the changed
// states are durable; a partition whose state could not be written answers its error.
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
		out[i].code, out[i].msg = p.acknowledgeLocked(memberID, a.batches, now, lim)
		if out[i].code == 0 {
			waits[i] = c.write(partitionEntry(p))
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
		return nil, kerr.UnknownTopicID.Code, "unknown topic id"
	}
	if tp.partition < 0 || tp.partition >= n {
		return nil, kerr.UnknownTopicOrPartition.Code, "unknown partition"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := partKey{groupID, name, tp.partition}
	p := c.parts[k]
	if p == nil {
		p = &partition{group: groupID, topic: name, index: tp.partition, start: c.initialStart(groupID, name, tp.partition)}
		c.parts[k] = p
		c.write(partitionEntry(p))
	}
	return p, 0, ""
}

// waitSet is what an empty fetch can wait on: the logs' growth and the earliest lock expiry.
type waitSet struct {
	logs   []<-chan struct{}
	expiry time.Time
}

// acquireAll acquires records for the session's partitions, in session order, and adds them
// to the response. It returns how many records it acquired and what to wait on if none.
func (c *Coordinator) acquireAll(ctx context.Context, groupID, memberID string, sess *session, budget int, maxBytes int32, lim limits, out *responseBuilder) (int, waitSet) {
	var ws waitSet
	total := 0
	now := c.cfg.Now()
	var writes []coordlog.Entry
	for _, tp := range sess.parts {
		p, code, msg := c.sharePartition(groupID, tp)
		if code != 0 {
			pr := out.partition(tp)
			pr.ErrorCode, pr.ErrorMessage = code, kmsg.StringPtr(msg)
			continue
		}
		p.mu.Lock()
		expired := p.expireLocked(now, lim)
		var a acquisition
		changed := false
		var err error
		if budget > 0 && maxBytes > 0 {
			a, changed, err = p.acquireLocked(c.logs, memberID, now, budget, maxBytes, lim)
		}
		if expired || changed {
			writes = append(writes, partitionEntry(p))
		}
		if t := p.nextExpiryLocked(); !t.IsZero() && (ws.expiry.IsZero() || t.Before(ws.expiry)) {
			ws.expiry = t
		}
		topic := p.topic
		index := p.index
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
		} else {
			ws.logs = append(ws.logs, c.logs.Wait(topic, index))
		}
	}
	if len(writes) > 0 {
		// Expired locks and archived records are written without holding the answer: they
		// change no promise made to a client.
		c.write(writes...)
	}
	return total, ws
}

// responseBuilder adds partitions to a ShareFetch response, one entry per partition.
type responseBuilder struct {
	resp  *kmsg.ShareFetchResponse
	index map[topicPartition][2]int
}

func newResponseBuilder(resp *kmsg.ShareFetchResponse) *responseBuilder {
	return &responseBuilder{resp: resp, index: make(map[topicPartition][2]int)}
}

func (b *responseBuilder) partition(tp topicPartition) *kmsg.ShareFetchResponseTopicPartition {
	if at, ok := b.index[tp]; ok {
		return &b.resp.Topics[at[0]].Partitions[at[1]]
	}
	ti := -1
	for i := range b.resp.Topics {
		if b.resp.Topics[i].TopicID == tp.topic {
			ti = i
			break
		}
	}
	if ti < 0 {
		b.resp.Topics = append(b.resp.Topics, kmsg.ShareFetchResponseTopic{TopicID: tp.topic})
		ti = len(b.resp.Topics) - 1
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
// the consumer with epoch -1), answered once durable.
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
	var acks []partAck
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			pa := partAck{tp: topicPartition{t.TopicID, p.Partition}}
			for _, b := range p.AcknowledgementBatches {
				pa.batches = append(pa.batches, ackBatch{b.FirstOffset, b.LastOffset, b.AcknowledgeTypes})
			}
			acks = append(acks, pa)
		}
	}
	for _, r := range c.acknowledge(ctx, groupID, memberID, acks, lim) {
		ti := -1
		for i := range resp.Topics {
			if resp.Topics[i].TopicID == r.tp.topic {
				ti = i
			}
		}
		if ti < 0 {
			resp.Topics = append(resp.Topics, kmsg.ShareAcknowledgeResponseTopic{TopicID: r.tp.topic})
			ti = len(resp.Topics) - 1
		}
		pr := kmsg.NewShareAcknowledgeResponseTopicPartition()
		pr.Partition, pr.ErrorCode = r.tp.partition, r.code
		if r.msg != "" {
			pr.ErrorMessage = kmsg.StringPtr(r.msg)
		}
		pr.CurrentLeader.LeaderID, pr.CurrentLeader.LeaderEpoch = -1, -1
		resp.Topics[ti].Partitions = append(resp.Topics[ti].Partitions, pr)
	}
	return resp
}

// ConnectionClosed ends the share sessions a closed connection used and releases the records
// their members hold, as Kafka does when a share session's connection goes away.
func (c *Coordinator) ConnectionClosed(ctx context.Context, conn uint64) {
	c.mu.Lock()
	var ended []sessionKey
	for k, s := range c.sessions {
		if s.conn == conn {
			ended = append(ended, k)
			delete(c.sessions, k)
		}
	}
	var entries []coordlog.Entry
	for _, k := range ended {
		lim := c.groupLimits(k.group)
		for pk, p := range c.parts {
			if pk.group != k.group {
				continue
			}
			p.mu.Lock()
			if p.releaseMemberLocked(k.member, lim) {
				entries = append(entries, partitionEntry(p))
			}
			p.mu.Unlock()
		}
	}
	wait := c.write(entries...)
	c.mu.Unlock()
	if err := wait(ctx); err != nil {
		c.logger.Warn("share coordinator: releasing a closed connection's records was not written", "err", err)
	}
}
