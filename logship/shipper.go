package logship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Options configure a Shipper.
type Options struct {
	// Stream names the stream ("audit", "broker"): with the sink's name it names the cursor file.
	Stream string
	// CursorDir holds the cursor file (the stream's directory).
	CursorDir string
	// Start is the position to begin after when there is no cursor yet (0: the stream's start).
	Start uint64
	// MinBackoff and MaxBackoff bound the wait between failed attempts (defaults 100 ms, 30 s).
	MinBackoff, MaxBackoff time.Duration
	// ReadAhead is how many entries are read from the source at once (default 10,000).
	ReadAhead int
	Logger    *slog.Logger
}

// Shipper delivers one stream to one sink, in order, for as long as it runs.
type Shipper struct {
	src  Source
	sink Sink
	opts Options
	path string // the cursor file

	pos     atomic.Uint64 // the last position delivered (and saved)
	sent    atomic.Uint64 // entries delivered
	failed  atomic.Uint64 // attempts that failed
	backlog atomic.Int64  // entries read but not yet delivered (a lower bound of the backlog)
	lastErr atomic.Pointer[string]
	// unreachable: the last failure got no answer from the service (it is down or cut off, or
	// the failure was local). Only the shipper's goroutine reads and writes it.
	unreachable bool

	stop chan struct{}
	done chan struct{}
}

// NewShipper reads the cursor (or starts at Options.Start) and starts delivering.
func NewShipper(src Source, sink Sink, opts Options) (*Shipper, error) {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.ReadAhead <= 0 {
		opts.ReadAhead = 10_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Shipper{src: src, sink: sink, opts: opts, stop: make(chan struct{}), done: make(chan struct{}),
		path: filepath.Join(opts.CursorDir, "."+opts.Stream+"."+sink.Name()+".cursor")}
	pos, err := readCursor(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		pos = opts.Start
	case err != nil:
		return nil, err
	}
	if e, ok := src.(interface{ End() uint64 }); ok && pos > e.End() {
		// The cursor is past the stream's end: the stream was started anew (its files moved
		// aside or restored from an older copy). Delivering from the start beats skipping
		// every record until the positions catch up with a cursor of another stream.
		opts.Logger.Warn("log shipping cursor is past the end of its stream; delivering the stream from its start",
			"stream", opts.Stream, "sink", sink.Name(), "cursor", pos, "stream_end", e.End())
		pos = opts.Start
	}
	s.pos.Store(pos)
	go s.run()
	return s, nil
}

// Position is the last position delivered: the stream's writer must keep every entry after it.
func (s *Shipper) Position() uint64 { return s.pos.Load() }

// Stats are a shipper's counters.
type Stats struct {
	Stream, Sink string
	Position     uint64
	Sent, Failed uint64
	// Backlog is how many entries the shipper holds read but not delivered.
	Backlog   int64
	LastError string
}

// Stats returns the shipper's counters.
func (s *Shipper) Stats() Stats {
	st := Stats{Stream: s.opts.Stream, Sink: s.sink.Name(), Position: s.pos.Load(), Sent: s.sent.Load(),
		Failed: s.failed.Load(), Backlog: s.backlog.Load()}
	if e := s.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

func readCursor(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("logship: cursor %s: %w", path, err)
	}
	return v, nil
}

// saveCursor writes the position durably: a temporary file, fsync, rename.
func (s *Shipper) saveCursor(pos uint64) error {
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatUint(pos, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	return err
}

func (s *Shipper) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-s.done:
		}
	}()
	var pending []Entry
	var firstSeen time.Time // when the shipper first held pending's first entry (Linger)
	backoff := time.Duration(0)
	for {
		if len(pending) == 0 {
			entries, err := s.src.Read(s.pos.Load(), s.opts.ReadAhead)
			if err != nil {
				s.fail(fmt.Errorf("read %s: %w", s.opts.Stream, err), &backoff)
				if !s.sleep(backoff) {
					return
				}
				continue
			}
			if len(entries) == 0 {
				select {
				case <-s.src.Wait(s.pos.Load()):
					continue
				case <-time.After(time.Second):
					continue
				case <-s.stop:
					return
				}
			}
			pending = entries
			firstSeen = time.Now()
			s.backlog.Store(int64(len(pending)))
		}
		lim := s.sink.Limits()
		if lim.MinBytes > 0 && !s.ripe(pending, firstSeen, lim) {
			// Wait for more entries (or for the oldest to have lingered long enough), and add
			// only the newer ones.
			select {
			case <-s.src.Wait(pending[len(pending)-1].Pos):
				more, err := s.src.Read(pending[len(pending)-1].Pos, s.opts.ReadAhead-len(pending))
				if err == nil {
					pending = append(pending, more...)
					s.backlog.Store(int64(len(pending)))
				}
			case <-time.After(max(min(time.Until(firstSeen.Add(lim.Linger)), time.Second), time.Millisecond)):
			case <-s.stop:
				return
			}
			continue
		}
		n := len(pending)
		if lim.MaxEntries > 0 {
			n = min(n, lim.MaxEntries)
		}
		b := batch(fitAll(pending[:n], lim), lim)
		err := s.deliver(ctx, b)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.fail(err, &backoff)
			if !s.sleep(backoff) {
				return
			}
			continue
		}
		backoff = 0
		firstSeen = time.Now()
		last := b[len(b)-1].Pos
		if err := s.saveCursor(last); err != nil {
			s.opts.Logger.Error("log shipping cursor not saved; the batch may be sent again after a restart",
				"stream", s.opts.Stream, "sink", s.sink.Name(), "err", err)
		}
		s.pos.Store(last)
		s.sent.Add(uint64(len(b)))
		pending = pending[len(b):]
		s.backlog.Store(int64(len(pending)))
	}
}

