// Package cwlfake is a small local Amazon CloudWatch Logs for tests: an HTTP server speaking the
// service's JSON protocol (AWS JSON 1.1, X-Amz-Target: Logs_20140328.<Operation>) well enough
// that the real aws-sdk-go-v2 client works against it unchanged. It implements CreateLogGroup,
// CreateLogStream, PutLogEvents and GetLogEvents, enforces PutLogEvents' limits (10,000 events,
// 1,048,576 bytes counting 26 bytes per event, chronological order, a 24-hour span, events no
// older than 14 days or more than 2 hours ahead), answers with the service's error shapes, and
// can be stopped and restarted on the same address, throttled or made unavailable.
//
// It is test support only.
package cwlfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// PutLogEvents limits (CloudWatch Logs API reference).
const (
	MaxBatchEvents   = 10_000
	MaxBatchBytes    = 1_048_576
	PerEventOverhead = 26
	MaxEventBytes    = 1_048_576 - PerEventOverhead
	maxSpan          = 24 * time.Hour
	maxAge           = 14 * 24 * time.Hour
	maxAhead         = 2 * time.Hour
)

// Event is a stored log event.
type Event struct {
	Timestamp int64
	Message   string
}

// Server is a fake CloudWatch Logs endpoint.
type Server struct {
	mu      sync.Mutex
	addr    string
	srv     *http.Server
	groups  map[string]map[string][]Event // group -> stream -> events
	failing []string                      // error types for the next requests
	calls   map[string]int
	now     func() time.Time
}

// Start listens on 127.0.0.1:0 and serves.
func Start() (*Server, error) {
	s := &Server{groups: map[string]map[string][]Event{}, calls: map[string]int{}, now: time.Now}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	return s, nil
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// URL is the endpoint to give the SDK.
func (s *Server) URL() string { return "http://" + s.addr }

// Stop closes the listener and every connection: an outage.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart serves again on the same address.
func (s *Server) Restart() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.serve(ln)
	return nil
}

// Fail makes the next n requests fail with the error type (ThrottlingException,
// ServiceUnavailableException, ...).
func (s *Server) Fail(errType string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.failing = append(s.failing, errType)
	}
}

// Events returns a stream's stored events.
func (s *Server) Events(group, stream string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.groups[group][stream]...)
}

// Calls returns how many requests of an operation were answered (failed ones included).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

type apiError struct {
	status int
	typ    string
	msg    string
}

func fail(status int, typ, format string, args ...any) *apiError {
	return &apiError{status: status, typ: typ, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328.")
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*MaxBatchBytes))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.calls[op]++
	var out any
	var aerr *apiError
	if len(s.failing) > 0 {
		typ := s.failing[0]
		s.failing = s.failing[1:]
		status := http.StatusBadRequest
		if typ == "ServiceUnavailableException" {
			status = http.StatusServiceUnavailable
		}
		aerr = fail(status, typ, "injected failure")
	} else {
		out, aerr = s.dispatch(op, body)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if aerr != nil {
		w.Header().Set("X-Amzn-ErrorType", aerr.typ)
		w.WriteHeader(aerr.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": aerr.typ, "message": aerr.msg})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) dispatch(op string, body []byte) (any, *apiError) {
	var in struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		LogEvents     []struct {
			Timestamp *int64  `json:"timestamp"`
			Message   *string `json:"message"`
		} `json:"logEvents"`
		StartFromHead bool `json:"startFromHead"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fail(400, "SerializationException", "%v", err)
	}
	switch op {
	case "CreateLogGroup":
		if _, ok := s.groups[in.LogGroupName]; ok {
			return nil, fail(400, "ResourceAlreadyExistsException", "The specified log group already exists")
		}
		s.groups[in.LogGroupName] = map[string][]Event{}
		return struct{}{}, nil
	case "CreateLogStream":
		g, ok := s.groups[in.LogGroupName]
		if !ok {
			return nil, fail(400, "ResourceNotFoundException", "The specified log group does not exist.")
		}
		if _, ok := g[in.LogStreamName]; ok {
			return nil, fail(400, "ResourceAlreadyExistsException", "The specified log stream already exists")
		}
		g[in.LogStreamName] = []Event{}
		return struct{}{}, nil
	case "PutLogEvents":
		return s.put(in.LogGroupName, in.LogStreamName, in.LogEvents)
	case "GetLogEvents":
		return map[string]any{"events": s.groups[in.LogGroupName][in.LogStreamName]}, nil
	}
	return nil, fail(400, "UnknownOperationException", "unknown operation %q", op)
}

func (s *Server) put(group, stream string, events []struct {
	Timestamp *int64  `json:"timestamp"`
	Message   *string `json:"message"`
}) (any, *apiError) {
	g, ok := s.groups[group]
	if !ok {
		return nil, fail(400, "ResourceNotFoundException", "The specified log group does not exist.")
	}
	if _, ok := g[stream]; !ok {
		return nil, fail(400, "ResourceNotFoundException", "The specified log stream does not exist.")
	}
	if len(events) == 0 || len(events) > MaxBatchEvents {
		return nil, fail(400, "InvalidParameterException", "%d log events: between 1 and %d allowed", len(events), MaxBatchEvents)
	}
	size := 0
	var first, last int64
	now := s.now().UnixMilli()
	var stored []Event
	tooOld, tooNew := -1, -1
	for i, e := range events {
		if e.Timestamp == nil || e.Message == nil {
			return nil, fail(400, "InvalidParameterException", "event %d lacks a timestamp or message", i)
		}
		n := len(*e.Message) + PerEventOverhead
		if n-PerEventOverhead > MaxEventBytes {
			return nil, fail(400, "InvalidParameterException", "event %d of %d bytes is too large", i, n)
		}
		size += n
		ts := *e.Timestamp
		if i == 0 {
			first = ts
		} else if ts < last {
			return nil, fail(400, "InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order.")
		}
		last = ts
		switch {
		case ts < now-maxAge.Milliseconds():
			tooOld = i
		case ts > now+maxAhead.Milliseconds():
			if tooNew < 0 {
				tooNew = i
			}
		default:
			stored = append(stored, Event{Timestamp: ts, Message: *e.Message})
		}
	}
	if size > MaxBatchBytes {
		return nil, fail(400, "InvalidParameterException", "batch of %d bytes exceeds %d", size, MaxBatchBytes)
	}
	if last-first > maxSpan.Milliseconds() {
		return nil, fail(400, "InvalidParameterException", "A batch of log events in a single request cannot span more than 24 hours.")
	}
	g[stream] = append(g[stream], stored...)
	out := map[string]any{}
	if tooOld >= 0 || tooNew >= 0 {
		info := map[string]int{}
		if tooOld >= 0 {
			info["tooOldLogEventEndIndex"] = tooOld
		}
		if tooNew >= 0 {
			info["tooNewLogEventStartIndex"] = tooNew
		}
		out["rejectedLogEventsInfo"] = info
	}
	return out, nil
}
