package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/auth/scram"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/keys"
	"github.com/bulwark-kafka/bulwark/broker/meta"
	"github.com/bulwark-kafka/bulwark/broker/quota"
	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// Server is a single Kafka broker: its listeners, connections and the partitions it leads.
type Server struct {
	cfg    *config.Config
	logger *slog.Logger
	hooks  *hook.Dispatcher
	// hookRegs are the registrations WithHook collected; New starts the dispatcher from them.
	hookRegs []hook.Registration
	// stats are the counters package metrics reads (nil: metrics off, nothing counted).
	stats *stats.Broker
	// gate admits each request before it runs (nil: every request; WithAdmissionGate).
	gate func(apiKey int16) error

	table    *handlerTable
	cluster  *cluster
	sessions *fetchSessionCache
	coord    coordinators

	ctx    context.Context
	cancel context.CancelFunc

	// listenerAuth holds each listener's authentication set-up, by listener name.
	listenerAuth map[string]*listenerAuth
	// extraMechanisms are SASL mechanisms supplied by embedders and tests (WithMechanism).
	extraMechanisms map[string]auth.Mechanism
	limits          *connLimits
	quotas          *quota.Manager
	// authz decides every request (nil: authorizer.class.name unset, everything allowed);
	// aclSync feeds it the metadata log's ACLs; denialLog rate-limits denial log lines.
	authz authz.Authorizer
	// topicPolicy checks topic creations and changes (nil: none).
	topicPolicy authz.TopicPolicy
	aclSync     aclSync
	denialLog   logLimiter
	lock        *dirLock
	keys        keys.Provider // nil when encryption at rest is off
	// now is the clock for session lifetimes and credential expiry.
	now func() time.Time

	// decoys caches the SCRAM stand-in shape per mechanism for decoyState (scramDecoy).
	decoyMu    sync.Mutex
	decoyState *meta.State
	decoys     map[string]scram.Decoy

	// reloadMu serializes configuration reloads.
	reloadMu sync.Mutex

	mu        sync.Mutex
	listeners []*boundListener
	conns     map[*conn]struct{}
	connWG    sync.WaitGroup
	bgWG      sync.WaitGroup
	draining  atomic.Bool
	// connSeq numbers accepted connections (Kafka's connection id index).
	connSeq atomic.Uint64
	// delayedCloses counts refused connections waiting out a throttle before they are closed.
	delayedCloses atomic.Int32
	// refusalLog rate-limits the log lines of connections refused at accept.
	refusalLog logLimiter
	closeOnce  sync.Once
	closeErr   error
}

// boundListener is a listener from `listeners` with the address it actually bound, which
// differs from the configured one when the port is 0 (tests).
type boundListener struct {
	cfg      config.Listener
	protocol string
	auth     *listenerAuth
	ln       net.Listener
	// stats are the listener's socket-server counters (nil: metrics off).
	stats *stats.Listener
}

// Option configures a Server beyond its configuration file, for embedding and tests.
type Option func(*Server)

// WithLogger sets the broker log. The default discards everything.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// WithMechanism offers an extra SASL mechanism (or replaces a built-in one of the same name) on
// SASL listeners that enable it in sasl.enabled.mechanisms.
func WithMechanism(m auth.Mechanism) Option {
	return func(s *Server) {
		if s.extraMechanisms == nil {
			s.extraMechanisms = map[string]auth.Mechanism{}
		}
		s.extraMechanisms[m.Name()] = m
	}
}

// WithStats makes the broker keep its metric counters in st (stats.NewBroker(APIName)); package
// metrics reads them. Without it nothing is counted.
func WithStats(st *stats.Broker) Option { return func(s *Server) { s.stats = st } }

