package txn

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
)

// Journal keys owned by the coordinator.
const (
	// KeyPrefix starts the journal key of every transactional id ("txn/<id>").
	KeyPrefix = "txn/"
	// ProducerIDKey is the journal key of the current producer-id block.
	ProducerIDKey = "pid"
)

// Defaults applied by New to zero Config fields (Kafka's defaults).
const (
	DefaultMaxTimeout              = 15 * time.Minute
	DefaultAbortCheckInterval      = 10 * time.Second
	DefaultIDExpiration            = 7 * 24 * time.Hour
	DefaultExpirationCheckInterval = time.Hour
	DefaultProducerIDBlockSize     = 1000
)

// noPID and noEpoch are Kafka's RecordBatch.NO_PRODUCER_ID and NO_PRODUCER_EPOCH.
const (
	noPID   int64 = -1
	noEpoch int16 = -1
)

// coordinatorEpoch is the epoch markers carry: a single node never changes coordinator.
const coordinatorEpoch int32 = 0

// Sentinel errors.
var (
	// ErrUnknownPartition is returned by Markers.WriteMarker when the partition no longer exists;
	// the coordinator skips such a partition.
	ErrUnknownPartition = errors.New("txn: unknown partition")
	// ErrNotReady: the coordinator has no store yet (Attach not called), has not been started,
	// or was closed.
	ErrNotReady = errors.New("txn: coordinator not ready")
	// ErrCorrupt: a journal value cannot be decoded.
	ErrCorrupt = errors.New("txn: corrupt journal value")
	// ErrProducerIDsExhausted: the producer-id space is used up.
	ErrProducerIDsExhausted = errors.New("txn: producer ids exhausted")
)

// Partition names one topic partition.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

// Markers is how the coordinator writes transaction markers (the broker implements it).
type Markers interface {
	// WriteMarker appends a COMMIT/ABORT control batch for pid/epoch to the partition and waits
	// until it is durable. It returns ErrUnknownPartition (exported by this package) when the
	// partition no longer exists (topic deleted): the coordinator skips it.
	WriteMarker(ctx context.Context, p Partition, pid int64, epoch int16, commit bool, coordinatorEpoch int32) error
	// PartitionExists reports whether the topic partition exists (AddPartitionsToTxn).
	PartitionExists(topic string, partition int32) bool
}

// Groups completes transactional offset commits in the group coordinator.
type Groups interface {
	// CompleteTxn makes the offsets pid committed in the transaction visible (commit) or drops
	// them (abort).
	CompleteTxn(ctx context.Context, group string, pid int64, commit bool) error
}

// Config configures a Coordinator. Zero fields take the defaults listed on each.
type Config struct {
	MaxTimeout              time.Duration    // transaction.max.timeout.ms, default 15 min
	AbortCheckInterval      time.Duration    // transaction.abort.timed.out.transaction.cleanup.interval.ms, default 10 s
	IDExpiration            time.Duration    // transactional.id.expiration.ms, default 7 days
	ExpirationCheckInterval time.Duration    // transactional.id.expiration check, default 1 h
	ProducerIDBlockSize     int64            // default 1000
	Now                     func() time.Time // nil = time.Now (tests)
	Logger                  *slog.Logger     // nil discards
}

