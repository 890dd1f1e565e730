package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Errors. Validation errors from Commit wrap the first four; errors from Open wrap the rest.
var (
	ErrTopicExists      = errors.New("meta: topic already exists")
	ErrUnknownTopic     = errors.New("meta: unknown topic id")
	ErrUnknownPartition = errors.New("meta: unknown partition")
	ErrInvalidRecord    = errors.New("meta: invalid record")
	// ErrCorrupt means the files hold something no crash can explain; the store refuses to open.
	ErrCorrupt = errors.New("meta: corrupt")
	// ErrUnsupported means a well-formed record of a type or version this build does not know,
	// written by a newer build; the store refuses to open rather than skip it.
	ErrUnsupported     = errors.New("meta: unsupported record")
	ErrNodeIDMismatch  = errors.New("meta: node id mismatch")
	ErrClosed          = errors.New("meta: store closed")
	ErrStoreFailed     = errors.New("meta: store failed after an I/O error; restart required")
	errNotBootstrapped = fmt.Errorf("%w: no cluster id recorded yet", ErrInvalidRecord)
)

// MaxPartitions bounds a topic's partition count, so that a record read from disk can never make
// replay allocate without limit.
const MaxPartitions = 1 << 16

// RecordType is the type byte of a record's frame. The numbers are on disk: never reuse one.
type RecordType uint8

// Record types. Type 0 is the snapshot frame and never appears in a log.
const (
	TypeBootstrap         RecordType = 1
	TypeCreateTopic       RecordType = 2
	TypeDeleteTopic       RecordType = 3
	TypeCreatePartitions  RecordType = 4
	TypeSetTopicConfigs   RecordType = 5
	TypeSetBrokerConfigs  RecordType = 6
	TypeSetLogStartOffset RecordType = 7
	TypeBumpLeaderEpoch   RecordType = 8
)

// Record is one metadata change. Only this package defines records: validate and apply are the
// deterministic state machine that replay re-runs.
type Record interface {
	// Type returns the record's type byte.
	Type() RecordType
	// validate reports why the record cannot apply to st (nil if it can).
	validate(st *State) error
	// apply makes the change; it runs only after validate accepted the record.
	apply(b *builder)
}

// kind describes one record type for decoding: its name, the version this build writes (it reads
// versions 0 through that), and its decoder.
type kind struct {
	name    string
	version uint16
	decode  func(version uint16, payload []byte) (Record, error)
}

// kinds is the read-only table of record types; add a line here for a new type.
var kinds = map[RecordType]kind{
	TypeBootstrap:         {"Bootstrap", 0, decodeJSON[bootstrap]},
	TypeCreateTopic:       {"CreateTopic", 0, decodeJSON[CreateTopic]},
	TypeDeleteTopic:       {"DeleteTopic", 0, decodeJSON[DeleteTopic]},
	TypeCreatePartitions:  {"CreatePartitions", 0, decodeJSON[CreatePartitions]},
	TypeSetTopicConfigs:   {"SetTopicConfigs", 0, decodeJSON[SetTopicConfigs]},
	TypeSetBrokerConfigs:  {"SetBrokerConfigs", 0, decodeJSON[SetBrokerConfigs]},
	TypeSetLogStartOffset: {"SetLogStartOffset", 0, decodeJSON[SetLogStartOffset]},
	TypeBumpLeaderEpoch:   {"BumpLeaderEpoch", 0, decodeJSON[BumpLeaderEpoch]},

	TypeSetScramCredential:    {"SetScramCredential", 0, decodeJSON[SetScramCredential]},
	TypeDeleteScramCredential: {"DeleteScramCredential", 0, decodeJSON[DeleteScramCredential]},
	TypeSetIAMKey:             {"SetIAMKey", 0, decodeJSON[SetIAMKey]},
	TypeDeleteIAMKey:          {"DeleteIAMKey", 0, decodeJSON[DeleteIAMKey]},

	TypeSetClientQuotas: {"SetClientQuotas", 0, decodeJSON[SetClientQuotas]},

	TypeCreateACLs:      {"CreateACLs", 0, decodeJSON[CreateACLs]},
	TypeDeleteACLs:      {"DeleteACLs", 0, decodeJSON[DeleteACLs]},
	TypeSetIAMPolicy:    {"SetIAMPolicy", 0, decodeJSON[SetIAMPolicy]},
	TypeDeleteIAMPolicy: {"DeleteIAMPolicy", 0, decodeJSON[DeleteIAMPolicy]},

	TypeSetGroupConfigs: {"SetGroupConfigs", 0, decodeJSON[SetGroupConfigs]},
}

