package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/stats"
	"github.com/bulwark-kafka/bulwark/internal/bufpool"
)

// maxInFlight bounds how many requests one connection may have read but not yet answered. Kafka
// allows one; pipelining clients (librdkafka, franz-go) send up to five per connection. Beyond
// this the reader stops reading, so a client cannot queue unbounded work.
const maxInFlight = 16

// maxReusedFrame is the largest request buffer a connection keeps between requests. Larger
// frames (the big produce requests of a busy producer) come from bufpool and go back to it once
// handled: allocating each afresh made them the largest source of garbage, and with a large live
// heap (100,000 partitions) every collection costs a full mark of it (issue 17).
const maxReusedFrame = 4 << 20

// conn is one client connection. Its reader goroutine (serve) reads, decodes and handles
// requests in order; its writer goroutine (writeLoop) writes their responses in the same order.
// A reply that must wait runs on a goroutine of its own, so one long poll does not stop the
// connection from reading further requests, but it does hold back later responses.
type conn struct {
	srv      *Server
	nc       net.Conn
	listener string
	// lstats are the listener's socket-server counters (nil: metrics off).
	lstats *stats.Listener
	remote string
	logger *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	// auth is the listener's authentication set-up.
	auth *listenerAuth
	// authenticated is set once the connection may use every API: at accept time on PLAINTEXT,
	// after the TLS handshake on SSL, after the SASL exchange on SASL listeners.
	authenticated atomic.Bool
	// principalPtr is the authenticated identity; read on other goroutines (long polls, hooks).
	principalPtr atomic.Pointer[auth.Principal]
	// sasl is the SASL exchange in progress, if any (reader goroutine only).
	sasl *saslExchange
	// authDeadline is when the connection must have authenticated: one deadline from accept
	// covering the TLS handshake and the SASL exchange together.
	authDeadline time.Time
	// sessionExpiry is when the SASL session ends (KIP-368), in Unix nanoseconds; 0: never.
	sessionExpiry  atomic.Int64
	clientSoftware string
	// mechanism is the SASL mechanism the connection authenticated with (reader goroutine only);
	// authMech is the same, or "TLS" for a certificate principal, readable from any goroutine.
	mechanism string
	authMech  atomic.Pointer[string]
	// index numbers the broker's connections, the last part of Kafka's connection id.
	index uint64

	// mutedUntil is when a quota throttle ends (Unix nanoseconds): the reader reads nothing
	// before it (KIP-219).
	mutedUntil atomic.Int64

	out      chan *pending
	inFlight atomic.Int32
	closed   sync.Once

	// fetchSessions the connection created, so they can be dropped when it closes.
	fetchSessions map[int32]struct{}
}

// pending is a request whose response is not yet written.
type pending struct {
	header   requestHeader
	reply    reply
	received time.Time
	// req is the decoded request, kept for the request hook (nil without one).
	req          kmsg.Request
	requestBytes int
	requestID    string
	// Stage boundaries for the request hook: the handler ran from handlerStart to handlerDone,
	// and the response was ready at readyAt (later than handlerDone for a reply that waited).
	handlerStart, handlerDone, readyAt time.Time
	// throttle is how long the connection is muted after this response (a quota).
	throttle time.Duration
	done     chan struct{} // closed when a later reply has produced its response
	resp     kmsg.Response
	// raw marks a bare SASL token answer (after SaslHandshake v0): rawToken is written with a
	// 4-byte length and no response header.
	raw      bool
	rawToken []byte
}

func newConn(s *Server, nc net.Conn, bl *boundListener) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		srv:           s,
		nc:            nc,
		listener:      bl.cfg.Name,
		lstats:        bl.stats,
		auth:          bl.auth,
		remote:        nc.RemoteAddr().String(),
		ctx:           ctx,
		cancel:        cancel,
		out:           make(chan *pending, maxInFlight),
		fetchSessions: make(map[int32]struct{}),
		authDeadline:  time.Now().Add(s.cfg.AuthenticationTimeout),
		index:         s.connSeq.Add(1) - 1,
	}
	c.setPrincipal(auth.Anonymous)
	c.logger = s.logger.With("component", "network", "conn", c.remote, "listener", bl.cfg.Name)
	return c
}

func (c *conn) setPrincipal(p auth.Principal) { c.principalPtr.Store(&p) }

