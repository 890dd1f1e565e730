package meta

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/envelope"
)

// snapshotDoc is the JSON payload of a snapshot file: the whole State as of Offset. TopicsByID and
// BrokerConfigs are derived, so they are rebuilt rather than stored.
type snapshotDoc struct {
	Offset               int64                                 `json:"offset"`
	ClusterID            string                                `json:"clusterId"`
	NodeID               int32                                 `json:"nodeId"`
	Topics               []*Topic                              `json:"topics"` // sorted by name
	ClusterBrokerConfigs map[string]string                     `json:"clusterBrokerConfigs,omitempty"`
	NodeBrokerConfigs    map[string]map[string]string          `json:"nodeBrokerConfigs,omitempty"`
	GroupConfigs         map[string]map[string]string          `json:"groupConfigs,omitempty"`
	ScramUsers           map[string]map[string]ScramCredential `json:"scramUsers,omitempty"`
	IAMKeys              map[string]IAMKey                     `json:"iamKeys,omitempty"`
	ClientQuotas         map[string]ClientQuota                `json:"clientQuotas,omitempty"`
	ACLs                 []authz.Binding                       `json:"acls,omitempty"` // sorted
	IAMPolicies          map[string]map[string]json.RawMessage `json:"iamPolicies,omitempty"`
}

// snapshotVersion is the snapshot payload version this build writes and reads.
const snapshotVersion = 0

// encodeSnapshot returns a snapshot file's bytes: one frame of type 0 holding snapshotDoc.
func encodeSnapshot(st *State) ([]byte, error) {
	doc := snapshotDoc{Offset: st.Offset, ClusterID: st.ClusterID, NodeID: st.NodeID,
		Topics:               make([]*Topic, 0, len(st.Topics)),
		ClusterBrokerConfigs: st.ClusterBrokerConfigs, NodeBrokerConfigs: st.NodeBrokerConfigs, GroupConfigs: st.GroupConfigs,
		ScramUsers: st.ScramUsers, IAMKeys: st.IAMKeys, ClientQuotas: st.ClientQuotas,
		IAMPolicies: st.IAMPolicies}
	if len(st.ACLs) > 0 {
		doc.ACLs = st.ACLList()
	}
	for _, t := range st.Topics {
		doc.Topics = append(doc.Topics, t)
	}
	slices.SortFunc(doc.Topics, func(a, b *Topic) int { return strings.Compare(a.Name, b.Name) })
	p, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("meta: encode snapshot: %w", err)
	}
	if len(p) > maxSnapshotSz-minFrameLen {
		return nil, fmt.Errorf("meta: snapshot of %d bytes exceeds the %d-byte bound", len(p), maxSnapshotSz)
	}
	return appendFrame(nil, 0, snapshotVersion, p), nil
}

// decodeSnapshot parses and checks a snapshot file's bytes. The CRC proves the bytes are what was
// written; the checks below keep a State built by a buggy or foreign writer from breaking the
// invariants apply relies on.
func decodeSnapshot(data []byte) (*State, error) {
	f, err := parseFrame(data, maxSnapshotSz)
	if err != nil {
		return nil, fmt.Errorf("%w snapshot: %v", ErrCorrupt, err)
	}
	if f.size != len(data) {
		return nil, fmt.Errorf("%w snapshot: %d trailing bytes", ErrCorrupt, len(data)-f.size)
	}
	if f.typ != 0 || f.version > snapshotVersion {
		return nil, fmt.Errorf("%w: snapshot frame type %d version %d", ErrUnsupported, f.typ, f.version)
	}
	var doc snapshotDoc
	if err := json.Unmarshal(f.payload, &doc); err != nil {
		return nil, fmt.Errorf("%w snapshot: %v", ErrCorrupt, err)
	}
	st, err := doc.state()
	if err != nil {
		return nil, fmt.Errorf("%w snapshot: %v", ErrCorrupt, err)
	}
	return st, nil
}

