package broker

// Produce (key 0), v3–v12; v0–v2 are advertised but every partition of such a request gets
// UNSUPPORTED_VERSION, as in Kafka 4.0 (KAFKA-18659: librdkafka decides whether it may compress
// from the advertised Produce range, and the old versions carry only the removed v0/v1 formats).
//
// Each partition's payload must be exactly one v2 record batch (Kafka 4.0 removed older
// formats). It is validated (CRC-32C, lengths, magic, record count, every record's framing; a
// compressed batch is decompressed to check it) and stored as sent, with the broker's offsets
// and, for LogAppendTime topics, its timestamp. acks=all is answered only once the batch is
// fsynced (bulwark.log.flush.acks.all, default on), with every waiting request sharing one fsync
// per partition; acks=1 is answered once the batch is written; acks=0 gets no response, and a
// connection whose acks=0 produce failed is closed, as Kafka does, so the client refreshes
// metadata. Produce never auto-creates topics. Deviation: a compressed batch that expands beyond
// maxUncompressedBatchBytes is rejected with INVALID_RECORD, bounding the memory one request can
// claim. Batches with a producer id are checked against the partition's producer state (package
// log): a retried batch gets its original offsets back, a gap OUT_OF_ORDER_SEQUENCE_NUMBER, an
// older epoch INVALID_PRODUCER_EPOCH; transactional batches must belong to a transaction that
// has added the partition (package txn).

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/record"
	"github.com/bulwark-kafka/bulwark/broker/stats"
	"github.com/bulwark-kafka/bulwark/broker/txn"
)

// minProduceVersion is the oldest Produce version actually served: v3 introduced the v2 record
// batch format, the only one this broker stores.
const minProduceVersion = 3

// maxUncompressedBatchBytes caps the memory used to validate one compressed batch.
const maxUncompressedBatchBytes = 64 << 20

var scratchPool = sync.Pool{New: func() any { return new(record.Scratch) }}

// produceWait is a partition whose acks=all answer waits for its data to be durable.
type produceWait struct {
	p   *partition
	end int64
	out *kmsg.ProduceResponseTopicPartition
}

func (s *Server) handleProduce(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	validAcks := req.Acks == -1 || req.Acks == 0 || req.Acks == 1
	oldVersion := h.version < minProduceVersion
	scratch := scratchPool.Get().(*record.Scratch)
	defer scratchPool.Put(scratch)

	// Authorization (Kafka's order): a request carrying a transactional batch needs a
	// transactional id and WRITE on it, or the whole request fails; then WRITE on each topic,
	// checked before existence so a refused client learns nothing about which topics exist.
	// IDEMPOTENT_WRITE is checked at InitProducerId, not here (KIP-679). With no authorizer a
	// transactional batch still needs the transactional id that owns its producer id (checked by
	// the transaction coordinator).
	az := s.newAuthBatch(c, h)
	txnID := ""
	if req.TransactionID != nil {
		txnID = *req.TransactionID
		az.add(authz.OpWrite, authz.TransactionalID(txnID), false)
	}
	for i := range req.Topics {
		az.add(authz.OpWrite, authz.Topic(req.Topics[i].Topic), false)
	}
	txnDenied := az != nil && hasTransactionalBatch(req) && (txnID == "" || !az.ok(authz.OpWrite, authz.TransactionalID(txnID)))

	var waits []produceWait
	failed := false
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		out := &resp.Topics[i]
		out.Topic = rt.Topic
		out.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		t := s.cluster.lookupTopic(rt.Topic)
		var tally stats.ProduceTally
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			op := &out.Partitions[j]
			*op = kmsg.NewProduceResponseTopicPartition()
			op.Partition = rp.Partition
			if oldVersion {
				op.ErrorCode = kerr.UnsupportedVersion.Code
				failed = true
				continue
			}
			if !validAcks {
				op.ErrorCode = kerr.InvalidRequiredAcks.Code
				failed = true
				continue
			}
			if txnDenied || !az.topicOK(authz.OpWrite, rt.Topic) {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
				if txnDenied {
					op.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				}
				if h.version >= 8 {
					op.ErrorMessage = deniedMessage(h)
				}
				failed = true
				continue
			}
			var p *partition
			if t != nil {
				p = t.partition(rp.Partition)
			}
			if p == nil {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				failed = true
				continue
			}
			res, err := s.produceInto(c.ctx, h, t, p, rp.Records, txnID, scratch)
			if s.stats != nil {
				tally.Add(uint64(res.LastOffset-res.BaseOffset+1), uint64(len(rp.Records)), produceOutcome(err))
			}
			if err != nil {
				op.ErrorCode, op.ErrorMessage = errorCode(err)
				if h.version < 8 {
					op.ErrorMessage = nil
				}
				failed = true
				continue
			}
			op.BaseOffset = res.BaseOffset
			op.LogAppendTime = res.LogAppendTime
			op.LogStartOffset = res.LogStartOffset
			if req.Acks == -1 && s.cfg.FlushAcksAll {
				waits = append(waits, produceWait{p: p, end: res.LastOffset + 1, out: op})
			} else {
				s.maybeFlushByCount(t, p, res.LastOffset+1)
			}
		}
		if t != nil {
			s.stats.Produced(t.counters, &tally)
		}
	}
	switch {
	case req.Acks == 0:
		return reply{none: true, closeConn: failed}
	case len(waits) == 0:
		return respond(resp)
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	return reply{later: func(ctx context.Context) kmsg.Response {
		s.awaitDurable(ctx, waits, timeout)
		return resp
	}}
}