// Validate reports every problem with the configuration (zero values are fine: they mean the
// default).
func (cfg Config) Validate() error {
	var errs []error
	if cfg.MaxTimeout < 0 || cfg.MaxTimeout > math.MaxInt32*time.Millisecond {
		errs = append(errs, fmt.Errorf("txn: MaxTimeout %v out of range", cfg.MaxTimeout))
	}
	if cfg.AbortCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("txn: AbortCheckInterval %v is negative", cfg.AbortCheckInterval))
	}
	if cfg.IDExpiration < 0 {
		errs = append(errs, fmt.Errorf("txn: IDExpiration %v is negative", cfg.IDExpiration))
	}
	if cfg.ExpirationCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("txn: ExpirationCheckInterval %v is negative", cfg.ExpirationCheckInterval))
	}
	if cfg.ProducerIDBlockSize < 0 {
		errs = append(errs, fmt.Errorf("txn: ProducerIDBlockSize %d is negative", cfg.ProducerIDBlockSize))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields.
func (cfg Config) withDefaults() Config {
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	if cfg.AbortCheckInterval <= 0 {
		cfg.AbortCheckInterval = DefaultAbortCheckInterval
	}
	if cfg.IDExpiration <= 0 {
		cfg.IDExpiration = DefaultIDExpiration
	}
	if cfg.ExpirationCheckInterval <= 0 {
		cfg.ExpirationCheckInterval = DefaultExpirationCheckInterval
	}
	if cfg.ProducerIDBlockSize <= 0 {
		cfg.ProducerIDBlockSize = DefaultProducerIDBlockSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg
}

// Coordinator is the transaction coordinator. Its methods are safe for concurrent use; see
// the package documentation for the locking model.
type Coordinator struct {
	cfg     Config
	markers Markers
	groups  Groups
	log     *slog.Logger

	pidLock chan struct{} // one slot: held across the journal write of a new block
	pidNext int64         // next id to hand out; guarded by pidLock
	pidEnd  int64         // end (exclusive) of the reserved block; guarded by pidLock

	mu      sync.Mutex
	store   *coordlog.Store
	txns    map[string]*entry
	byPID   map[int64]string // current and previous producer ids → transactional id
	started bool
	closed  bool

	cancel context.CancelFunc // stops the background loop
	done   chan struct{}      // closed when the loop exits

	// hookAfterPrepare, when set (tests only), runs after Prepare* is durable; a non-nil
	// error stops the completion there, as if the broker had crashed.
	hookAfterPrepare func(id string) error
}

// entry is one transactional id.
type entry struct {
	id   string
	lock chan struct{} // one slot: the operation lock
	// st is replaced (never modified in place) under Coordinator.mu by the lock holder.
	st txnState
	// persisted is false for an entry created by InitProducerId whose first write has not
	// succeeded yet; List/Describe/Verify ignore it.
	persisted bool
	// removed is set (under mu) when the entry left the map; a waiter that then gets the lock
	// must look the id up again.
	removed bool
}

// New makes a coordinator; Restore is then called for every journal key with prefix KeyPrefix
// ("txn/") or equal to ProducerIDKey ("pid") during coordlog.Open's replay, then Attach(store).
// Invalid Config fields are replaced by defaults (call Config.Validate to report them).
func New(cfg Config, markers Markers, groups Groups) *Coordinator {
	cfg = cfg.withDefaults()
	return &Coordinator{
		cfg:     cfg,
		markers: markers,
		groups:  groups,
		log:     cfg.Logger,
		pidLock: make(chan struct{}, 1),
		txns:    make(map[string]*entry),
		byPID:   make(map[int64]string),
	}
}

// Restore rebuilds state from one journal entry. Keys that are not the coordinator's are
// ignored; a value that cannot be decoded is an error (the journal is then unusable, and
// guessing could hand out a producer id twice).
func (c *Coordinator) Restore(key, value []byte) error {
	k := string(key)
	switch {
	case k == ProducerIDKey:
		if value == nil {
			return nil
		}
		var b pidBlock
		if err := json.Unmarshal(value, &b); err != nil || b.End < b.Start || b.Start < 0 {
			return fmt.Errorf("%w: key %q: %v", ErrCorrupt, k, err)
		}
		c.pidLock <- struct{}{}
		c.pidNext = max(c.pidNext, b.End)
		c.pidEnd = c.pidNext
		<-c.pidLock
		return nil
	case strings.HasPrefix(k, KeyPrefix):
		id := k[len(KeyPrefix):]
		c.mu.Lock()
		defer c.mu.Unlock()
		if old, ok := c.txns[id]; ok {
			c.unindexLocked(old)
			delete(c.txns, id)
		}
		if value == nil {
			return nil
		}
		var st txnState
		if err := json.Unmarshal(value, &st); err != nil {
			return fmt.Errorf("%w: key %q: %v", ErrCorrupt, k, err)
		}
		if err := st.validate(); err != nil {
			return fmt.Errorf("%w: key %q: %v", ErrCorrupt, k, err)
		}
		e := &entry{id: id, lock: make(chan struct{}, 1), st: st, persisted: true}
		c.txns[id] = e
		c.indexLocked(e)
		// Never hand out an id a transaction already holds, even if the block key was lost.
		c.pidLock <- struct{}{}
		for _, p := range []int64{st.PID, st.LastPID, st.NextPID} {
			if p >= c.pidNext {
				c.pidNext, c.pidEnd = p+1, p+1
			}
		}
		<-c.pidLock
		return nil
	}
	return nil
}

// Attach gives the coordinator the opened journal. It must be called once, after replay and
// before Start.
func (c *Coordinator) Attach(store *coordlog.Store) {
	c.mu.Lock()
	c.store = store
	c.mu.Unlock()
}

// Start finishes transactions that a crash left in PrepareCommit/PrepareAbort (writes their
// markers again, completes them) and starts the timeout/expiry loop; Close stops it. A
// completion that fails (other than by ctx ending) is logged and retried by the loop. Requests
// are answered with COORDINATOR_LOAD_IN_PROGRESS until Start has finished.
func (c *Coordinator) Start(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.store == nil:
		c.mu.Unlock()
		return fmt.Errorf("%w: Start before Attach", ErrNotReady)
	case c.closed:
		c.mu.Unlock()
		return fmt.Errorf("%w: closed", ErrNotReady)
	case c.cancel != nil:
		c.mu.Unlock()
		return errors.New("txn: Start called twice")
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	c.mu.Unlock()

	if err := c.completePending(ctx); err != nil {
		cancel()
		c.mu.Lock()
		c.cancel, c.done = nil, nil
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	c.started = true
	done := c.done
	c.mu.Unlock()
	go c.loop(loopCtx, done)
	return nil
}

// Close stops the background loop and waits for it; later requests get
// COORDINATOR_NOT_AVAILABLE. It does not close the store, which the broker owns.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// readyErr is the protocol error for a coordinator that cannot serve requests, or nil.
func (c *Coordinator) readyErr() *kerr.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed || c.store == nil:
		return kerr.CoordinatorNotAvailable
	case !c.started:
		return kerr.CoordinatorLoadInProgress
	}
	return nil
}

// lockEntry returns the entry of id with its operation lock held, waiting until ctx ends. With
// create, an absent id gets a new, not yet persisted entry; without, an absent id returns nil
// (and no lock).
func (c *Coordinator) lockEntry(ctx context.Context, id string, create bool) (*entry, error) {
	for {
		c.mu.Lock()
		e := c.txns[id]
		if e == nil {
			if !create {
				c.mu.Unlock()
				return nil, nil
			}
			e = &entry{id: id, lock: make(chan struct{}, 1), st: newState()}
			c.txns[id] = e
		}
		c.mu.Unlock()
		select {
		case e.lock <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		c.mu.Lock()
		removed := e.removed
		c.mu.Unlock()
		if !removed {
			return e, nil
		}
		<-e.lock
	}
}

// unlock releases e's operation lock. An entry that was never persisted is dropped, so that
// a failed InitProducerId leaves nothing behind.
func (c *Coordinator) unlock(e *entry) {
	c.mu.Lock()
	if !e.persisted && !e.removed {
		e.removed = true
		delete(c.txns, e.id)
	}
	c.mu.Unlock()
	<-e.lock
}

// state returns e's current state (a value whose slices must not be modified).
func (c *Coordinator) state(e *entry) txnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return e.st
}

// persist writes st as e's new state and, once durable, makes it current. The caller holds
// e's operation lock.
func (c *Coordinator) persist(ctx context.Context, e *entry, st txnState) error {
	val, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("txn: encode %q: %w", e.id, err)
	}
	c.mu.Lock()
	store := c.store
	c.mu.Unlock()
	if store == nil {
		return ErrNotReady
	}
	if err := store.Write(ctx, coordlog.Entry{Key: []byte(KeyPrefix + e.id), Value: val}); err != nil {
		return fmt.Errorf("txn: persist %q: %w", e.id, err)
	}
	c.mu.Lock()
	c.unindexLocked(e)
	e.st = st
	e.persisted = true
	c.indexLocked(e)
	c.mu.Unlock()
	return nil
}