// New opens the broker's storage (metadata and every partition log, recovering after a crash)
// but does not listen yet; call Start.
func New(cfg *config.Config, opts ...Option) (_ *Server, err error) {
	s := &Server{cfg: cfg, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), conns: make(map[*conn]struct{}),
		limits: newConnLimits(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(s.hookRegs) > 0 {
		s.hooks = hook.New(s.logger, s.hookRegs...)
		defer func() {
			if err != nil {
				_ = s.hooks.Close(context.Background())
			}
		}()
	}
	s.listenerAuth = make(map[string]*listenerAuth, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		la, err := s.buildListenerAuth(l)
		if err != nil {
			return nil, err
		}
		s.listenerAuth[l.Name] = la
	}
	lock, err := lockDataDir(cfg.LogDirs[0])
	if err != nil {
		return nil, err
	}
	s.lock = lock
	kp, err := NewKeyProvider(cfg, keyObserver{logger: s.logger, hooks: s.hooks})
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	if kp == nil {
		s.logger.Warn("encryption at rest is OFF (bulwark.encryption.enabled=false): record data, credentials and configs are stored in plaintext under log.dirs")
	} else {
		s.logger.Info("encryption at rest", "keys", describeProvider(cfg))
	}
	s.keys = kp
	s.ctx, s.cancel = context.WithCancel(context.Background())
	cl, err := openCluster(cfg, s.logger, kp, s.stats)
	if err != nil {
		s.cancel()
		_ = lock.Close()
		return nil, err
	}
	s.cluster = cl
	if err := s.bootstrapUsers(); err != nil {
		s.cancel()
		_ = cl.close()
		_ = lock.Close()
		return nil, err
	}
	if (cfg.AuthorizerClassName == "") != (s.authz == nil) {
		s.cancel()
		_ = cl.close()
		_ = lock.Close()
		return nil, fmt.Errorf("broker: authorizer.class.name=%q but the server was built %s an authorizer", cfg.AuthorizerClassName,
			map[bool]string{true: "without", false: "with"}[s.authz == nil])
	}
	s.syncACLs(cl.store.State())
	s.newQuotaManager()
	s.sessions = newFetchSessionCache(cfg.FetchSessionCacheSlots)
	if err := s.openCoordinators(); err != nil {
		s.cancel()
		_ = cl.close()
		_ = lock.Close()
		return nil, err
	}
	s.table = newHandlerTable(s)
	return s, nil
}

// Start binds every listener and begins serving, plus the background retention loop.
func (s *Server) Start() error {
	for _, l := range s.cfg.Listeners {
		addr := net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("broker: listener %s: %w", l.Name, err)
		}
		bl := &boundListener{cfg: l, protocol: s.cfg.SecurityProtocolMap[l.Name], auth: s.listenerAuth[l.Name], ln: ln,
			stats: s.stats.Listener(l.Name)}
		s.mu.Lock()
		s.listeners = append(s.listeners, bl)
		s.mu.Unlock()
		s.logger.Info("listening", "listener", l.Name, "addr", ln.Addr().String(), "protocol", bl.protocol)
	}
	for _, bl := range s.listeners {
		s.bgWG.Add(1)
		go s.acceptLoop(bl)
	}
	s.bgWG.Add(3)
	go s.cluster.retentionLoop(s.ctx, &s.bgWG)
	go s.cluster.flushLoop(s.ctx, &s.bgWG)
	go s.cluster.spaceLoop(s.ctx, &s.bgWG)
	s.startCoordinators()
	return nil
}

// Addr returns the bound address of the first listener.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) == 0 {
		return nil
	}
	return s.listeners[0].ln.Addr()
}

// dispatch runs a handler, turning a panic into a closed connection and a log line: a bug in one
// handler must never take the broker down.
func (s *Server) dispatch(c *conn, e *apiEntry, h requestHeader, req kmsg.Request) (r reply) {
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("handler panic", "api_key", h.key, "api_version", h.version, "panic", p)
			r = reply{none: true, closeConn: true}
		}
	}()
	if s.gate != nil {
		if err := s.gate(h.key); err != nil {
			// Refused, not executed: the connection is closed (no answer could say why in
			// every API's shape), and the refusal is logged and recorded under the request id.
			c.requestRefused(h, 0, time.Now(), "not admitted: "+err.Error())
			return reply{none: true, closeConn: true}
		}
	}
	return e.handle(c, h, req)
}

// WithAdmissionGate makes every request ask gate first; an error refuses it before it runs (the
// connection is closed, the refusal logged and recorded). `bulwark serve` refuses the audited
// admin APIs while the audit trail cannot be written, rather than perform them unaudited.
func WithAdmissionGate(gate func(apiKey int16) error) Option {
	return func(s *Server) { s.gate = gate }
}