// String returns the record type's name.
func (t RecordType) String() string {
	if k, ok := kinds[t]; ok {
		return k.name
	}
	return "RecordType(" + strconv.Itoa(int(t)) + ")"
}

// decodeJSON decodes version 0 of a record type.
func decodeJSON[R Record](version uint16, payload []byte) (Record, error) {
	var r R
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeRecord turns a frame's type, version and payload into a Record.
func decodeRecord(t RecordType, version uint16, payload []byte) (Record, error) {
	k, ok := kinds[t]
	if !ok {
		return nil, fmt.Errorf("%w: unknown type %d", ErrUnsupported, t)
	}
	if version > k.version {
		return nil, fmt.Errorf("%w: %s version %d (this build reads up to %d)", ErrUnsupported, k.name, version, k.version)
	}
	r, err := k.decode(version, payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %s payload: %v", ErrCorrupt, k.name, err)
	}
	return r, nil
}

// encodeRecord returns a record's version and JSON payload.
func encodeRecord(r Record) (uint16, []byte, error) {
	k, ok := kinds[r.Type()]
	if !ok {
		return 0, nil, fmt.Errorf("%w: unknown type %d", ErrInvalidRecord, r.Type())
	}
	p, err := json.Marshal(r)
	if err != nil {
		return 0, nil, fmt.Errorf("meta: encode %s: %w", k.name, err)
	}
	return k.version, p, nil
}

// bootstrap is the first record of every directory: the cluster id generated there and the node
// it belongs to. Open writes it; callers cannot.
type bootstrap struct {
	ClusterID string `json:"clusterId"`
	NodeID    int32  `json:"nodeId"`
}

// Type implements Record.
func (bootstrap) Type() RecordType { return TypeBootstrap }

func (r bootstrap) validate(st *State) error {
	if st.ClusterID != "" {
		return fmt.Errorf("%w: cluster id already recorded", ErrInvalidRecord)
	}
	return validClusterNode(r.ClusterID, r.NodeID)
}

func validClusterNode(clusterID string, nodeID int32) error {
	if _, err := ParseTopicID(clusterID); err != nil {
		return fmt.Errorf("%w: cluster id %q is not a 22-character base64url uuid", ErrInvalidRecord, clusterID)
	}
	if nodeID < 0 {
		return fmt.Errorf("%w: node id %d is negative", ErrInvalidRecord, nodeID)
	}
	return nil
}

func (r bootstrap) apply(b *builder) {
	b.st.ClusterID, b.st.NodeID = r.ClusterID, r.NodeID
	b.st.effectiveBrokerConfigs()
}

// CreateTopic adds a topic with Partitions partitions, all at leader epoch 0 and log start 0.
type CreateTopic struct {
	Name       string            `json:"name"`
	ID         TopicID           `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
	// CreatedAt is filled by Commit when zero (so replay never reads a clock); it is kept in UTC
	// at millisecond precision, as Kafka keeps times.
	CreatedAt time.Time `json:"createdAt"`
}

// Type implements Record.
func (CreateTopic) Type() RecordType { return TypeCreateTopic }

// stamp fills CreatedAt.
func (r CreateTopic) stamp(now time.Time) Record {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.CreatedAt = r.CreatedAt.UTC().Truncate(time.Millisecond)
	return r
}

func (r CreateTopic) validate(st *State) error {
	if st.ClusterID == "" {
		return errNotBootstrapped
	}
	if err := validTopicName(r.Name); err != nil {
		return err
	}
	if _, ok := st.Topics[r.Name]; ok {
		return fmt.Errorf("%w: %q", ErrTopicExists, r.Name)
	}
	if r.ID.IsZero() {
		return fmt.Errorf("%w: zero topic id", ErrInvalidRecord)
	}
	if _, ok := st.TopicsByID[r.ID]; ok {
		return fmt.Errorf("%w: topic id %s is in use", ErrTopicExists, r.ID)
	}
	if r.Partitions < 1 || r.Partitions > MaxPartitions {
		return fmt.Errorf("%w: %d partitions (1..%d)", ErrInvalidRecord, r.Partitions, MaxPartitions)
	}
	return validConfigs(r.Configs)
}

func (r CreateTopic) apply(b *builder) {
	t := &Topic{Name: r.Name, ID: r.ID, Configs: cloneConfigs(r.Configs), CreatedAt: r.CreatedAt,
		Partitions: make([]Partition, r.Partitions)}
	for i := range t.Partitions {
		t.Partitions[i].Index = int32(i)
	}
	b.put(t)
}

// DeleteTopic removes a topic.
type DeleteTopic struct {
	ID TopicID `json:"id"`
}

// Type implements Record.
func (DeleteTopic) Type() RecordType { return TypeDeleteTopic }

func (r DeleteTopic) validate(st *State) error { return knownTopic(st, r.ID) }

func (r DeleteTopic) apply(b *builder) {
	t := b.st.TopicsByID[r.ID]
	delete(b.st.TopicsByID, r.ID)
	delete(b.st.Topics, t.Name)
}

// CreatePartitions grows a topic to Total partitions; the new ones start at epoch 0.
type CreatePartitions struct {
	ID    TopicID `json:"id"`
	Total int32   `json:"total"`
}

// Type implements Record.
func (CreatePartitions) Type() RecordType { return TypeCreatePartitions }

func (r CreatePartitions) validate(st *State) error {
	if err := knownTopic(st, r.ID); err != nil {
		return err
	}
	have := len(st.TopicsByID[r.ID].Partitions)
	if int(r.Total) <= have || r.Total > MaxPartitions {
		return fmt.Errorf("%w: %d partitions is not an increase from %d within %d", ErrInvalidRecord, r.Total, have, MaxPartitions)
	}
	return nil
}

func (r CreatePartitions) apply(b *builder) {
	t := b.topic(r.ID)
	for i := int32(len(t.Partitions)); i < r.Total; i++ {
		t.Partitions = append(t.Partitions, Partition{Index: i})
	}
}

// SetTopicConfigs replaces a topic's whole override set.
type SetTopicConfigs struct {
	ID      TopicID           `json:"id"`
	Configs map[string]string `json:"configs,omitempty"`
}

// Type implements Record.
func (SetTopicConfigs) Type() RecordType { return TypeSetTopicConfigs }

func (r SetTopicConfigs) validate(st *State) error {
	if err := knownTopic(st, r.ID); err != nil {
		return err
	}
	return validConfigs(r.Configs)
}

func (r SetTopicConfigs) apply(b *builder) { b.topic(r.ID).Configs = cloneConfigs(r.Configs) }

// SetBrokerConfigs replaces the dynamic broker config set of one node (its id in decimal) or, when
// Node is "", the cluster-wide default set.
type SetBrokerConfigs struct {
	Node    string            `json:"node"`
	Configs map[string]string `json:"configs,omitempty"`
}

// Type implements Record.
func (SetBrokerConfigs) Type() RecordType { return TypeSetBrokerConfigs }

func (r SetBrokerConfigs) validate(st *State) error {
	if st.ClusterID == "" {
		return errNotBootstrapped
	}
	if r.Node != "" {
		// Only the canonical decimal form, so that one node never has two config sets.
		n, err := strconv.ParseInt(r.Node, 10, 32)
		if err != nil || n < 0 || strconv.FormatInt(n, 10) != r.Node {
			return fmt.Errorf("%w: broker %q is not a node id", ErrInvalidRecord, r.Node)
		}
	}
	return validConfigs(r.Configs)
}

func (r SetBrokerConfigs) apply(b *builder) {
	c := cloneConfigs(r.Configs)
	switch {
	case r.Node == "":
		b.st.ClusterBrokerConfigs = c
	case c == nil:
		delete(b.st.NodeBrokerConfigs, r.Node)
	default:
		if b.st.NodeBrokerConfigs == nil {
			b.st.NodeBrokerConfigs = map[string]map[string]string{}
		}
		b.st.NodeBrokerConfigs[r.Node] = c
	}
	if len(b.st.NodeBrokerConfigs) == 0 {
		b.st.NodeBrokerConfigs = nil
	}
	b.st.effectiveBrokerConfigs()
}

// SetLogStartOffset advances a partition's log start offset (retention, DeleteRecords).
type SetLogStartOffset struct {
	ID        TopicID `json:"id"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
}

// Type implements Record.
func (SetLogStartOffset) Type() RecordType { return TypeSetLogStartOffset }

func (r SetLogStartOffset) validate(st *State) error {
	if err := knownPartition(st, r.ID, r.Partition); err != nil {
		return err
	}
	if cur := st.TopicsByID[r.ID].Partitions[r.Partition].LogStartOffset; r.Offset < cur {
		return fmt.Errorf("%w: log start offset %d is below the current %d", ErrInvalidRecord, r.Offset, cur)
	}
	return nil
}

func (r SetLogStartOffset) apply(b *builder) {
	b.topic(r.ID).Partitions[r.Partition].LogStartOffset = r.Offset
}

// BumpLeaderEpoch increments a partition's leader epoch (a new leadership term).
type BumpLeaderEpoch struct {
	ID        TopicID `json:"id"`
	Partition int32   `json:"partition"`
}

// Type implements Record.
func (BumpLeaderEpoch) Type() RecordType { return TypeBumpLeaderEpoch }

func (r BumpLeaderEpoch) validate(st *State) error {
	if err := knownPartition(st, r.ID, r.Partition); err != nil {
		return err
	}
	if st.TopicsByID[r.ID].Partitions[r.Partition].LeaderEpoch == math.MaxInt32 {
		return fmt.Errorf("%w: leader epoch would overflow", ErrInvalidRecord)
	}
	return nil
}

func (r BumpLeaderEpoch) apply(b *builder) { b.topic(r.ID).Partitions[r.Partition].LeaderEpoch++ }

func knownTopic(st *State, id TopicID) error {
	if _, ok := st.TopicsByID[id]; !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, id)
	}
	return nil
}

func knownPartition(st *State, id TopicID, p int32) error {
	if err := knownTopic(st, id); err != nil {
		return err
	}
	if p < 0 || int(p) >= len(st.TopicsByID[id].Partitions) {
		return fmt.Errorf("%w: %s partition %d", ErrUnknownPartition, id, p)
	}
	return nil
}

// validTopicName applies Kafka's topic name rules. Names become directory names, so the store
// checks them too rather than trust every caller (and every byte read back from disk).
func validTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return fmt.Errorf("%w: topic name %q", ErrInvalidRecord, name)
	}
	for _, c := range []byte(name) {
		ok := c == '.' || c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok {
			return fmt.Errorf("%w: topic name %q has an illegal character", ErrInvalidRecord, name)
		}
	}
	return nil
}

func validConfigs(m map[string]string) error {
	for k := range m {
		if k == "" {
			return fmt.Errorf("%w: empty config name", ErrInvalidRecord)
		}
	}
	return nil
}
