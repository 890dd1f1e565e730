package txn

// AddOffsetsToTxn (key 25), v0–v4.
//
// The same checks as AddPartitionsToTxn (INVALID_REQUEST for an empty transactional id,
// INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED or INVALID_PRODUCER_EPOCH below v2,
// CONCURRENT_TRANSACTIONS); then the consumer group joins the transaction, whose end will call
// Groups.CompleteTxn for it. Kafka adds the group's __consumer_offsets partition instead; a
// single node has no such partition, so the group itself is recorded.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddOffsetsToTxn handles AddOffsetsToTxn.
func (c *Coordinator) AddOffsetsToTxn(ctx context.Context, version int16, req *kmsg.AddOffsetsToTxnRequest) *kmsg.AddOffsetsToTxnResponse {
	resp := kmsg.NewPtrAddOffsetsToTxnResponse()
	resp.Version = version
	perr := c.addOffsets(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group)
	if version < 2 && perr == kerr.ProducerFenced {
		perr = kerr.InvalidProducerEpoch
	}
	if perr != nil {
		resp.ErrorCode = perr.Code
	}
	return resp
}

// addOffsets adds group to id's transaction.
func (c *Coordinator) addOffsets(ctx context.Context, id string, pid int64, epoch int16, group string) *kerr.Error {
	if perr := c.readyErr(); perr != nil {
		return perr
	}
	if id == "" {
		return kerr.InvalidRequest
	}
	return c.addToTxn(ctx, id, pid, epoch, func(st txnState) txnState {
		st.Groups = addGroup(st.Groups, group)
		return st
	}, func(st txnState) bool { return slices.Contains(st.Groups, group) })
}