// produceOutcome classifies an append's result as Kafka's BrokerTopicMetrics do: a batch
// refused for its size counts in BytesRejected; unknown partitions, leadership, corrupt batches
// and storage errors are "expected" and not failures (ReplicaManager.appendToLocalLog); anything
// else is a FailedProduceRequest.
func produceOutcome(err error) stats.ProduceOutcome {
	if err == nil {
		return stats.Appended
	}
	code, _ := errorCode(err)
	switch code {
	case kerr.MessageTooLarge.Code, kerr.RecordListTooLarge.Code:
		return stats.RefusedTooLarge
	case kerr.UnknownTopicOrPartition.Code, kerr.NotLeaderForPartition.Code, kerr.CorruptMessage.Code, kerr.KafkaStorageError.Code:
		return stats.RefusedExpected
	}
	return stats.Failed
}

// awaitDurable waits for every partition's data to be fsynced, up to the request's timeout.
// A partition that does not make it answers REQUEST_TIMED_OUT (the data may still be written;
// the producer retries, as it would against Kafka), and a failed fsync KAFKA_STORAGE_ERROR.
func (s *Server) awaitDurable(ctx context.Context, waits []produceWait, timeout time.Duration) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// Start every partition's fsync before waiting on any: the partitions have a flusher each, so
	// the fsyncs run side by side and the request waits for the slowest, not for their sum.
	for _, w := range waits {
		w.p.log.StartSync(w.end)
	}
	for _, w := range waits {
		err := w.p.log.Sync(ctx, w.end)
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			w.out.ErrorCode = kerr.RequestTimedOut.Code
		default:
			s.logger.Error("fsync failed", "topic", w.p.topicName, "partition", w.p.index, "err", err)
			w.out.ErrorCode = kerr.KafkaStorageError.Code
		}
		if w.out.ErrorCode != 0 {
			w.out.BaseOffset, w.out.LogAppendTime = -1, -1
		}
	}
}

// produceInto appends one partition's batch unless its log directory is low on space.
func (s *Server) produceInto(ctx context.Context, h requestHeader, t *topic, p *partition, batch []byte, txnID string, scratch *record.Scratch) (plog.AppendResult, error) {
	if err := s.cluster.admitProduce(p, len(batch), h.id); err != nil {
		return plog.AppendResult{}, err
	}
	res, err := s.appendProduced(ctx, t, p, batch, h.version, txnID, scratch)
	if err != nil {
		s.cluster.noteWriteError(p, err)
	}
	return res, err
}