// state checks doc and builds the State it describes.
func (doc *snapshotDoc) state() (*State, error) {
	if doc.Offset < 0 {
		return nil, fmt.Errorf("offset %d", doc.Offset)
	}
	if err := validClusterNode(doc.ClusterID, doc.NodeID); err != nil {
		return nil, err
	}
	st := emptyState()
	st.Offset, st.ClusterID, st.NodeID = doc.Offset, doc.ClusterID, doc.NodeID
	for _, t := range doc.Topics {
		if err := validSnapshotTopic(st, t); err != nil {
			return nil, err
		}
		t.Configs = cloneConfigs(t.Configs)
		st.Topics[t.Name], st.TopicsByID[t.ID] = t, t
	}
	if err := validConfigs(doc.ClusterBrokerConfigs); err != nil {
		return nil, err
	}
	st.ClusterBrokerConfigs = cloneConfigs(doc.ClusterBrokerConfigs)
	for g, m := range doc.GroupConfigs {
		if err := (SetGroupConfigs{Group: g, Configs: m}).validate(st); err != nil {
			return nil, err
		}
		if len(m) > 0 {
			if st.GroupConfigs == nil {
				st.GroupConfigs = map[string]map[string]string{}
			}
			st.GroupConfigs[g] = cloneConfigs(m)
		}
	}
	for node, m := range doc.NodeBrokerConfigs {
		if node == "" {
			return nil, fmt.Errorf("%w: per-node configs for node \"\"", ErrInvalidRecord)
		}
		if err := (SetBrokerConfigs{Node: node, Configs: m}).validate(st); err != nil {
			return nil, err
		}
		if len(m) > 0 {
			if st.NodeBrokerConfigs == nil {
				st.NodeBrokerConfigs = map[string]map[string]string{}
			}
			st.NodeBrokerConfigs[node] = m
		}
	}
	st.effectiveBrokerConfigs()
	if err := validSnapshotCredentials(doc.ScramUsers, doc.IAMKeys); err != nil {
		return nil, err
	}
	if len(doc.ScramUsers) > 0 {
		st.ScramUsers = doc.ScramUsers
	}
	if err := validSnapshotQuotas(doc.ClientQuotas); err != nil {
		return nil, err
	}
	if len(doc.ClientQuotas) > 0 {
		st.ClientQuotas = doc.ClientQuotas
	}
	if len(doc.IAMKeys) > 0 {
		st.IAMKeys = doc.IAMKeys
	}
	acls, err := validSnapshotACLs(doc.ACLs)
	if err != nil {
		return nil, err
	}
	st.ACLs = acls
	if err := validSnapshotIAMPolicies(doc.IAMPolicies); err != nil {
		return nil, err
	}
	if len(doc.IAMPolicies) > 0 {
		st.IAMPolicies = doc.IAMPolicies
	}
	return st, nil
}

// validSnapshotTopic checks one topic of a snapshot against the topics before it.
func validSnapshotTopic(st *State, t *Topic) error {
	if t == nil {
		return fmt.Errorf("%w: null topic", ErrInvalidRecord)
	}
	if err := (CreateTopic{Name: t.Name, ID: t.ID, Partitions: int32(min(len(t.Partitions), MaxPartitions+1)),
		Configs: t.Configs}).validate(st); err != nil {
		return err
	}
	for i, p := range t.Partitions {
		if p.Index != int32(i) || p.LeaderEpoch < 0 || p.LogStartOffset < 0 {
			return fmt.Errorf("%w: topic %q partition %d: %+v", ErrInvalidRecord, t.Name, i, p)
		}
	}
	return nil
}

// File names carry offsets in 20 decimal digits, as Kafka's segment names do, so that they sort.
const (
	logPrefix, logSuffix   = "meta-", ".log"
	snapPrefix, snapSuffix = "snapshot-", ".json"
	tmpSuffix              = ".tmp"
)

func logName(base int64) string       { return fmt.Sprintf("%s%020d%s", logPrefix, base, logSuffix) }
func snapshotName(off int64) string   { return fmt.Sprintf("%s%020d%s", snapPrefix, off, snapSuffix) }
func isDigits(s string) bool          { return strings.Trim(s, "0123456789") == "" }
func hasNameForm(s, p, x string) bool { return strings.HasPrefix(s, p) && strings.HasSuffix(s, x) }

// parseName returns the offset in a file name of the form prefix + 20 digits + suffix.
func parseName(name, prefix, suffix string) (int64, bool) {
	if !hasNameForm(name, prefix, suffix) || len(name) != len(prefix)+20+len(suffix) {
		return 0, false
	}
	digits := name[len(prefix) : len(name)-len(suffix)]
	if !isDigits(digits) {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}

// listing is what a metadata directory holds, offsets ascending.
type listing struct {
	logs  []int64 // log base offsets
	snaps []int64 // snapshot offsets
}

// listDir lists dir's logs and snapshots and removes leftover temporary files, which a crash
// mid-write leaves and which nothing ever reads.
func (s *Store) listDir() (listing, error) {
	var ls listing
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return ls, fmt.Errorf("meta: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			s.logger.Warn("metadata: removing leftover temporary file", "file", name)
			if err := os.Remove(s.path(name)); err != nil {
				return ls, fmt.Errorf("meta: %w", err)
			}
			continue
		}
		if n, ok := parseName(name, logPrefix, logSuffix); ok {
			ls.logs = append(ls.logs, n)
		} else if n, ok := parseName(name, snapPrefix, snapSuffix); ok {
			ls.snaps = append(ls.snaps, n)
		}
	}
	slices.Sort(ls.logs)
	slices.Sort(ls.snaps)
	return ls, nil
}

// readSnapshot reads and decodes one snapshot file, checking its offset against its name.
func (s *Store) readSnapshot(off int64) (*State, error) {
	name := snapshotName(off)
	fi, err := os.Stat(s.path(name))
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	if fi.Size() > maxSnapshotSz+4+envelope.HeaderSize+sealedPrefix+envelope.FrameOverhead {
		return nil, fmt.Errorf("%w snapshot %s: %d bytes", ErrCorrupt, name, fi.Size())
	}
	data, err := os.ReadFile(s.path(name))
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	if data, err = s.unsealSnapshot(name, data, off); err != nil {
		return nil, err
	}
	st, err := decodeSnapshot(data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, name)
	}
	if st.Offset != off {
		return nil, fmt.Errorf("%w snapshot %s: holds offset %d", ErrCorrupt, name, st.Offset)
	}
	return st, nil
}
