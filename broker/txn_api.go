package broker

// The transaction APIs: InitProducerId (22), AddPartitionsToTxn (24), AddOffsetsToTxn (25),
// EndTxn (26), TxnOffsetCommit (28), DescribeProducers (61), DescribeTransactions (65) and
// ListTransactions (66), adapters onto package txn (and package group for TxnOffsetCommit). The
// transaction coordinator writes its markers through markerWriter into this broker's partitions.

import (
	"bytes"
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/txn"
)

// txnCoordinator is the transaction coordinator with the broker's glue.
type txnCoordinator struct {
	*txn.Coordinator
	s *Server
}

func (s *Server) newTxnCoordinator() *txnCoordinator {
	cfg := txn.Config{
		MaxTimeout:         s.cfg.TransactionMaxTimeout,
		AbortCheckInterval: s.cfg.TransactionAbortCheckInterval,
		IDExpiration:       s.cfg.TransactionalIDExpiration,
		Logger:             s.logger.With("component", "transaction-coordinator"),
	}
	t := &txnCoordinator{s: s}
	t.Coordinator = txn.New(cfg, markerWriter{s}, s.coord.groups)
	return t
}

// restore hands the transaction coordinator its journal entries; keys nobody owns are kept
// (a newer version may have written them) but logged.
func (t *txnCoordinator) restore(key, value []byte) error {
	if bytes.HasPrefix(key, []byte(txn.KeyPrefix)) || string(key) == txn.ProducerIDKey {
		return t.Restore(key, value)
	}
	t.s.logger.Warn("ignoring unknown coordinator journal key", "key", string(key))
	return nil
}

func (t *txnCoordinator) attach(j *coordlog.Store) { t.Attach(j) }

func (t *txnCoordinator) start(ctx context.Context) error { return t.Start(ctx) }

func (t *txnCoordinator) close() { t.Close() }

// markerWriter writes transaction markers into this broker's partitions.
type markerWriter struct{ s *Server }

func (w markerWriter) PartitionExists(topic string, partition int32) bool {
	t := w.s.cluster.lookupTopic(topic)
	return t != nil && t.partition(partition) != nil
}

func (w markerWriter) WriteMarker(ctx context.Context, tp txn.Partition, pid int64, epoch int16, commit bool, coordinatorEpoch int32) error {
	t := w.s.cluster.lookupTopic(tp.Topic)
	var p *partition
	if t != nil {
		p = t.partition(tp.Partition)
	}
	if p == nil {
		return txn.ErrUnknownPartition
	}
	res, err := p.log.AppendControl(plog.Marker{ProducerID: pid, ProducerEpoch: epoch, Commit: commit,
		CoordinatorEpoch: coordinatorEpoch, LeaderEpoch: p.leaderEpoch})
	switch {
	case errors.Is(err, plog.ErrInvalidProducerEpoch):
		// A newer incarnation of the producer already wrote here; its own transaction
		// supersedes the one this marker would end.
		w.s.logger.Warn("transaction marker refused as stale", "topic", tp.Topic, "partition", tp.Partition, "producer_id", pid, "epoch", epoch)
		return nil
	case errors.Is(err, plog.ErrClosed):
		return txn.ErrUnknownPartition
	case err != nil:
		return err
	}
	return p.log.Sync(ctx, res.LastOffset+1)
}

// transactionVersion is the finalized transaction.version feature level: 2 is KIP-890 part 2
// (Produce v12 adds partitions implicitly, TxnOffsetCommit v5 adds the group, EndTxn v5 bumps
// the epoch after every transaction).
const transactionVersion = 2

func (s *Server) txnEntries() []*apiEntry {
	return []*apiEntry{
		{key: 22, min: 0, max: 5, handle: s.handleInitProducerID},
		{key: 24, min: 0, max: 5, handle: s.handleAddPartitionsToTxn},
		{key: 25, min: 0, max: 4, handle: s.handleAddOffsetsToTxn},
		{key: 26, min: 0, max: 5, handle: s.handleEndTxn},
		{key: 28, min: 0, max: 5, handle: s.handleTxnOffsetCommit},
		{key: 61, min: 0, max: 0, handle: s.handleDescribeProducers},
		{key: 65, min: 0, max: 0, handle: s.handleDescribeTransactions},
		{key: 66, min: 0, max: 1, handle: s.handleListTransactions},
	}
}