// connCloseGrace is how long Shutdown waits for connection goroutines after closing their
// sockets before it gives up on them.
const connCloseGrace = 500 * time.Millisecond

// Shutdown drains the broker: it stops accepting, stops reading new requests, answers every
// request already read (waiting up to ctx for long polls and fsyncs), then syncs and closes every
// log. It is what SIGTERM does.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.draining.Store(true)
		s.closeListeners()
		// Members waiting in JoinGroup/SyncGroup (for up to their rebalance timeout) are told
		// NOT_COORDINATOR now, as when Kafka moves a coordinator, so they do not hold the drain.
		s.coord.groups.Close()
		s.mu.Lock()
		for c := range s.conns {
			// Wake readers blocked on the socket; they see draining and stop reading.
			_ = c.nc.SetReadDeadline(time.Now())
		}
		s.mu.Unlock()
		done := make(chan struct{})
		go func() { s.connWG.Wait(); close(done) }()
		// Long polls end early when the server context is cancelled, answering with what they have.
		s.cluster.wakeAll()
		select {
		case <-done:
		case <-ctx.Done():
			s.logger.Warn("shutdown deadline reached; closing connections with requests in flight")
		}
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.close()
		}
		s.mu.Unlock()
		// Closed sockets end every reader and writer; a connection goroutine that still does not
		// return (a stuck SASL mechanism, say) must not hold the shutdown past its deadline.
		stuck := false
		select {
		case <-done:
		case <-time.After(connCloseGrace):
			stuck = true
		}
		s.bgWG.Wait()
		if stuck {
			// Closing logs and zeroing keys under a handler that may still run could turn its
			// late write into garbage. Everything acknowledged is already on disk, so leave
			// storage to the process exit and say so.
			s.logger.Error("shutdown: connections still busy after being closed; storage left open for the process exit",
				"grace", connCloseGrace)
			s.closeErr = errors.New("broker: shutdown left storage open: connection goroutines did not finish")
		} else {
			s.closeErr = errors.Join(s.closeCoordinators(), s.cluster.close(), s.lock.Close())
			if l, ok := s.keys.(*keys.Local); ok {
				l.Close() // zero the master keys
			}
		}
		// Hooks get what is already queued (audit must not lose the last records), within the
		// shutdown deadline, or a short grace when it has passed.
		hctx := ctx
		if ctx.Err() != nil {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(context.Background(), time.Second)
			defer cancel()
		}
		if err := s.hooks.Close(hctx); err != nil {
			s.logger.Error("shutdown: hooks did not finish", "err", err)
		}
	})
	return s.closeErr
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, bl := range s.listeners {
		_ = bl.ln.Close()
	}
}

// advertised returns the host and port clients should use for this broker: the advertised
// listener with the same name as the one the client connected through, falling back to the bound
// address when the configured port is 0.
func (s *Server) advertised(listener string) (string, int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var bound *boundListener
	for _, bl := range s.listeners {
		if bl.cfg.Name == listener {
			bound = bl
		}
	}
	for _, a := range s.cfg.AdvertisedListeners {
		if a.Name == listener {
			if a.Port == 0 && bound != nil {
				return advertisedHost(a.Host, bound), int32(bound.ln.Addr().(*net.TCPAddr).Port)
			}
			return advertisedHost(a.Host, bound), int32(a.Port)
		}
	}
	if bound != nil {
		addr := bound.ln.Addr().(*net.TCPAddr)
		return advertisedHost(bound.cfg.Host, bound), int32(addr.Port)
	}
	return "127.0.0.1", 9092
}

func advertisedHost(host string, bound *boundListener) string {
	if host != "" && host != "0.0.0.0" && host != "::" {
		return host
	}
	if bound != nil {
		if ip := bound.ln.Addr().(*net.TCPAddr).IP; !ip.IsUnspecified() {
			return ip.String()
		}
	}
	// Bound to every interface: advertise the host name, as Kafka does.
	if name, err := os.Hostname(); err == nil {
		return name
	}
	return "localhost"
}