// ripe reports whether pending entries make a request worth sending under MinBytes and Linger:
// the oldest has waited Linger since the shipper took it, or was written that long ago (entries
// left over from before a restart or an outage go at once).
func (s *Shipper) ripe(pending []Entry, firstSeen time.Time, l Limits) bool {
	if time.Since(firstSeen) >= l.Linger || time.Since(pending[0].Time) >= l.Linger || len(pending) >= s.opts.ReadAhead {
		return true
	}
	size := 0
	for _, e := range pending {
		size += len(e.Data) + l.PerEntryOverhead
		if size >= l.MinBytes {
			return true
		}
	}
	return false
}

func fitAll(entries []Entry, l Limits) []Entry {
	if l.MaxEntryBytes <= 0 {
		return entries
	}
	out := entries
	for i, e := range entries {
		if len(e.Data) > l.MaxEntryBytes {
			if &out[0] == &entries[0] {
				out = append([]Entry(nil), entries...)
			}
			out[i] = fit(e, l)
		}
	}
	return out
}

// deliver sends a batch until every entry of it is delivered or a whole-batch failure occurs;
// a partial failure is retried at once for exactly the refused entries, in order.
func (s *Shipper) deliver(ctx context.Context, b []Entry) error {
	todo := b
	for attempt := 0; ; attempt++ {
		err := s.sink.Send(ctx, todo)
		var pe *PartialError
		if !errors.As(err, &pe) {
			return err
		}
		if len(pe.Failed) == 0 {
			return nil
		}
		retry := make([]Entry, 0, len(pe.Failed))
		for _, i := range pe.Failed {
			if i >= 0 && i < len(todo) {
				retry = append(retry, todo[i])
			}
		}
		todo = retry
		s.failed.Add(1)
		if attempt > 0 && !s.sleep(min(s.opts.MinBackoff<<min(attempt, 8), s.opts.MaxBackoff)) {
			return context.Canceled
		}
	}
}

func (s *Shipper) fail(err error, backoff *time.Duration) {
	s.failed.Add(1)
	msg := err.Error()
	prev := s.lastErr.Swap(&msg)
	// The SDKs wrap every failure of a request in a response error, status 0 when no response
	// came (a refused connection): only a status says the service answered.
	var answer interface{ HTTPStatusCode() int }
	unreachable := !errors.As(err, &answer) || statusOf(answer) == 0
	if s.unreachable && !unreachable {
		// The service answers again (throttling it back, say): after a long outage the backoff
		// is at its longest, so start over rather than wait that long between its answers.
		*backoff = 0
	}
	s.unreachable = unreachable
	*backoff = min(max(*backoff*2, s.opts.MinBackoff), s.opts.MaxBackoff)
	if prev == nil || *prev != msg {
		s.opts.Logger.Warn("log shipping failed; retrying until it succeeds", "stream", s.opts.Stream, "sink", s.sink.Name(),
			"err", err, "next_attempt_in", *backoff)
	}
}

// statusOf is a response error's HTTP status, 0 when it carries no response at all.
func statusOf(e interface{ HTTPStatusCode() int }) (code int) {
	defer func() {
		if recover() != nil {
			code = 0 // a response error built without its response
		}
	}()
	return e.HTTPStatusCode()
}

// sleep waits d, or returns false if the shipper stops first.
func (s *Shipper) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}

// Close stops the shipper, waiting up to ctx for the batch in flight; what is not delivered is
// sent after the next start.
func (s *Shipper) Close(ctx context.Context) error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush waits until the shipper has delivered position pos, or ctx ends (the sink is down: the
// rest goes after the next start). It reports whether pos was delivered.
func (s *Shipper) Flush(ctx context.Context, pos uint64) bool {
	for s.pos.Load() < pos {
		select {
		case <-ctx.Done():
			return false
		case <-s.done:
			return s.pos.Load() >= pos
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}
