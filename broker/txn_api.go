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

	"github.com/bulwark-kafka/bulwark/auth/authz"
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
	// A transactional producer needs WRITE on its id; an idempotent one IDEMPOTENT_WRITE on the
	// cluster or WRITE on at least one topic (KIP-679).
	req := kreq.(*kmsg.InitProducerIDRequest)
	if s.authz != nil {
		var code int16
		if req.TransactionalID != nil {
			if s.txnDenied(c, h, *req.TransactionalID) {
				code = kerr.TransactionalIDAuthorizationFailed.Code
			}
		} else {
			az := s.newAuthBatch(c, h)
			az.add(authz.OpIdempotentWrite, authz.Cluster, true)
			if !az.ok(authz.OpIdempotentWrite, authz.Cluster) && !s.allowedAny(c, h, authz.OpWrite, authz.ResourceTopic) {
				code = kerr.ClusterAuthorizationFailed.Code
			}
		}
		if code != 0 {
			resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
			resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = code, -1, -1
			return respond(resp)
		}
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.InitProducerIDRequest) kmsg.Response {
		return s.coord.txns.InitProducerID(ctx, h.version, req)
	})
}

func (s *Server) handleAddPartitionsToTxn(c *conn, h requestHeader, kreq kmsg.Request) reply {
	if resp := s.authorizeAddPartitions(c, h, kreq.(*kmsg.AddPartitionsToTxnRequest)); resp != nil {
		return respond(resp)
	}
	if resp := refuseInternalInTxn(kreq.(*kmsg.AddPartitionsToTxnRequest)); resp != nil {
		return respond(resp)
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
		return s.coord.txns.AddPartitionsToTxn(ctx, h.version, req)
	})
}

func (s *Server) handleAddOffsetsToTxn(c *conn, h requestHeader, kreq kmsg.Request) reply {
	if req := kreq.(*kmsg.AddOffsetsToTxnRequest); s.authz != nil {
		code := int16(0)
		if s.txnDenied(c, h, req.TransactionalID) {
			code = kerr.TransactionalIDAuthorizationFailed.Code
		} else if s.groupDenied(c, h, authz.OpRead, req.Group) {
			code = kerr.GroupAuthorizationFailed.Code
		}
		if code != 0 {
			resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
			resp.ErrorCode = code
			return respond(resp)
		}
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.AddOffsetsToTxnRequest) kmsg.Response {
		return s.coord.txns.AddOffsetsToTxn(ctx, h.version, req)
	})
}

func (s *Server) handleEndTxn(c *conn, h requestHeader, kreq kmsg.Request) reply {
	if req := kreq.(*kmsg.EndTxnRequest); s.txnDenied(c, h, req.TransactionalID) {
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return respond(resp)
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.EndTxnRequest) kmsg.Response {
		return s.coord.txns.EndTxn(ctx, h.version, req)
	})
}

// handleTxnOffsetCommit checks the producer's transaction with the transaction coordinator
// (adding the group implicitly from v5, KIP-890), then stores the offsets as pending in the
// group coordinator until the transaction ends.
func (s *Server) handleTxnOffsetCommit(c *conn, h requestHeader, kreq kmsg.Request) reply {
	// WRITE on the transactional id and READ on the group, each failing every partition; then
	// READ per topic.
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	var denied map[string]bool
	if s.authz != nil {
		if s.txnDenied(c, h, req.TransactionalID) {
			return respond(txnOffsetCommitErrors(req, req.Topics, nil, kerr.TransactionalIDAuthorizationFailed.Code))
		}
		if s.groupDenied(c, h, authz.OpRead, req.Group) {
			return respond(txnOffsetCommitErrors(req, req.Topics, nil, kerr.GroupAuthorizationFailed.Code))
		}
		names := make([]string, len(req.Topics))
		for i, t := range req.Topics {
			names[i] = t.Topic
		}
		denied = s.deniedTopicSet(c, h, authz.OpRead, names)
		if len(denied) > 0 && len(denied) == len(distinct(names)) {
			// Nothing left to commit: the coordinators are not asked (the group is not added
			// to the transaction), as Kafka answers.
			return respond(txnOffsetCommitErrors(req, req.Topics, nil, kerr.TopicAuthorizationFailed.Code))
		}
	}
	return deferred(kreq, func(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) kmsg.Response {
		var refused []kmsg.TxnOffsetCommitRequestTopic
		if denied != nil {
			req.Topics, refused = splitDenied(req.Topics, denied, func(t kmsg.TxnOffsetCommitRequestTopic) string { return t.Topic })
		}
		var resp *kmsg.TxnOffsetCommitResponse
		err := s.coord.txns.VerifyTxnOffsetCommit(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group, h.version >= 5)
		if err != nil {
			code := kerrCode(err)
			if code == kerr.ProducerFenced.Code && h.version <= 2 {
				code = kerr.InvalidProducerEpoch.Code // older clients do not know PRODUCER_FENCED
			}
			resp = txnOffsetCommitErrors(req, req.Topics, nil, code)
		} else {
			resp = s.coord.groups.TxnOffsetCommit(ctx, h.version, req)
		}
		return txnOffsetCommitErrors(req, refused, resp, kerr.TopicAuthorizationFailed.Code)
	})
}

