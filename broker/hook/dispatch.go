package hook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Overflow is what a registration wants done with an event when its queue is full.
type Overflow int

const (
	// OverflowDrop drops the event and counts it: right for metrics, which must never slow the
	// broker and can tolerate a gap.
	OverflowDrop Overflow = iota
	// OverflowBlock makes the emitter wait for room, up to BlockTimeout: right for audit, which
	// must not lose records. An event still without room after BlockTimeout is dropped, counted
	// as lost and logged at error level, so a stuck hook cannot stall connections for ever.
	OverflowBlock
)

func (o Overflow) String() string {
	if o == OverflowBlock {
		return "block"
	}
	return "drop"
}

// Defaults for a Registration's zero values.
const (
	DefaultQueueSize    = 4096
	DefaultBlockTimeout = 5 * time.Second
)

// Registration is one observer: its name (for logs and stats), how its queue overflows, and one
// hook per event kind it wants (nil for the kinds it ignores).
type Registration struct {
	Name         string
	Overflow     Overflow
	QueueSize    int           // 0: DefaultQueueSize
	BlockTimeout time.Duration // OverflowBlock only; 0: DefaultBlockTimeout

	Request RequestHook
	// RequestFilter, when set, limits Request events to the API keys it accepts (refusals are
	// always delivered): an audit trail of admin operations does not make the broker build an
	// event for every produce and fetch.
	RequestFilter  func(apiKey int16) bool
	Connection     ConnectionHook
	Authentication AuthenticationHook
	Key            KeyHook
	Config         ConfigHook
	Authorization  AuthorizationHook
	// DeniedOnly limits Authorization events to denials: the broker then builds no event for
	// the allowed actions of every request.
	DeniedOnly bool
}

// Stats are one registration's counters.
type Stats struct {
	Name      string
	Overflow  Overflow
	Delivered uint64
	// Dropped counts events not delivered: a full queue (OverflowDrop), a back-pressure wait that
	// ran out (OverflowBlock) or an event emitted after Close.
	Dropped uint64
	Panics  uint64
	Queued  int
}

// event is one queued event; exactly one field is set.
type event struct {
	req  *Request
	conn *Connection
	auth *Authentication
	key  *KeyCall
	cfg  *ConfigChange
	az   *Authorization
}

type subscriber struct {
	reg    Registration
	ch     chan event
	quit   chan struct{}
	done   chan struct{}
	closed atomic.Bool

	delivered, dropped, panics atomic.Uint64
}

// Dispatcher hands events to registered hooks. The zero value is not usable; use New. A nil
// *Dispatcher is valid and emits nothing, so a broker without hooks pays nothing.
type Dispatcher struct {
	logger *slog.Logger
	subs   []*subscriber
	// wants* say whether any registration observes a kind, so the broker can skip building
	// events nobody reads.
	wantsRequest, wantsConnection, wantsAuth, wantsKey, wantsConfig, wantsAuthz bool
	// wantsAllows says whether any authorization observer wants allowed decisions too.
	wantsAllows bool
	// requestKeys[k] says whether any registration wants Request events of API key k.
	requestKeys [maxAPIKey + 1]bool
	closeOnce   sync.Once
}

// New starts a goroutine per registration. logger receives panics and lost events; nil discards.
func New(logger *slog.Logger, regs ...Registration) *Dispatcher {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &Dispatcher{logger: logger}
	for i, r := range regs {
		if r.Name == "" {
			r.Name = fmt.Sprintf("hook-%d", i)
		}
		if r.QueueSize <= 0 {
			r.QueueSize = DefaultQueueSize
		}
		if r.BlockTimeout <= 0 {
			r.BlockTimeout = DefaultBlockTimeout
		}
		s := &subscriber{reg: r, ch: make(chan event, r.QueueSize), quit: make(chan struct{}), done: make(chan struct{})}
		d.subs = append(d.subs, s)
		d.wantsRequest = d.wantsRequest || r.Request != nil
		d.wantsConnection = d.wantsConnection || r.Connection != nil
		d.wantsAuth = d.wantsAuth || r.Authentication != nil
		d.wantsKey = d.wantsKey || r.Key != nil
		if r.Request != nil {
			for k := range d.requestKeys {
				d.requestKeys[k] = d.requestKeys[k] || r.RequestFilter == nil || r.RequestFilter(int16(k))
			}
		}
		d.wantsConfig = d.wantsConfig || r.Config != nil
		d.wantsAuthz = d.wantsAuthz || r.Authorization != nil
		d.wantsAllows = d.wantsAllows || (r.Authorization != nil && !r.DeniedOnly)
		go d.run(s)
	}
	return d
}

