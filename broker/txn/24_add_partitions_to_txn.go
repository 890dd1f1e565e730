package txn

// AddPartitionsToTxn (key 24), v0–v5.
//
// v0–v3 are the client form: one transactional id. v4+ is the broker-to-broker batched form
// (KIP-890 part 1) and is answered per transaction; a transaction with VerifyOnly is checked,
// not changed: each partition gets no error if it is part of the open transaction, else
// INVALID_TXN_STATE.
//
// An empty transactional id is INVALID_REQUEST. If any partition does not exist, it gets
// UNKNOWN_TOPIC_OR_PARTITION, every other one OPERATION_NOT_ATTEMPTED, and nothing is added.
// Then: an unknown id or another producer id is INVALID_PRODUCER_ID_MAPPING; another epoch is
// PRODUCER_FENCED (INVALID_PRODUCER_EPOCH below v2, KIP-588); Prepare* is
// CONCURRENT_TRANSACTIONS; otherwise the partitions are added, the state becomes Ongoing (a new
// transaction starts when it was Empty or Complete*) and the change is persisted before the
// answer. A request error is given to every partition.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddPartitionsToTxn handles AddPartitionsToTxn.
func (c *Coordinator) AddPartitionsToTxn(ctx context.Context, version int16, req *kmsg.AddPartitionsToTxnRequest) *kmsg.AddPartitionsToTxnResponse {
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	resp.Version = version
	if version >= 4 {
		for i := range req.Transactions {
			t := &req.Transactions[i]
			rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
			rt.TransactionalID = t.TransactionalID
			var parts []Partition
			for _, tp := range t.Topics {
				for _, p := range tp.Partitions {
					parts = append(parts, Partition{tp.Topic, p})
				}
			}
			errs := c.addPartitions(ctx, version, t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts, t.VerifyOnly)
			for _, tp := range groupByTopic(parts, errs) {
				rtt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				rtt.Topic = tp.topic
				for j, p := range tp.partitions {
					rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
					rp.Partition, rp.ErrorCode = p, tp.codes[j]
					rtt.Partitions = append(rtt.Partitions, rp)
				}
				rt.Topics = append(rt.Topics, rtt)
			}
			resp.Transactions = append(resp.Transactions, rt)
		}
		return resp
	}
	var parts []Partition
	for _, tp := range req.Topics {
		for _, p := range tp.Partitions {
			parts = append(parts, Partition{tp.Topic, p})
		}
	}
	errs := c.addPartitions(ctx, version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts, false)
	for _, tp := range groupByTopic(parts, errs) {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = tp.topic
		for j, p := range tp.partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, tp.codes[j]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// topicResult is one topic's partitions and their error codes, in request order.
type topicResult struct {
	topic      string
	partitions []int32
	codes      []int16
}

// groupByTopic groups per-partition results by topic in order of first appearance; a
// partition listed twice is answered once.
func groupByTopic(parts []Partition, errs []*kerr.Error) []topicResult {
	var out []topicResult
	index := map[string]int{}
	seen := map[Partition]bool{}
	for i, p := range parts {
		if seen[p] {
			continue
		}
		seen[p] = true
		j, ok := index[p.Topic]
		if !ok {
			j = len(out)
			index[p.Topic] = j
			out = append(out, topicResult{topic: p.Topic})
		}
		var code int16
		if errs[i] != nil {
			code = errs[i].Code
		}
		out[j].partitions = append(out[j].partitions, p.Partition)
		out[j].codes = append(out[j].codes, code)
	}
	return out
}

// addPartitions adds (or, with verifyOnly, checks) parts for one transaction and returns one
// result per partition, nil for success.
func (c *Coordinator) addPartitions(ctx context.Context, version int16, id string, pid int64, epoch int16, parts []Partition, verifyOnly bool) []*kerr.Error {
	errs := make([]*kerr.Error, len(parts))
	fill := func(perr *kerr.Error) []*kerr.Error {
		if version < 2 && perr == kerr.ProducerFenced {
			perr = kerr.InvalidProducerEpoch
		}
		for i := range errs {
			errs[i] = perr
		}
		return errs
	}
	if perr := c.readyErr(); perr != nil {
		return fill(perr)
	}
	if id == "" {
		return fill(kerr.InvalidRequest)
	}
	if verifyOnly {
		st, ok := c.lookup(id)
		if !ok {
			return fill(kerr.InvalidProducerIDMapping)
		}
		if perr := checkProducer(st, pid, epoch); perr != nil {
			return fill(perr)
		}
		for i, p := range parts {
			if st.State != Ongoing || !st.hasPartition(p) {
				errs[i] = kerr.InvalidTxnState
			}
		}
		return errs
	}
	missing := false
	for i, p := range parts {
		if !c.markers.PartitionExists(p.Topic, p.Partition) {
			errs[i], missing = kerr.UnknownTopicOrPartition, true
		}
	}
	if missing {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = kerr.OperationNotAttempted
			}
		}
		return errs
	}
	return fill(c.addToTxn(ctx, id, pid, epoch, func(st txnState) txnState {
		st.Partitions = addPartitions(st.Partitions, parts...)
		return st
	}, func(st txnState) bool {
		for _, p := range parts {
			if !st.hasPartition(p) {
				return false
			}
		}
		return true
	}))
}

// addToTxn is the common part of AddPartitionsToTxn, AddOffsetsToTxn and the implicit adds:
// under id's operation lock it checks the producer and state, and unless contains says the
// open transaction already has everything, persists add applied to the Ongoing state.
func (c *Coordinator) addToTxn(ctx context.Context, id string, pid int64, epoch int16, add func(txnState) txnState, contains func(txnState) bool) *kerr.Error {
	e, err := c.lockEntry(ctx, id, false)
	if err != nil {
		return kerr.ConcurrentTransactions
	}
	if e == nil {
		return kerr.InvalidProducerIDMapping
	}
	defer c.unlock(e)
	if !e.persisted {
		return kerr.InvalidProducerIDMapping
	}
	st := c.state(e)
	if perr := checkProducer(st, pid, epoch); perr != nil {
		return perr
	}
	if st.State == Ongoing && contains(st) {
		return nil
	}
	next := add(st.toOngoing(c.nowMs()))
	if err := c.persist(ctx, e, next); err != nil {
		c.log.Warn("txn: cannot persist an add to a transaction", "transactional_id", id, "err", err)
		return storeErr(err)
	}
	return nil
}

// checkProducer is the check every transactional request makes first (Kafka's order):
// producer id, epoch, then a completion in progress.
func checkProducer(st txnState, pid int64, epoch int16) *kerr.Error {
	switch {
	case st.PID != pid:
		return kerr.InvalidProducerIDMapping
	case st.Epoch != epoch:
		return kerr.ProducerFenced
	case st.State.preparing():
		return kerr.ConcurrentTransactions
	}
	return nil
}

// lookup returns the persisted state of id without waiting for its operation lock.
func (c *Coordinator) lookup(id string) (txnState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.txns[id]
	if e == nil || !e.persisted || e.removed {
		return txnState{}, false
	}
	return e.st, true
}