// txnOffsetCommitErrors answers every partition of topics with code, appending to into (or a
// new response).
func txnOffsetCommitErrors(req *kmsg.TxnOffsetCommitRequest, topics []kmsg.TxnOffsetCommitRequestTopic, into *kmsg.TxnOffsetCommitResponse, code int16) *kmsg.TxnOffsetCommitResponse {
	if into == nil {
		into = req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	}
	for _, rt := range topics {
		out := kmsg.TxnOffsetCommitResponseTopic{Topic: rt.Topic}
		for _, rp := range rt.Partitions {
			out.Partitions = append(out.Partitions, kmsg.TxnOffsetCommitResponseTopicPartition{Partition: rp.Partition, ErrorCode: code})
		}
		into.Topics = append(into.Topics, out)
	}
	return into
}

func (s *Server) handleDescribeTransactions(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeTransactionsRequest)
	resp := s.coord.txns.DescribeTransactions(h.version, req)
	if az := s.newAuthBatch(c, h); az != nil {
		for _, ts := range resp.TransactionStates {
			az.add(authz.OpDescribe, authz.TransactionalID(ts.TransactionalID), false)
			for _, tp := range ts.Topics {
				az.add(authz.OpDescribe, authz.Topic(tp.Topic), true)
			}
		}
		for i, ts := range resp.TransactionStates {
			if !az.ok(authz.OpDescribe, authz.TransactionalID(ts.TransactionalID)) {
				out := kmsg.NewDescribeTransactionsResponseTransactionState()
				out.TransactionalID, out.ErrorCode = ts.TransactionalID, kerr.TransactionalIDAuthorizationFailed.Code
				resp.TransactionStates[i] = out
				continue
			}
			// As Kafka: the partitions of topics the principal may not describe are left out.
			kept := ts.Topics[:0:0]
			for _, tp := range ts.Topics {
				if az.topicOK(authz.OpDescribe, tp.Topic) {
					kept = append(kept, tp)
				}
			}
			resp.TransactionStates[i].Topics = kept
		}
	}
	return respond(resp)
}

func (s *Server) handleListTransactions(c *conn, h requestHeader, kreq kmsg.Request) reply {
	resp := s.coord.txns.ListTransactions(h.version, kreq.(*kmsg.ListTransactionsRequest))
	if az := s.newAuthBatch(c, h); az != nil {
		for _, ts := range resp.TransactionStates {
			az.add(authz.OpDescribe, authz.TransactionalID(ts.TransactionalID), true)
		}
		kept := resp.TransactionStates[:0]
		for _, ts := range resp.TransactionStates {
			if az.ok(authz.OpDescribe, authz.TransactionalID(ts.TransactionalID)) {
				kept = append(kept, ts)
			}
		}
		resp.TransactionStates = kept
	}
	return respond(resp)
}

// handleDescribeProducers lists each partition's idempotent and transactional producers.
func (s *Server) handleDescribeProducers(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	az := s.newAuthBatch(c, h)
	for _, rt := range req.Topics {
		az.add(authz.OpRead, authz.Topic(rt.Topic), false)
	}
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
			if !az.topicOK(authz.OpRead, rt.Topic) {
				op.ErrorCode, op.ErrorMessage = kerr.TopicAuthorizationFailed.Code, deniedMessage(h)
			} else if p == nil {
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

// authorizeAddPartitions applies Kafka's checks to AddPartitionsToTxn; it returns the answer for
// a refused request, nil to go on. v0–3 (clients): WRITE on the transactional id, then WRITE per
// topic, where one refused topic fails its partitions and leaves every other partition
// OPERATION_NOT_ATTEMPTED. v4+ (brokers) needs CLUSTER_ACTION.
func (s *Server) authorizeAddPartitions(c *conn, h requestHeader, req *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
	if s.authz == nil {
		return nil
	}
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if h.version >= 4 {
		if s.allowed(c, h, authz.OpClusterAction, authz.Cluster) {
			return nil
		}
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	answer := func(code func(topic string) int16) kmsg.Response {
		for _, t := range req.Topics {
			out := kmsg.AddPartitionsToTxnResponseTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				out.Partitions = append(out.Partitions, kmsg.AddPartitionsToTxnResponseTopicPartition{Partition: p, ErrorCode: code(t.Topic)})
			}
			resp.Topics = append(resp.Topics, out)
		}
		return resp
	}
	if s.txnDenied(c, h, req.TransactionalID) {
		return answer(func(string) int16 { return kerr.TransactionalIDAuthorizationFailed.Code })
	}
	names := make([]string, len(req.Topics))
	for i, t := range req.Topics {
		names[i] = t.Topic
	}
	denied := s.deniedTopicSet(c, h, authz.OpWrite, names)
	if denied == nil {
		return nil
	}
	return answer(func(t string) int16 {
		if denied[t] {
			return kerr.TopicAuthorizationFailed.Code
		}
		return kerr.OperationNotAttempted.Code
	})
}