// principal is the connection's principal: User:ANONYMOUS until it authenticates.
// authMechanism is how the connection authenticated: a SASL mechanism, "TLS", or empty.
func (c *conn) authMechanism() string {
	if m := c.authMech.Load(); m != nil {
		return *m
	}
	return ""
}

// tlsInfo describes the connection's TLS session once its handshake is done (nil otherwise).
func (c *conn) tlsInfo() *hook.TLSInfo {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	if !st.HandshakeComplete {
		return nil
	}
	return &hook.TLSInfo{Version: tls.VersionName(st.Version), CipherSuite: tls.CipherSuiteName(st.CipherSuite)}
}

func (c *conn) principal() auth.Principal {
	if p := c.principalPtr.Load(); p != nil {
		return *p
	}
	return auth.Anonymous
}

// principalName is the connection's principal in "Type:Name" form.
func (c *conn) principalName() string { return c.principal().String() }

// serve runs the reader loop until the peer goes away, sends something that must close the
// connection, or the server drains. It then lets the writer finish every response already owed.
func (c *conn) serve() {
	if !c.authenticated.Load() {
		// A client that connects and never authenticates would otherwise hold a connection slot
		// until connections.max.idle.ms.
		t := time.AfterFunc(time.Until(c.authDeadline), func() {
			if !c.authenticated.Load() {
				c.authEvent(hook.AuthRefused, "", "", "authentication not completed within bulwark.authentication.timeout.ms", false)
				c.close()
			}
		})
		defer t.Stop()
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	err := c.readLoop()
	close(c.out)
	<-writerDone
	c.close()
	c.srv.sessions.dropConn(c)
	if sh := c.srv.coord.shares; sh != nil {
		// Share sessions end with their connection, releasing what their members hold.
		sh.ConnectionClosed(context.Background(), c.index)
	}
	c.logDisconnect(err)
}

func (c *conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	var buf []byte
	idle := c.srv.cfg.ConnectionsMaxIdle
	for {
		if c.srv.draining.Load() {
			return errDraining
		}
		c.waitUnmuted()
		if idle > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		frame, err := readFrame(br, &sizeBuf, c.frameLimit(), buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && c.inFlight.Load() > 0 && !c.srv.draining.Load() {
				continue // a long poll is still owed a response: not idle
			}
			return err
		}
		// Handlers finish with the request's bytes before returning (see handler), so the frame
		// buffer is reused for the next request, up to a size worth keeping per connection, and
		// a larger one is returned to the pool once the request is handled.
		pooled := cap(frame) > maxReusedFrame
		if !pooled {
			buf = frame
		}
		received := time.Now()
		var p *pending
		if c.sasl != nil && c.sasl.raw {
			p = c.handleRawSASL(frame)
		} else {
			h, req, err := parseRequest(frame, c.srv.table, c.mayServe)
			if err != nil {
				if errors.Is(err, errNotAuthenticated) {
					c.authEvent(hook.AuthRefused, "", "", fmt.Sprintf("API key %d sent before authenticating", h.key), false)
				}
				c.requestRefused(h, len(frame)+4, received, err.Error())
				return err
			}
			if err := c.checkSession(h.key, received); err != nil {
				c.requestRefused(h, len(frame)+4, received, err.Error())
				return err
			}
			entry, _ := c.srv.table.lookup(h.key)
			h.id = newRequestID()
			p = &pending{header: h, received: received, done: make(chan struct{}), requestBytes: len(frame) + 4, requestID: h.id}
			if c.srv.hooks.WantsRequest(h.key) {
				p.req = req
			}
			// Stage times are read only when metrics, hooks or quotas will use them.
			timed := c.timed()
			if timed {
				p.handlerStart = time.Now()
			}
			p.reply = c.srv.dispatch(c, entry, h, req)
			if timed {
				p.handlerDone = time.Now()
				p.throttle = c.throttleAfterHandler(p, req)
				c.mute(p.throttle)
			}
		}
		if pooled {
			bufpool.Put(frame)
		}
		c.start(p)
		select {
		case c.out <- p:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
		if p.reply.closeConn {
			return errClosedByReply
		}
	}
}

// checkSession closes a connection whose SASL session has expired (KIP-368) when it sends
// anything but the requests that re-authenticate it.
func (c *conn) checkSession(key int16, now time.Time) error {
	exp := c.sessionExpiry.Load()
	if exp == 0 || now.UnixNano() < exp || key == apiKeySaslHandshake || key == apiKeySaslAuthenticate || key == apiKeyApiVersions {
		return nil
	}
	c.authEvent(hook.AuthRefused, "", c.principalName(), "request after the SASL session expired without re-authentication", false)
	return errSessionExpired
}

// mayServe is the authentication gate: before authentication only the pre-auth APIs are served.
func (c *conn) mayServe(e *apiEntry) bool { return e.preAuth || c.authenticated.Load() }

// frameLimit is socket.request.max.bytes once authenticated and the much smaller pre-auth cap
// before, so an unauthenticated peer cannot make the broker allocate large buffers.
func (c *conn) frameLimit() int32 {
	if c.authenticated.Load() {
		return c.srv.cfg.SocketRequestMaxBytes
	}
	return c.srv.cfg.PreAuthMaxFrameBytes
}

// timed reports whether a request's stage times are read: the request metrics, a request hook
// or a client quota uses them.
func (c *conn) timed() bool {
	return c.srv.stats != nil || c.srv.hooks.WantsRequests() || c.srv.quotas.Enabled()
}

// start resolves a pending reply: at once, or on its own goroutine for a reply that waits.
func (c *conn) start(p *pending) {
	c.inFlight.Add(1)
	if p.reply.later == nil {
		p.resp = p.reply.resp
		p.readyAt = p.handlerDone
		close(p.done)
		return
	}
	go func() {
		defer close(p.done)
		defer func() {
			if r := recover(); r != nil {
				c.logger.Error("handler panic", "api_key", p.header.key, "panic", r)
				c.cancel()
			}
		}()
		p.resp = p.reply.later(c.ctx)
		if c.timed() {
			p.readyAt = time.Now()
		}
	}()
}

func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	var one [1][]byte // the pieces of a response encoded whole
	broken := false
	for p := range c.out {
		select {
		case <-p.done:
		case <-c.ctx.Done():
			<-p.done // later replies watch the same context, so this returns promptly
		}
		c.inFlight.Add(-1)
		var sendStart time.Time
		if c.timed() {
			sendStart = time.Now()
		}
		written := 0
		switch {
		case broken || p.reply.none:
		case p.raw:
			buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(p.rawToken)))
			buf = append(buf, p.rawToken...)
			written = len(buf)
			if _, err := bw.Write(buf); err != nil {
				broken = true
			}
		case p.resp != nil:
			var throttle time.Duration
			var pieces [][]byte
			buf, pieces, throttle = c.prepareResponse(p, buf)
			if throttle > p.throttle {
				p.throttle = throttle
				c.mute(throttle)
			}
			if pieces == nil {
				pieces = append(one[:0], buf)
			}
			for _, b := range pieces {
				written += len(b)
				if _, err := bw.Write(b); err != nil {
					broken = true
					break
				}
			}
		}
		if len(c.out) == 0 && !broken {
			if err := bw.Flush(); err != nil {
				broken = true
			}
		}
		if !p.raw {
			c.requestDone(p, written, sendStart)
		}
		if fr, ok := p.resp.(*kmsg.FetchResponse); ok {
			releaseFetchBatches(fr) // written (or abandoned): nothing refers to them now
		}
		if broken {
			c.close() // unblock the reader; keep draining c.out so the reader never blocks
		}
		// A large fetch response's buffer goes back to the pool rather than stay pinned to
		// an idle connection.
		buf = releaseResponseBuffer(buf)
	}
	if !broken {
		_ = bw.Flush()
	}
}

func (c *conn) close() {
	c.closed.Do(func() {
		c.cancel()
		_ = c.nc.Close()
	})
}

func (c *conn) logDisconnect(err error) {
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, errDraining):
		c.logger.Debug("connection closed")
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.logger.Info("closing idle connection", "idle", c.srv.cfg.ConnectionsMaxIdle)
	default:
		c.logger.Info("connection closed", "err", err)
	}
}

var (
	errDraining         = errors.New("broker: server draining")
	errNotAuthenticated = errors.New("broker: request before authentication")
	errClosedByReply    = errors.New("broker: connection closed after reply")
	errSessionExpired   = errors.New("broker: SASL session expired")
)