// WantsRequests reports whether any registration observes requests; building a Request event
// (error codes, resources) is skipped when none does.
func (d *Dispatcher) WantsRequests() bool { return d != nil && d.wantsRequest }

// maxAPIKey bounds the API keys RequestFilter is asked about; larger keys are never served.
const maxAPIKey = 127

// WantsRequest reports whether any registration observes requests of this API key.
func (d *Dispatcher) WantsRequest(apiKey int16) bool {
	return d != nil && d.wantsRequest && apiKey >= 0 && int(apiKey) <= maxAPIKey && d.requestKeys[apiKey]
}

// Request emits a request event to the registrations that want its API key (every one that
// observes requests, for a refusal).
func (d *Dispatcher) Request(ev Request) {
	if d.WantsRequests() {
		d.emit(event{req: &ev}, func(r Registration) bool {
			return r.Request != nil && (ev.Refusal != "" || r.RequestFilter == nil || r.RequestFilter(ev.APIKey))
		})
	}
}

// Connection emits a connection event.
func (d *Dispatcher) Connection(ev Connection) {
	if d != nil && d.wantsConnection {
		d.emit(event{conn: &ev}, func(r Registration) bool { return r.Connection != nil })
	}
}

// Authentication emits an authentication event.
func (d *Dispatcher) Authentication(ev Authentication) {
	if d != nil && d.wantsAuth {
		d.emit(event{auth: &ev}, func(r Registration) bool { return r.Authentication != nil })
	}
}

// ConnectionNoWait emits a connection event without ever waiting, whatever a registration's
// overflow policy: for events emitted where waiting would stall others (the accept loop). A full
// queue drops the event and counts it; for an OverflowBlock registration the loss is also logged.
func (d *Dispatcher) ConnectionNoWait(ev Connection) {
	if d == nil || !d.wantsConnection {
		return
	}
	for _, s := range d.subs {
		if s.reg.Connection == nil {
			continue
		}
		if s.closed.Load() {
			s.dropped.Add(1)
			continue
		}
		select {
		case s.ch <- event{conn: &ev}:
		default:
			n := s.dropped.Add(1)
			if s.reg.Overflow == OverflowBlock && n&(n-1) == 0 {
				d.logger.Error("hook event lost: queue full at accept", "hook", s.reg.Name, "lost_total", n)
			}
		}
	}
}

// KeyCall emits a key-service call event.
func (d *Dispatcher) KeyCall(ev KeyCall) {
	if d != nil && d.wantsKey {
		d.emit(event{key: &ev}, func(r Registration) bool { return r.Key != nil })
	}
}

// ConfigChange emits a configuration change event.
func (d *Dispatcher) ConfigChange(ev ConfigChange) {
	if d != nil && d.wantsConfig {
		d.emit(event{cfg: &ev}, func(r Registration) bool { return r.Config != nil })
	}
}

// WantsAuthorizations reports whether any registration observes authorization decisions.
func (d *Dispatcher) WantsAuthorizations() bool { return d != nil && d.wantsAuthz }

// WantsAllowedAuthorizations reports whether any registration observes allowed decisions.
func (d *Dispatcher) WantsAllowedAuthorizations() bool { return d != nil && d.wantsAllows }

// Authorization emits an authorization decision event.
func (d *Dispatcher) Authorization(ev Authorization) {
	if d.WantsAuthorizations() {
		d.emit(event{az: &ev}, func(r Registration) bool { return r.Authorization != nil && (!ev.Allowed || !r.DeniedOnly) })
	}
}

