package txn

// ListTransactions (key 66), v0–v2.
//
// Filters, all optional and combined with AND (Kafka's listTransactionStates): state names
// (names this coordinator does not know are echoed in UnknownStateFilters; if every name is
// unknown nothing matches), producer ids, v1+ duration (only transactions whose start is more
// than DurationFilterMillis ago; Empty ids count from start time -1, as in Kafka), and v2+ a
// transactional-id regular expression (KIP-1152) that must match the whole id; an invalid one
// is INVALID_REGULAR_EXPRESSION. Go's RE2 syntax is used (linear time, so a pattern cannot
// stall the broker); Java-only constructs such as back-references are rejected. Results are
// sorted by transactional id.

import (
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListTransactions handles ListTransactions.
func (c *Coordinator) ListTransactions(version int16, req *kmsg.ListTransactionsRequest) *kmsg.ListTransactionsResponse {
	resp := kmsg.NewPtrListTransactionsResponse()
	resp.Version = version
	if perr := c.readyErr(); perr != nil {
		resp.ErrorCode = perr.Code
		return resp
	}
	states := map[State]bool{}
	for _, name := range req.StateFilters {
		if st, ok := ParseState(name); ok {
			states[st] = true
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, name)
		}
	}
	var pattern *regexp.Regexp
	if version >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		re, err := regexp.Compile(`^(?:` + *req.TransactionalIDPattern + `)$`)
		if err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return resp
		}
		pattern = re
	}
	duration := int64(-1)
	if version >= 1 {
		duration = req.DurationFilterMillis
	}
	now := c.nowMs()
	include := func(id string, st *txnState) bool {
		switch {
		case len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, st.PID):
			return false
		case len(req.StateFilters) > 0 && !states[st.State]:
			return false
		case duration >= 0 && now-st.StartMs <= duration:
			return false
		case pattern != nil && !pattern.MatchString(id):
			return false
		}
		return true
	}
	c.mu.Lock()
	for id, e := range c.txns {
		if e.persisted && !e.removed && include(id, &e.st) {
			ts := kmsg.NewListTransactionsResponseTransactionState()
			ts.TransactionalID, ts.ProducerID, ts.TransactionState = id, e.st.PID, e.st.State.String()
			resp.TransactionStates = append(resp.TransactionStates, ts)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(resp.TransactionStates, func(a, b kmsg.ListTransactionsResponseTransactionState) int {
		return strings.Compare(a.TransactionalID, b.TransactionalID)
	})
	return resp
}

// CountByState returns how many transactional ids are in each state (Kafka's names), for the
// metrics.
func (c *Coordinator) CountByState() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, e := range c.txns {
		if e.persisted {
			out[e.st.State.String()]++
		}
	}
	return out
}