// remove deletes e from the journal and the map. The caller holds e's operation lock.
func (c *Coordinator) remove(ctx context.Context, e *entry) error {
	c.mu.Lock()
	store := c.store
	c.mu.Unlock()
	if store == nil {
		return ErrNotReady
	}
	if err := store.Write(ctx, coordlog.Entry{Key: []byte(KeyPrefix + e.id)}); err != nil {
		return fmt.Errorf("txn: delete %q: %w", e.id, err)
	}
	c.mu.Lock()
	c.unindexLocked(e)
	e.removed = true
	delete(c.txns, e.id)
	c.mu.Unlock()
	return nil
}

// indexLocked records e's producer ids in byPID. Called with mu held.
func (c *Coordinator) indexLocked(e *entry) {
	for _, p := range []int64{e.st.PID, e.st.LastPID} {
		if p >= 0 {
			c.byPID[p] = e.id
		}
	}
}

// unindexLocked removes e's producer ids from byPID (only where they still point at e).
func (c *Coordinator) unindexLocked(e *entry) {
	for _, p := range []int64{e.st.PID, e.st.LastPID} {
		if id, ok := c.byPID[p]; ok && id == e.id {
			delete(c.byPID, p)
		}
	}
}

// storeErr maps a journal or marker failure to the code a client sees: something it retries
// (Kafka maps append failures to COORDINATOR_NOT_AVAILABLE), except an oversized value, which
// retrying cannot fix.
func storeErr(err error) *kerr.Error {
	if errors.Is(err, coordlog.ErrTooLarge) {
		return kerr.UnknownServerError
	}
	return kerr.CoordinatorNotAvailable
}

// nowMs is the coordinator clock in milliseconds.
func (c *Coordinator) nowMs() int64 { return c.cfg.Now().UnixMilli() }

// addPartitions returns the sorted union of a and b (a is not modified).
func addPartitions(a []Partition, b ...Partition) []Partition {
	out := slices.Clone(a)
	for _, p := range b {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, comparePartitions)
	return out
}

// comparePartitions orders partitions by topic, then number.
func comparePartitions(a, b Partition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// addGroup returns the sorted union of groups and g.
func addGroup(groups []string, g string) []string {
	if slices.Contains(groups, g) {
		return groups
	}
	out := append(slices.Clone(groups), g)
	slices.Sort(out)
	return out
}
