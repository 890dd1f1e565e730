package broker

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch sessions (KIP-227). A session remembers the partitions a client fetches and what it was
// last told about each, so that incremental requests name only what changed and incremental
// responses carry only partitions with news. Sessions are not tied to a connection (a client
// may reconnect and continue); when the cache is full the least recently used session is evicted,
// and when none can be evicted the broker declines with session id 0, as Kafka may.

// sessionKey names a partition inside a session.
type sessionKey struct {
	topic     string
	topicID   [16]byte
	partition int32
}

// sessionPartition is what a session remembers of one partition: the client's fetch position,
// and the values last sent, to decide whether an incremental response must include it.
type sessionPartition struct {
	key                sessionKey
	fetchOffset        int64
	maxBytes           int32
	currentLeaderEpoch int32
	lastFetchedEpoch   int32

	sentHighWatermark  int64
	sentLastStable     int64
	sentLogStartOffset int64
}

type fetchSession struct {
	id      int32
	mu      sync.Mutex
	epoch   int32 // the epoch the next incremental request must carry
	usesIDs bool
	parts   map[sessionKey]*sessionPartition
	order   []sessionKey // insertion order; responses list partitions in it
	used    time.Time
}

type fetchSessionCache struct {
	mu       sync.Mutex
	slots    int
	sessions map[int32]*fetchSession
}

func newFetchSessionCache(slots int) *fetchSessionCache {
	return &fetchSessionCache{slots: slots, sessions: make(map[int32]*fetchSession)}
}

// create makes a new session, evicting the least recently used one if the cache is full.
// It returns nil when sessions are disabled (zero slots).
func (fc *fetchSessionCache) create(usesIDs bool) *fetchSession {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.slots <= 0 {
		return nil
	}
	if len(fc.sessions) >= fc.slots {
		var oldest *fetchSession
		for _, s := range fc.sessions {
			if oldest == nil || s.used.Before(oldest.used) {
				oldest = s
			}
		}
		delete(fc.sessions, oldest.id)
	}
	var id int32
	for id == 0 || fc.sessions[id] != nil {
		id = rand.Int32()
	}
	s := &fetchSession{id: id, epoch: 1, usesIDs: usesIDs, parts: make(map[sessionKey]*sessionPartition), used: time.Now()}
	fc.sessions[id] = s
	return s
}

func (fc *fetchSessionCache) get(id int32) *fetchSession {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	s := fc.sessions[id]
	if s != nil {
		s.used = time.Now()
	}
	return s
}

func (fc *fetchSessionCache) remove(id int32) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	delete(fc.sessions, id)
}

// dropConn exists so a connection's teardown has one place to release per-connection fetch
// state; sessions outlive connections, so there is nothing to do today.
func (fc *fetchSessionCache) dropConn(*conn) {}

// fetchPlan is what a Fetch request resolved to: the partitions to read, in order, and the
// session (if any) the response belongs to.
type fetchPlan struct {
	parts       []*sessionPartition
	session     *fetchSession // nil for a sessionless fetch
	incremental bool
	errCode     int16 // a top-level session error; nothing is read
}

// planFetch applies the session rules of KIP-227 to a request. It runs on the connection's
// reader goroutine, so session updates happen in request order.
func (s *Server) planFetch(h requestHeader, req *kmsg.FetchRequest) fetchPlan {
	usesIDs := h.version >= 13
	full := func() []*sessionPartition { return requestedPartitions(req, usesIDs) }
	if h.version < 7 {
		return fetchPlan{parts: full()}
	}
	id, epoch := req.SessionID, req.SessionEpoch
	switch {
	case epoch == -1: // sessionless full fetch; closes the named session if any
		if id != 0 {
			s.sessions.remove(id)
		}
		return fetchPlan{parts: full()}
	case epoch == 0: // full fetch opening a new session (closing the old one)
		if id != 0 {
			s.sessions.remove(id)
		}
		sess := s.sessions.create(usesIDs)
		parts := full()
		if sess != nil {
			for _, p := range parts {
				sess.add(p)
			}
		}
		return fetchPlan{parts: parts, session: sess}
	}
	sess := s.sessions.get(id)
	if sess == nil {
		return fetchPlan{errCode: kerr.FetchSessionIDNotFound.Code}
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	switch {
	case sess.epoch != epoch:
		return fetchPlan{errCode: kerr.InvalidFetchSessionEpoch.Code}
	case sess.usesIDs != usesIDs:
		return fetchPlan{errCode: kerr.FetchSessionTopicIDError.Code}
	}
	sess.epoch = nextSessionEpoch(sess.epoch)
	for _, p := range requestedPartitions(req, usesIDs) {
		if cur := sess.parts[p.key]; cur != nil {
			cur.fetchOffset, cur.maxBytes = p.fetchOffset, p.maxBytes
			cur.currentLeaderEpoch, cur.lastFetchedEpoch = p.currentLeaderEpoch, p.lastFetchedEpoch
		} else {
			sess.addLocked(p)
		}
	}
	for _, ft := range req.ForgottenTopics {
		for _, part := range ft.Partitions {
			k := sessionKey{partition: part}
			if usesIDs {
				k.topicID = ft.TopicID
			} else {
				k.topic = ft.Topic
			}
			sess.forgetLocked(k)
		}
	}
	parts := make([]*sessionPartition, 0, len(sess.order))
	for _, k := range sess.order {
		parts = append(parts, sess.parts[k])
	}
	return fetchPlan{parts: parts, session: sess, incremental: true}
}

func nextSessionEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}

func requestedPartitions(req *kmsg.FetchRequest, usesIDs bool) []*sessionPartition {
	var out []*sessionPartition
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			k := sessionKey{partition: rp.Partition}
			if usesIDs {
				k.topicID = rt.TopicID
			} else {
				k.topic = rt.Topic
			}
			out = append(out, &sessionPartition{
				key: k, fetchOffset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes,
				currentLeaderEpoch: rp.CurrentLeaderEpoch, lastFetchedEpoch: rp.LastFetchedEpoch,
				sentHighWatermark: -1, sentLastStable: -1, sentLogStartOffset: -1,
			})
		}
	}
	return out
}

func (fs *fetchSession) add(p *sessionPartition) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.addLocked(p)
}

func (fs *fetchSession) addLocked(p *sessionPartition) {
	if _, ok := fs.parts[p.key]; !ok {
		fs.order = append(fs.order, p.key)
	}
	fs.parts[p.key] = p
}

func (fs *fetchSession) forgetLocked(k sessionKey) {
	if _, ok := fs.parts[k]; !ok {
		return
	}
	delete(fs.parts, k)
	for i, o := range fs.order {
		if o == k {
			fs.order = append(fs.order[:i], fs.order[i+1:]...)
			break
		}
	}
}
