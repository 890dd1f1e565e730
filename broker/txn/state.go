package txn

import (
	"encoding/json"
	"fmt"
	"math"
)

// State is a transaction's state, named as in Kafka's TransactionState.
type State int8

// The states of Kafka's TransactionState. Dead and PrepareEpochFence are never stored: an
// expired id is deleted outright, and an epoch fence is written as part of PrepareAbort.
const (
	Empty State = iota
	Ongoing
	PrepareCommit
	PrepareAbort
	CompleteCommit
	CompleteAbort
	Dead
	PrepareEpochFence
)

var stateNames = [...]string{
	Empty:             "Empty",
	Ongoing:           "Ongoing",
	PrepareCommit:     "PrepareCommit",
	PrepareAbort:      "PrepareAbort",
	CompleteCommit:    "CompleteCommit",
	CompleteAbort:     "CompleteAbort",
	Dead:              "Dead",
	PrepareEpochFence: "PrepareEpochFence",
}

// String returns Kafka's name of the state.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int8(s))
}

// ParseState returns the state with Kafka's name name.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// MarshalJSON encodes the state by name, so the journal stays readable and stable.
func (s State) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON decodes a state name.
func (s *State) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	st, ok := ParseState(name)
	if !ok {
		return fmt.Errorf("unknown transaction state %q", name)
	}
	*s = st
	return nil
}

// preparing reports a transaction between Prepare* and Complete*.
func (s State) preparing() bool { return s == PrepareCommit || s == PrepareAbort }

// idle reports a state with no open transaction.
func (s State) idle() bool { return s == Empty || s == CompleteCommit || s == CompleteAbort }

// txnStateVersion is the version of the journal value.
const txnStateVersion = 1

// txnState is one transactional id's metadata (Kafka's TransactionMetadata) and, as JSON, its
// journal value.
type txnState struct {
	Version   int16 `json:"version"`
	PID       int64 `json:"pid"`
	Epoch     int16 `json:"epoch"`
	LastPID   int64 `json:"last_pid"`   // previous producer id, -1 if none
	LastEpoch int16 `json:"last_epoch"` // epoch before the last bump, -1 if none (or fenced)
	// NextPID is the producer id an EndTxn v5 that exhausted the epoch switches to at
	// Complete*; -1 otherwise.
	NextPID    int64       `json:"next_pid"`
	TimeoutMs  int32       `json:"timeout_ms"`
	State      State       `json:"state"`
	Partitions []Partition `json:"partitions,omitempty"`
	Groups     []string    `json:"groups,omitempty"`
	StartMs    int64       `json:"start_ms"`  // transaction start, -1 when none
	UpdateMs   int64       `json:"update_ms"` // last transition
	// TV2 is set when the transaction in Prepare* was ended with EndTxn v5 (transaction
	// version 2): its epoch was bumped at Prepare and NextPID may be set.
	TV2 bool `json:"tv2,omitempty"`
}

// newState is the metadata of a transactional id never seen before (epoch -1, so that the
// first InitProducerId bumps it to 0).
func newState() txnState {
	return txnState{Version: txnStateVersion, PID: noPID, Epoch: noEpoch, LastPID: noPID, LastEpoch: noEpoch,
		NextPID: noPID, State: Empty, StartMs: -1}
}

// validate checks a decoded journal value.
func (st *txnState) validate() error {
	switch {
	case st.Version != txnStateVersion:
		return fmt.Errorf("unsupported version %d", st.Version)
	case st.PID < 0:
		return fmt.Errorf("producer id %d", st.PID)
	case st.Epoch < 0:
		return fmt.Errorf("producer epoch %d", st.Epoch)
	case st.TimeoutMs <= 0:
		return fmt.Errorf("timeout %d ms", st.TimeoutMs)
	case st.State == Dead || st.State == PrepareEpochFence:
		return fmt.Errorf("state %v is never stored", st.State)
	}
	return nil
}

// epochExhausted is Kafka's isProducerEpochExhausted: the epoch cannot be bumped again for a
// client (MaxInt16 is reserved for the marker of a transaction that exhausted it).
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }

// lastEpochPID is the producer id LastEpoch belongs to: the previous id right after a switch
// of ids (epoch 0 again), else the current one.
func (st *txnState) lastEpochPID() int64 {
	if st.Epoch == 0 && st.LastPID >= 0 {
		return st.LastPID
	}
	return st.PID
}

// hasPartition reports whether p is part of the transaction.
func (st *txnState) hasPartition(p Partition) bool {
	for _, q := range st.Partitions {
		if q == p {
			return true
		}
	}
	return false
}

// hasGroup reports whether group is part of the transaction.
func (st *txnState) hasGroup(g string) bool {
	for _, h := range st.Groups {
		if h == g {
			return true
		}
	}
	return false
}

// toOngoing is Kafka's prepareAddPartitions: state Ongoing, start time set when a new
// transaction begins.
func (st txnState) toOngoing(nowMs int64) txnState {
	if st.State != Ongoing {
		st.StartMs = nowMs
		st.Partitions, st.Groups = nil, nil
	}
	st.State = Ongoing
	st.UpdateMs = nowMs
	return st
}
