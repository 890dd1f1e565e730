package txn

// DescribeTransactions (key 65), v0.
//
// Each transactional id is answered on its own: COORDINATOR_LOAD_IN_PROGRESS or
// COORDINATOR_NOT_AVAILABLE when the coordinator cannot serve, INVALID_REQUEST for an empty
// id, TRANSACTIONAL_ID_NOT_FOUND for an unknown one; otherwise its state name, timeout, start
// time (-1 when no transaction has started), producer id and epoch, and the partitions of the
// open transaction grouped by topic. Consumer groups are not listed (Kafka lists the group's
// __consumer_offsets partition, which a single node does not have).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeTransactions handles DescribeTransactions.
func (c *Coordinator) DescribeTransactions(version int16, req *kmsg.DescribeTransactionsRequest) *kmsg.DescribeTransactionsResponse {
	resp := kmsg.NewPtrDescribeTransactionsResponse()
	resp.Version = version
	ready := c.readyErr()
	for _, id := range req.TransactionalIDs {
		ts := kmsg.NewDescribeTransactionsResponseTransactionState()
		ts.TransactionalID = id
		ts.ProducerID, ts.ProducerEpoch, ts.StartTimestamp = noPID, noEpoch, -1
		st, ok := c.lookup(id)
		switch {
		case ready != nil:
			ts.ErrorCode = ready.Code
		case id == "":
			ts.ErrorCode = kerr.InvalidRequest.Code
		case !ok:
			ts.ErrorCode = kerr.TransactionalIDNotFound.Code
		default:
			ts.State = st.State.String()
			ts.TimeoutMillis = st.TimeoutMs
			ts.StartTimestamp = st.StartMs
			ts.ProducerID, ts.ProducerEpoch = st.PID, st.Epoch
			for _, p := range st.Partitions { // sorted by topic
				if n := len(ts.Topics); n == 0 || ts.Topics[n-1].Topic != p.Topic {
					t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
					t.Topic = p.Topic
					ts.Topics = append(ts.Topics, t)
				}
				t := &ts.Topics[len(ts.Topics)-1]
				t.Partitions = append(t.Partitions, p.Partition)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	return resp
}