func (d *Dispatcher) emit(ev event, wants func(Registration) bool) {
	for _, s := range d.subs {
		if wants(s.reg) {
			d.offer(s, ev)
		}
	}
}

// offer queues ev for s under s's overflow policy.
func (d *Dispatcher) offer(s *subscriber, ev event) {
	if s.closed.Load() {
		s.dropped.Add(1)
		return
	}
	select {
	case s.ch <- ev:
		return
	default:
	}
	if s.reg.Overflow == OverflowDrop {
		s.dropped.Add(1)
		return
	}
	t := time.NewTimer(s.reg.BlockTimeout)
	defer t.Stop()
	select {
	case s.ch <- ev:
	case <-s.quit:
		s.dropped.Add(1)
	case <-t.C:
		n := s.dropped.Add(1)
		d.logger.Error("hook event lost: queue full for the whole back-pressure timeout",
			"hook", s.reg.Name, "timeout", s.reg.BlockTimeout, "lost_total", n)
	}
}

// run delivers s's events in order until Close, then delivers what is already queued.
func (d *Dispatcher) run(s *subscriber) {
	defer close(s.done)
	for {
		select {
		case ev := <-s.ch:
			d.deliver(s, ev)
		case <-s.quit:
			for {
				select {
				case ev := <-s.ch:
					d.deliver(s, ev)
				default:
					return
				}
			}
		}
	}
}

// deliver calls the hook for one event, containing any panic.
func (d *Dispatcher) deliver(s *subscriber, ev event) {
	defer func() {
		if p := recover(); p != nil {
			// A hook that panics on every event must not flood the log: the first panic is logged
			// with its stack, later ones at each power of two, all of them counted.
			n := s.panics.Add(1)
			switch {
			case n == 1:
				d.logger.Error("hook panicked; event skipped", "hook", s.reg.Name, "panic", fmt.Sprint(p),
					"panics_total", n, "stack", string(debug.Stack()))
			case n&(n-1) == 0:
				d.logger.Error("hook panicked again; events skipped", "hook", s.reg.Name, "panic", fmt.Sprint(p), "panics_total", n)
			}
		}
	}()
	r := s.reg
	switch {
	case ev.req != nil:
		r.Request.OnRequest(*ev.req)
	case ev.conn != nil:
		r.Connection.OnConnection(*ev.conn)
	case ev.auth != nil:
		r.Authentication.OnAuthentication(*ev.auth)
	case ev.key != nil:
		r.Key.OnKeyCall(*ev.key)
	case ev.cfg != nil:
		r.Config.OnConfigChange(*ev.cfg)
	case ev.az != nil:
		r.Authorization.OnAuthorization(*ev.az)
	}
	s.delivered.Add(1)
}

// Stats returns every registration's counters.
func (d *Dispatcher) Stats() []Stats {
	if d == nil {
		return nil
	}
	out := make([]Stats, 0, len(d.subs))
	for _, s := range d.subs {
		out = append(out, Stats{Name: s.reg.Name, Overflow: s.reg.Overflow, Delivered: s.delivered.Load(),
			Dropped: s.dropped.Load(), Panics: s.panics.Load(), Queued: len(s.ch)})
	}
	return out
}

// Close stops accepting events and waits, until ctx ends, for every hook to finish the events
// already queued. Events emitted afterwards are dropped and counted.
func (d *Dispatcher) Close(ctx context.Context) error {
	if d == nil {
		return nil
	}
	d.closeOnce.Do(func() {
		for _, s := range d.subs {
			s.closed.Store(true)
			close(s.quit)
		}
	})
	for _, s := range d.subs {
		select {
		case <-s.done:
		case <-ctx.Done():
			return fmt.Errorf("hook: %s still delivering queued events: %w", s.reg.Name, ctx.Err())
		}
		// An emit that passed the closed check just before Close may have queued an event after
		// the final drain: count it as dropped rather than lose it silently.
		for {
			select {
			case <-s.ch:
				s.dropped.Add(1)
				continue
			default:
			}
			break
		}
	}
	return nil
}
