package meta

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// TopicID identifies a topic for its whole life, as Kafka's topic id does: random, non-zero and
// never reused, so a directory or a client's cached id from a deleted topic cannot be confused with
// a new topic of the same name. The bytes are a version 4 UUID.
type TopicID [16]byte

// NewTopicID returns a fresh random topic id. Like Kafka's Uuid.randomUuid it never returns the
// zero id and never one whose string form starts with '-' (which command-line tools would take for
// a flag).
func NewTopicID() TopicID { return TopicID(newUUID()) }

// newUUID returns a random version 4 UUID whose base64url form does not start with '-'.
func newUUID() [16]byte {
	for {
		var u [16]byte
		_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (it aborts the program instead).
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		if base64.RawURLEncoding.EncodeToString(u[:])[0] != '-' {
			return u
		}
	}
}

// newClusterID returns a cluster id in Kafka's form: a random UUID in 22 characters of base64url.
func newClusterID() string {
	u := newUUID()
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// String returns the id in Kafka's form: 22 characters of unpadded base64url.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// IsZero reports whether id is the zero id, which Kafka uses for "no id".
func (id TopicID) IsZero() bool { return id == TopicID{} }

// ParseTopicID parses the 22-character base64url form String returns.
func ParseTopicID(s string) (TopicID, error) {
	var id TopicID
	if len(s) != 22 {
		return id, fmt.Errorf("%w: topic id %q is not 22 characters", ErrInvalidRecord, s)
	}
	n, err := base64.RawURLEncoding.Strict().Decode(id[:], []byte(s))
	if err != nil || n != len(id) {
		return TopicID{}, fmt.Errorf("%w: topic id %q is not base64url", ErrInvalidRecord, s)
	}
	return id, nil
}

// MarshalText encodes the id as String does, so JSON records show Kafka's form.
func (id TopicID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the form MarshalText writes.
func (id *TopicID) UnmarshalText(b []byte) error {
	v, err := ParseTopicID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Topic is one topic as the metadata knows it. Values reachable from a published State are
// immutable.
type Topic struct {
	Name string  `json:"name"`
	ID   TopicID `json:"id"`
	// Configs holds the topic's overrides of broker defaults (Kafka topic config names); nil when
	// there are none.
	Configs    map[string]string `json:"configs,omitempty"`
	Partitions []Partition       `json:"partitions"` // Partitions[i].Index == i
	CreatedAt  time.Time         `json:"createdAt"`
}

// Partition is one partition of a topic.
type Partition struct {
	Index       int32 `json:"index"`
	LeaderEpoch int32 `json:"leaderEpoch"`
	// LogStartOffset is the first offset the partition may serve, advanced by retention and
	// DeleteRecords; it only grows.
	LogStartOffset int64 `json:"logStartOffset"`
}

// State is the whole metadata as of one record offset. A published State is immutable (see the
// package documentation); callers must not mutate it or anything reachable from it.
type State struct {
	// ClusterID is generated once, when the directory is first opened, in Kafka's 22-character
	// base64url form.
	ClusterID string
	// NodeID is the broker id the directory belongs to.
	NodeID int32
	// Topics and TopicsByID index the same topics by name and by id; never nil.
	Topics     map[string]*Topic
	TopicsByID map[TopicID]*Topic
	// BrokerConfigs is the dynamic broker configuration in effect on this node: the cluster
	// default set overlaid with this node's own set. Nil when there is none.
	BrokerConfigs map[string]string
	// ClusterBrokerConfigs is the dynamic cluster-wide default set (AlterConfigs on broker "").
	ClusterBrokerConfigs map[string]string
	// NodeBrokerConfigs holds each node's own dynamic set, keyed by the node id in decimal.
	NodeBrokerConfigs map[string]map[string]string
	// GroupConfigs holds each group's dynamic configs (share.auto.offset.reset, ...). Nil when
	// there are none.
	GroupConfigs map[string]map[string]string
	// ScramUsers holds SCRAM credentials: user -> mechanism -> credential. Nil when there are none.
	ScramUsers map[string]map[string]ScramCredential
	// IAMKeys holds IAM-style access keys by access key id. Nil when there are none.
	IAMKeys map[string]IAMKey
	// ClientQuotas holds client quotas by canonical entity key (QuotaEntity.Key). Nil when there
	// are none.
	ClientQuotas map[string]ClientQuota
	// ACLs is the set of Kafka ACL bindings. Nil when there are none. (Snapshots store it as a
	// sorted list; a map keyed by a struct has no JSON form.)
	ACLs map[authz.Binding]struct{} `json:"-"`
	// IAMPolicies holds IAM-style policy documents: principal ARN -> policy name -> document.
	// Nil when there are none.
	IAMPolicies map[string]map[string]json.RawMessage
	// Offset is the offset of the last applied record; -1 before the first.
	Offset int64
}

// emptyState is the state before any record.
func emptyState() *State {
	return &State{Topics: map[string]*Topic{}, TopicsByID: map[TopicID]*Topic{}, Offset: -1}
}

// effectiveBrokerConfigs recomputes BrokerConfigs from the cluster default and this node's sets.
func (st *State) effectiveBrokerConfigs() {
	node := st.NodeBrokerConfigs[strconv.Itoa(int(st.NodeID))]
	if len(st.ClusterBrokerConfigs) == 0 && len(node) == 0 {
		st.BrokerConfigs = nil
		return
	}
	m := maps.Clone(st.ClusterBrokerConfigs)
	if m == nil {
		m = make(map[string]string, len(node))
	}
	maps.Copy(m, node)
	st.BrokerConfigs = m
}

// builder turns one State into the next, copy-on-write: it copies the topic maps once and each
// topic the first time a record changes it, so the State it started from is never modified.
// Config maps are never mutated in place, only replaced, so they are shared freely.
type builder struct {
	st    *State
	owned map[*Topic]bool // topics copied (or created) by this builder, safe to mutate
	// aclsOwned is set once the builder has its own copy of st.ACLs: later ACL records of the
	// same replay or commit change it in place instead of copying it again.
	aclsOwned bool
}

// acls returns the builder's own, mutable ACL set, copying the published one at first use.
func (b *builder) acls() map[authz.Binding]struct{} {
	if !b.aclsOwned {
		b.st.ACLs = maps.Clone(b.st.ACLs)
		if b.st.ACLs == nil {
			b.st.ACLs = map[authz.Binding]struct{}{}
		}
		b.aclsOwned = true
	}
	return b.st.ACLs
}

func newBuilder(from *State) *builder {
	st := *from
	st.Topics = maps.Clone(from.Topics)
	st.TopicsByID = maps.Clone(from.TopicsByID)
	st.NodeBrokerConfigs = maps.Clone(from.NodeBrokerConfigs)
	return &builder{st: &st, owned: map[*Topic]bool{}}
}

// topic returns a mutable copy of the topic with the given id, which must exist.
func (b *builder) topic(id TopicID) *Topic {
	t := b.st.TopicsByID[id]
	if b.owned[t] {
		return t
	}
	c := *t
	c.Partitions = slices.Clone(t.Partitions)
	b.put(&c)
	return &c
}

// put stores a topic the builder owns under its name and id.
func (b *builder) put(t *Topic) {
	b.owned[t] = true
	b.st.Topics[t.Name] = t
	b.st.TopicsByID[t.ID] = t
}

// cloneConfigs copies a config map, normalizing an empty map to nil so that a State rebuilt from
// disk (where empty maps are omitted) equals the one built in memory.
func cloneConfigs(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