func (s *Server) handleInitProducerID(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return deferred(kreq, func(ctx context.Context, req *kmsg.InitProducerIDRequest) kmsg.Response {
		return s.coord.txns.InitProducerID(ctx, h.version, req)
	})
}

func (s *Server) handleAddPartitionsToTxn(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return deferred(kreq, func(ctx context.Context, req *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
		return s.coord.txns.AddPartitionsToTxn(ctx, h.version, req)
	})
}

func (s *Server) handleAddOffsetsToTxn(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return deferred(kreq, func(ctx context.Context, req *kmsg.AddOffsetsToTxnRequest) kmsg.Response {
		return s.coord.txns.AddOffsetsToTxn(ctx, h.version, req)
	})
}

func (s *Server) handleEndTxn(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return deferred(kreq, func(ctx context.Context, req *kmsg.EndTxnRequest) kmsg.Response {
		return s.coord.txns.EndTxn(ctx, h.version, req)
	})
}

// handleTxnOffsetCommit checks the producer's transaction with the transaction coordinator
// (adding the group implicitly from v5, KIP-890), then stores the offsets as pending in the
// group coordinator until the transaction ends.
func (s *Server) handleTxnOffsetCommit(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return deferred(kreq, func(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) kmsg.Response {
		err := s.coord.txns.VerifyTxnOffsetCommit(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group, h.version >= 5)
		if err != nil {
			resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
			code := kerrCode(err)
			if code == kerr.ProducerFenced.Code && h.version <= 2 {
				code = kerr.InvalidProducerEpoch.Code // older clients do not know PRODUCER_FENCED
			}
			for _, rt := range req.Topics {
				out := kmsg.TxnOffsetCommitResponseTopic{Topic: rt.Topic}
				for _, rp := range rt.Partitions {
					out.Partitions = append(out.Partitions, kmsg.TxnOffsetCommitResponseTopicPartition{Partition: rp.Partition, ErrorCode: code})
				}
				resp.Topics = append(resp.Topics, out)
			}
			return resp
		}
		return s.coord.groups.TxnOffsetCommit(ctx, h.version, req)
	})
}

func (s *Server) handleDescribeTransactions(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return respond(s.coord.txns.DescribeTransactions(h.version, kreq.(*kmsg.DescribeTransactionsRequest)))
}

func (s *Server) handleListTransactions(c *conn, h requestHeader, kreq kmsg.Request) reply {
	return respond(s.coord.txns.ListTransactions(h.version, kreq.(*kmsg.ListTransactionsRequest)))
}

// handleDescribeProducers lists each partition's idempotent and transactional producers.
func (s *Server) handleDescribeProducers(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range req.Topics {
		out := kmsg.DescribeProducersResponseTopic{Topic: rt.Topic}
		t := s.cluster.lookupTopic(rt.Topic)
		for _, pi := range rt.Partitions {
			op := kmsg.NewDescribeProducersResponseTopicPartition()
			op.Partition = pi
			var p *partition
			if t != nil {
				p = t.partition(pi)
			}
			if p == nil {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				for _, ps := range p.log.Producers() {
					op.ActiveProducers = append(op.ActiveProducers, kmsg.DescribeProducersResponseTopicPartitionActiveProducer{
						ProducerID: ps.ProducerID, ProducerEpoch: int32(ps.ProducerEpoch), LastSequence: ps.LastSequence,
						LastTimestamp: ps.LastTimestamp, CoordinatorEpoch: ps.CoordinatorEpoch, CurrentTxnStartOffset: ps.CurrentTxnStartOffset})
				}
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return respond(resp)
}

// kerrCode turns an error from the coordinators into a Kafka error code.
func kerrCode(err error) int16 { return kerrOf(err).Code }

// kerrOf finds the Kafka error in an error from the coordinators.
func kerrOf(err error) *kerr.Error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	return kerr.UnknownServerError
}
