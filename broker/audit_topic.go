package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// AuditTopic is the internal topic the audit trail is also written to, as Redpanda's
// _redpanda.audit_log and Confluent Platform's confluent-audit-log-events are: reviewers and SIEMs
// consume it with the client they already have. Only the broker writes it (AppendInternal); a
// client may read it as ACLs allow, and may change nothing about it.
const AuditTopic = "__bulwark_audit"

// auditTopicConfigs are the topic configs the broker keeps on the audit topic: delete (never
// compact) retention by time only, as bulwark.audit.topic.retention.ms says.
func (s *Server) auditTopicConfigs() map[string]string {
	ms := int64(-1)
	if s.cfg.AuditTopicRetention >= 0 {
		ms = s.cfg.AuditTopicRetention.Milliseconds()
	}
	return map[string]string{"cleanup.policy": "delete", "retention.ms": strconv.FormatInt(ms, 10), "retention.bytes": "-1"}
}

// EnsureAuditTopic creates the audit topic (one partition: the trail is one ordered stream) when
// the trail is to be written to it, and brings its configs to what the configuration says.
// `bulwark serve` calls it when it opens the trail.
func (s *Server) EnsureAuditTopic() error {
	if !s.cfg.AuditEnabled || !s.cfg.AuditTopicEnabled {
		return nil
	}
	want := s.auditTopicConfigs()
	if t := s.cluster.lookupTopic(AuditTopic); t != nil && len(t.partitions) != 1 {
		// Not the broker's: one created by a client before the name was reserved.
		return fmt.Errorf("broker: a topic %s with %d partitions exists; the broker's audit topic has one. Delete it (with bulwark.audit.topic.enabled=false) or keep the audit topic off", AuditTopic, len(t.partitions))
	}
	if s.cluster.lookupTopic(AuditTopic) == nil {
		if _, err := s.cluster.createTopic(AuditTopic, 1, want, false); err != nil {
			return fmt.Errorf("broker: creating the audit topic %s: %w", AuditTopic, err)
		}
		return nil
	}
	err := s.cluster.updateTopicConfigs(AuditTopic, func(cur map[string]string) (map[string]string, error) {
		if maps.Equal(cur, want) {
			return nil, errUnchanged
		}
		return want, nil
	}, false)
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("broker: configuring the audit topic %s: %w", AuditTopic, err)
	}
	return nil
}

// errUnchanged ends an update that has nothing to change.
var errUnchanged = errors.New("unchanged")

// InternalRecord is one record the broker writes to an internal topic.
type InternalRecord struct {
	Key, Value []byte
	Time       time.Time
}

// AppendInternal appends records, in order and as one batch, to an internal topic's only
// partition and returns once they are fsynced. It returns the offset of the first.
func (s *Server) AppendInternal(ctx context.Context, topicName string, recs []InternalRecord) (int64, error) {
	if !isInternalTopic(topicName) {
		return 0, fmt.Errorf("broker: %s is not an internal topic", topicName)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	t := s.cluster.lookupTopic(topicName)
	if t == nil {
		return 0, fmt.Errorf("broker: internal topic %s does not exist", topicName)
	}
	p := t.partition(0)
	base := recs[0].Time.UnixMilli()
	rs := make([]record.Record, len(recs))
	for i, r := range recs {
		rs[i] = record.Record{Key: r.Key, Value: r.Value, TimestampDelta: max(r.Time.UnixMilli()-base, 0)}
	}
	batch := record.BuildBatch(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: base}, rs)
	res, err := p.log.Append(batch, plog.AppendOptions{Now: now(), LeaderEpoch: p.leaderEpoch})
	if err != nil {
		return 0, fmt.Errorf("broker: appending to %s: %w", topicName, err)
	}
	if err := p.log.Sync(ctx, res.LastOffset+1); err != nil {
		return 0, fmt.Errorf("broker: syncing %s: %w", topicName, err)
	}
	return res.BaseOffset, nil
}

// refuseInternalInTxn answers an AddPartitionsToTxn that names an internal topic: its partitions
// INVALID_TOPIC_EXCEPTION, every other OPERATION_NOT_ATTEMPTED, as for a refused topic. Else
// the transaction's markers would be written into the audit topic by a client's EndTxn.
func refuseInternalInTxn(req *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
	internal := false
	for _, t := range req.Topics {
		internal = internal || isInternalTopic(t.Topic)
	}
	for _, tx := range req.Transactions {
		for _, t := range tx.Topics {
			internal = internal || isInternalTopic(t.Topic)
		}
	}
	if !internal {
		return nil
	}
	code := func(topic string) int16 {
		if isInternalTopic(topic) {
			return kerr.InvalidTopicException.Code
		}
		return kerr.OperationNotAttempted.Code
	}
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	for _, t := range req.Topics {
		out := kmsg.AddPartitionsToTxnResponseTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			out.Partitions = append(out.Partitions, kmsg.AddPartitionsToTxnResponseTopicPartition{Partition: p, ErrorCode: code(t.Topic)})
		}
		resp.Topics = append(resp.Topics, out)
	}
	for _, tx := range req.Transactions {
		rt := kmsg.AddPartitionsToTxnResponseTransaction{TransactionalID: tx.TransactionalID}
		for _, t := range tx.Topics {
			out := kmsg.AddPartitionsToTxnResponseTransactionTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				out.Partitions = append(out.Partitions, kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{Partition: p, ErrorCode: code(t.Topic)})
			}
			rt.Topics = append(rt.Topics, out)
		}
		resp.Transactions = append(resp.Transactions, rt)
	}
	return resp
}
