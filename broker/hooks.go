package broker

import (
	"time"
)

// Hook is any value implementing one or more of the hook interfaces below. Observability
// packages (metrics, audit) implement them; the broker core depends on none of those packages,
// in the manner of franz-go's kgo hooks.
type Hook any

// RequestInfo describes one answered request.
type RequestInfo struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      string
	Listener      string
	Remote        string
	Principal     string
	Received      time.Time
	// Latency runs from the frame being read to the response being handed to the socket.
	Latency time.Duration
}

// RequestHook observes every request the broker answers.
type RequestHook interface {
	OnRequest(RequestInfo)
}

// ConnInfo describes a client connection.
type ConnInfo struct {
	Listener string
	Remote   string
}

// ConnHook observes connections opening and closing.
type ConnHook interface {
	OnConnect(ConnInfo)
	OnDisconnect(ConnInfo)
}

type hookList []Hook

func (hs hookList) requestDone(c *conn, p *pending) {
	if len(hs) == 0 {
		return
	}
	info := RequestInfo{
		APIKey:        p.header.key,
		APIVersion:    p.header.version,
		CorrelationID: p.header.correlationID,
		ClientID:      p.header.clientID,
		Listener:      c.listener,
		Remote:        c.remote,
		Principal:     c.principal,
		Received:      p.received,
		Latency:       time.Since(p.received),
	}
	for _, h := range hs {
		if rh, ok := h.(RequestHook); ok {
			rh.OnRequest(info)
		}
	}
}

func (hs hookList) connect(c *conn) {
	for _, h := range hs {
		if ch, ok := h.(ConnHook); ok {
			ch.OnConnect(ConnInfo{Listener: c.listener, Remote: c.remote})
		}
	}
}

func (hs hookList) disconnect(c *conn) {
	for _, h := range hs {
		if ch, ok := h.(ConnHook); ok {
			ch.OnDisconnect(ConnInfo{Listener: c.listener, Remote: c.remote})
		}
	}
}
