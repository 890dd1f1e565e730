package txn

// The transaction coordinator's state as Kafka's __transaction_state records
// (docs/format/internal-topics.md): the broker projects every changed journal key through
// StateTopicRecord into the internal topic, so tools that read it see what Kafka would show.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record versions written to __transaction_state: key 0 and the flexible value 1 that Kafka 4
// writes, with the KIP-890 tagged fields.
const (
	stateTopicKeyVersion   = 0
	stateTopicValueVersion = 1
)

// StateTopicRecord translates one journal entry (value nil when the key was deleted) into
// Kafka's __transaction_state record for the same transactional id: partitionKey picks the
// partition, value is nil for a tombstone. ok is false for keys that are not a transactional
// id's (the producer-id block).
func StateTopicRecord(key, value []byte) (partitionKey string, k, v []byte, ok bool, err error) {
	s := string(key)
	if !strings.HasPrefix(s, KeyPrefix) {
		return "", nil, nil, false, nil
	}
	id := s[len(KeyPrefix):]
	mk := kmsg.TxnMetadataKey{Version: stateTopicKeyVersion, TransactionalID: id}
	k = mk.AppendTo(nil)
	if value == nil {
		return id, k, nil, true, nil
	}
	var st txnState
	if err := json.Unmarshal(value, &st); err != nil {
		return "", nil, nil, false, fmt.Errorf("%w: key %q: %v", ErrCorrupt, s, err)
	}
	mv := kmsg.TxnMetadataValue{Version: stateTopicValueVersion, ProducerID: st.PID, ProducerEpoch: st.Epoch,
		TimeoutMillis: st.TimeoutMs, State: kmsg.TransactionState(st.State), LastUpdateTimestamp: st.UpdateMs,
		StartTimestamp: st.StartMs, PreviousProducerID: st.LastPID, NextProducerID: st.NextPID,
		NextProducerEpoch: -1}
	if st.TV2 {
		mv.ClientTransactionVersion = 2
	}
	byTopic := make(map[string][]int32)
	for _, p := range st.Partitions {
		byTopic[p.Topic] = append(byTopic[p.Topic], p.Partition)
	}
	topics := make([]string, 0, len(byTopic))
	for t := range byTopic {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		ps := byTopic[t]
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		mv.Topics = append(mv.Topics, kmsg.TxnMetadataValueTopic{Topic: t, Partitions: ps})
	}
	return id, k, mv.AppendTo(nil), true, nil
}
