package group

// The group coordinator's state as Kafka's __consumer_offsets records (docs/format/internal-topics.md).
// The journal stays the source of truth; the broker projects every changed key through
// OffsetsTopicRecord into the internal topic, so tools that read __consumer_offsets (Burrow,
// kafka-consumer-groups' formatters, lag exporters) see what they would see on Kafka.

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record versions Kafka 4 writes to __consumer_offsets: key 1 for an offset commit (value 3,
// or 1 when the commit carried an explicit expiry), key 2 for classic group metadata (value 3).
const (
	offsetCommitKeyVersion        = 1
	offsetCommitValueVersion      = 3
	offsetCommitValueVersionRetry = 1
	groupMetadataKeyVersion       = 2
	groupMetadataValueVersion     = 3
)

// OffsetsTopicRecord translates one journal entry (value nil when the key was deleted) into the
// record Kafka keeps in __consumer_offsets for the same state: partitionKey (the group id) picks
// the partition, v is nil for a tombstone. ok is false for entries Kafka has
// no such record for: pending transactional offsets (they appear once the transaction commits)
// and keys the group coordinator does not own. A KIP-848 group's membership is written as a
// tombstone of the classic group-metadata record: Kafka keeps such groups in record types
// (key versions 3–16) that offset readers skip, and a group upgraded from the classic protocol
// leaves no stale classic record behind.
func OffsetsTopicRecord(key, value []byte) (partitionKey string, k, v []byte, ok bool, err error) {
	switch {
	case bytes.HasPrefix(key, []byte(offsetPrefix)):
		var g, topic string
		var p int32
		if err := json.Unmarshal(key[len(offsetPrefix):], &[]any{&g, &topic, &p}); err != nil {
			return "", nil, nil, false, fmt.Errorf("group: bad journal key %q", key)
		}
		mk := kmsg.OffsetCommitKey{Version: offsetCommitKeyVersion, Group: g, Topic: topic, Partition: p}
		k = mk.AppendTo(nil)
		if value == nil {
			return g, k, nil, true, nil
		}
		var o offset
		if err := json.Unmarshal(value, &o); err != nil {
			return "", nil, nil, false, fmt.Errorf("group: offset entry %q: %w", key, err)
		}
		mv := kmsg.OffsetCommitValue{Version: offsetCommitValueVersion, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch,
			Metadata: o.Metadata, CommitTimestamp: o.CommitMs, ExpireTimestamp: -1}
		if o.ExpireMs >= 0 {
			mv.Version, mv.ExpireTimestamp = offsetCommitValueVersionRetry, o.ExpireMs
		}
		return g, k, mv.AppendTo(nil), true, nil
	case bytes.HasPrefix(key, []byte(groupPrefix)):
		var parts []string
		if err := json.Unmarshal(key[len(groupPrefix):], &parts); err != nil || len(parts) != 1 {
			return "", nil, nil, false, fmt.Errorf("group: bad journal key %q", key)
		}
		mk := kmsg.GroupMetadataKey{Version: groupMetadataKeyVersion, Group: parts[0]}
		k = mk.AppendTo(nil)
		if value == nil {
			return parts[0], k, nil, true, nil
		}
		var doc groupDoc
		if err := json.Unmarshal(value, &doc); err != nil {
			return "", nil, nil, false, fmt.Errorf("group: journal entry for %q: %w", parts[0], err)
		}
		if doc.Type == "consumer" {
			return parts[0], k, nil, true, nil // tombstone: see above
		}
		mv := classicGroupValue(doc)
		return parts[0], k, mv.AppendTo(nil), true, nil
	}
	return "", nil, nil, false, nil
}

// classicGroupValue is Kafka's GroupMetadataValue for a classic group's persisted membership.
// CurrentStateTimestamp is -1 (unknown), which Kafka's readers accept, so that the record is a
// function of the journal entry alone.
func classicGroupValue(doc groupDoc) kmsg.GroupMetadataValue {
	v := kmsg.GroupMetadataValue{Version: groupMetadataValueVersion, ProtocolType: doc.ProtocolType,
		Generation: doc.Generation, CurrentStateTimestamp: -1}
	if doc.Protocol != "" {
		v.Protocol = kmsg.StringPtr(doc.Protocol)
	}
	if doc.Leader != "" {
		v.Leader = kmsg.StringPtr(doc.Leader)
	}
	v.Members = make([]kmsg.GroupMetadataValueMember, 0, len(doc.Members))
	for _, m := range doc.Members {
		vm := kmsg.GroupMetadataValueMember{MemberID: m.ID, ClientID: m.ClientID, ClientHost: m.ClientHost,
			RebalanceTimeoutMillis: int32(m.RebalanceTimeout), SessionTimeoutMillis: int32(m.SessionTimeoutMs),
			Assignment: m.Assignment}
		if m.InstanceID != "" {
			vm.InstanceID = kmsg.StringPtr(m.InstanceID)
		}
		for _, p := range m.Protocols {
			if p.Name == doc.Protocol {
				vm.Subscription = p.Metadata
			}
		}
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return v
}