// appendProduced validates one partition's batch and appends it.
func (s *Server) appendProduced(ctx context.Context, t *topic, p *partition, batch []byte, version int16, transactionalID string, scratch *record.Scratch) (plog.AppendResult, error) {
	if isInternalTopic(t.name) {
		return plog.AppendResult{}, newAPIError(kerr.InvalidTopicException, "cannot append to internal topic %s", t.name)
	}
	hdr, err := record.ValidateProduced(batch, record.Limits{
		MaxBatchBytes:        int(t.cfg.MaxMessageBytes),
		MaxUncompressedBytes: maxUncompressedBatchBytes,
		AllowZstd:            version >= 7,
	}, scratch)
	if err != nil {
		code, ok := kerr.ErrorForCode(record.ErrorCode(err)).(*kerr.Error)
		if !ok {
			code = kerr.InvalidRecord
		}
		return plog.AppendResult{}, &apiError{code: code, msg: err.Error()}
	}
	if int64(hdr.Size()) > t.cfg.SegmentBytes {
		return plog.AppendResult{}, newAPIError(kerr.RecordListTooLarge, "batch of %d bytes exceeds segment.bytes", hdr.Size())
	}
	if hdr.Transactional() {
		if hdr.ProducerID < 0 {
			return plog.AppendResult{}, newAPIError(kerr.InvalidRecord, "transactional batch without a producer id")
		}
		// KIP-890 part 1: a transactional batch is accepted only for a partition its
		// transaction has added; Produce v12+ (transactions v2) adds it implicitly.
		// The transaction cannot end until release: the batch lands before its marker.
		release, err := s.coord.txns.VerifyProduce(ctx, transactionalID, hdr.ProducerID, hdr.ProducerEpoch, txn.Partition{Topic: t.name, Partition: p.index}, version >= 12)
		if err != nil {
			return plog.AppendResult{}, &apiError{code: kerrOf(err), msg: err.Error()}
		}
		defer release()
	}
	ts := now()
	if !t.cfg.LogAppendTime {
		if err := checkTimestamps(hdr, ts.UnixMilli(), t.cfg.TimestampBeforeMaxMs, t.cfg.TimestampAfterMaxMs); err != nil {
			return plog.AppendResult{}, err
		}
	}
	res, err := p.log.Append(batch, plog.AppendOptions{LogAppendTime: t.cfg.LogAppendTime, Now: ts, LeaderEpoch: p.leaderEpoch})
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, plog.ErrOutOfOrderSequence):
		return res, newAPIError(kerr.OutOfOrderSequenceNumber, "producer %d: batch sequence %d does not follow the last one stored", hdr.ProducerID, hdr.BaseSequence)
	case errors.Is(err, plog.ErrInvalidProducerEpoch):
		return res, newAPIError(kerr.InvalidProducerEpoch, "producer %d: epoch %d is older than the current one", hdr.ProducerID, hdr.ProducerEpoch)
	case errors.Is(err, plog.ErrInvalidTxnState):
		return res, newAPIError(kerr.InvalidTxnState, "producer %d has an open transaction; the batch must be transactional", hdr.ProducerID)
	case errors.Is(err, plog.ErrClosed):
		// The topic was deleted (or the broker is stopping) between lookup and append.
		return res, newAPIError(kerr.NotLeaderForPartition, "partition is not available")
	default:
		s.logger.Error("append failed", "topic", p.topicName, "partition", p.index, "err", err)
		return res, &storageError{apiError: newAPIError(kerr.KafkaStorageError, "the broker could not write the batch"), cause: err}
	}
}

// storageError is a failed append: the client sees the apiError, noteWriteError the cause.
type storageError struct {
	*apiError
	cause error
}

func (e *storageError) Unwrap() []error { return []error{e.apiError, e.cause} }

// checkTimestamps applies message.timestamp.before.max.ms and .after.max.ms to a CreateTime
// batch, comparing its earliest and latest timestamps with the broker's clock.
func checkTimestamps(hdr record.Header, nowMs, beforeMax, afterMax int64) error {
	if beforeMax >= 0 && beforeMax < math.MaxInt64 && hdr.BaseTimestamp >= 0 && nowMs-hdr.BaseTimestamp > beforeMax {
		return newAPIError(kerr.InvalidTimestamp, "timestamp %d is more than %d ms before the broker's time", hdr.BaseTimestamp, beforeMax)
	}
	if afterMax >= 0 && afterMax < math.MaxInt64 && hdr.MaxTimestamp-nowMs > afterMax {
		return newAPIError(kerr.InvalidTimestamp, "timestamp %d is more than %d ms after the broker's time", hdr.MaxTimestamp, afterMax)
	}
	return nil
}

// hasTransactionalBatch reports whether any partition's payload starts with a transactional v2
// batch header (the full validation comes later, per partition).
func hasTransactionalBatch(req *kmsg.ProduceRequest) bool {
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			if h, err := record.ParseHeader(req.Topics[i].Partitions[j].Records); err == nil && h.Transactional() {
				return true
			}
		}
	}
	return false
}
