package broker

import (
	"fmt"
	"net"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// WithHook registers an observer (metrics, audit) for the broker's events; see package hook for
// the contract: typed hooks, a bounded queue per registration with the overflow policy it
// declares, panics contained.
func WithHook(r hook.Registration) Option {
	return func(s *Server) { s.hookRegs = append(s.hookRegs, r) }
}

// HookStats returns each hook registration's counters (delivered, dropped, panics).
func (s *Server) HookStats() []hook.Stats { return s.hooks.Stats() }

// requestDone records one answered (or silently completed) request: its RequestMetrics and its
// hook event.
func (c *conn) requestDone(p *pending, responseBytes int, sendStart time.Time) {
	hs := c.srv.hooks
	st := c.srv.stats
	wants := hs.WantsRequest(p.header.key)
	if st == nil && !wants {
		return
	}
	sendEnd := time.Now()
	stages := hook.Stages{
		Queue:         p.handlerStart.Sub(p.received),
		Local:         p.handlerDone.Sub(p.handlerStart),
		Remote:        p.readyAt.Sub(p.handlerDone),
		ResponseQueue: nonNegative(sendStart.Sub(p.readyAt)),
		ResponseSend:  sendEnd.Sub(sendStart),
	}
	if st != nil {
		c.srv.recordRequest(p.header, stages, p.throttle, p.resp)
	}
	if !wants {
		return
	}
	ev := c.requestEvent(p.header, p.requestBytes, p.received)
	ev.RequestID = p.requestID
	ev.ResponseBytes = responseBytes
	ev.Throttle = p.throttle
	ev.Stages = stages
	if p.resp != nil {
		ev.ErrorCodes = errorCodes(p.resp)
	}
	if p.req != nil {
		ev.Resources, ev.ResourcesOmitted = resourcesOf(p.req)
	}
	hs.Request(ev)
}

// requestRefused records a request the broker answered by closing the connection: logged and
// emitted under one request id.
func (c *conn) requestRefused(h requestHeader, frameBytes int, received time.Time, reason string) {
	id := newRequestID()
	c.logger.Warn("closing connection: request refused", "request_id", id, "api_key", h.key, "api_version", h.version,
		"correlation_id", h.correlationID, "client_id", h.clientID, "principal", c.principal().String(), "reason", reason)
	if !c.srv.hooks.WantsRequests() {
		return
	}
	ev := c.requestEvent(h, frameBytes, received)
	ev.RequestID = id
	ev.Refusal = reason
	ev.Stages.Local = time.Since(received)
	c.srv.hooks.Request(ev)
}

func (c *conn) requestEvent(h requestHeader, frameBytes int, received time.Time) hook.Request {
	return hook.Request{
		Received:      received,
		Principal:     c.principal(),
		Mechanism:     c.authMechanism(),
		TLS:           c.tlsInfo(),
		Listener:      c.listener,
		ClientAddr:    c.remote,
		ClientID:      h.clientID,
		APIKey:        h.key,
		API:           APIName(h.key),
		APIVersion:    h.version,
		CorrelationID: h.correlationID,
		RequestBytes:  frameBytes,
	}
}

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }

// connectionEvent emits a connection event.
func (c *conn) connectionEvent(kind hook.ConnectionKind, requestID, reason string) {
	ev := hook.Connection{Time: c.srv.now(), Kind: kind, RequestID: requestID, Listener: c.listener,
		ClientAddr: c.remote, Reason: reason}
	if kind == hook.ConnectionClosed && c.authenticated.Load() {
		ev.Principal = c.principal()
	}
	c.srv.hooks.Connection(ev)
}

// errorCodes counts the non-zero Kafka error codes anywhere in a response: every int16 field
// named ErrorCode, top-level or nested in topics, partitions and other resources.
func errorCodes(resp kmsg.Response) []hook.ErrorCount {
	counts := map[int16]int{}
	walkErrorCodes(reflect.ValueOf(resp), func(code int16) {
		if code != 0 {
			counts[code]++
		}
	}, 0)
	if len(counts) == 0 {
		return nil
	}
	out := make([]hook.ErrorCount, 0, len(counts))
	for code, n := range counts {
		out = append(out, hook.ErrorCount{Code: code, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// walkErrorCodes calls fn with every ErrorCode field of a response, zero included.
func walkErrorCodes(v reflect.Value, fn func(int16), depth int) {
	if depth > 8 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkErrorCodes(v.Elem(), fn, depth+1)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			switch {
			case t.Field(i).Name == "ErrorCode" && f.Kind() == reflect.Int16:
				fn(int16(f.Int()))
			case f.Kind() == reflect.Slice || f.Kind() == reflect.Struct || f.Kind() == reflect.Pointer:
				walkErrorCodes(f, fn, depth+1)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // record data and other bytes hold no error codes
		}
		for i := 0; i < v.Len(); i++ {
			walkErrorCodes(v.Index(i), fn, depth+1)
		}
	}
}

// resourceFields maps kmsg request field names to the Kafka resource type they name.
var resourceFields = map[string]string{
	"Topic": "TOPIC", "TopicName": "TOPIC", "TopicNames": "TOPIC",
	"Group": "GROUP", "GroupID": "GROUP", "Groups": "GROUP", "GroupIDs": "GROUP", "SubscribedTopicNames": "TOPIC",
	"TransactionalID": "TRANSACTIONAL_ID", "TransactionalIDs": "TRANSACTIONAL_ID",
}

// resourcesOf lists the distinct topics, groups and transactional ids a request names (at most
// hook.MaxResources, and how many more there were). Requests that name resources generically
// (DescribeConfigs' ResourceType/ResourceName) add them with their type.
func resourcesOf(req kmsg.Request) ([]hook.Resource, int) {
	seen := map[hook.Resource]struct{}{}
	var out []hook.Resource
	omitted := 0
	add := func(typ, name string) {
		if name == "" {
			return
		}
		r := hook.Resource{Type: typ, Name: name}
		if _, ok := seen[r]; ok {
			return
		}
		seen[r] = struct{}{}
		if len(out) >= hook.MaxResources {
			omitted++
			return
		}
		out = append(out, r)
	}
	adminResources(req, add)
	walkResources(reflect.ValueOf(req), add, 0)
	return out, omitted
}

// adminResources adds what the generic walk cannot name: the users whose SCRAM credentials
// change, the quota entities, the ACL bindings created or the filters deleting them, and the
// config keys an alter sets.
func adminResources(req kmsg.Request, add func(typ, name string)) {
	switch r := req.(type) {
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		for _, d := range r.Deletions {
			add("USER", d.Name)
		}
		for _, u := range r.Upsertions {
			add("USER", u.Name)
		}
	case *kmsg.AlterClientQuotasRequest:
		for _, e := range r.Entries {
			for _, c := range e.Entity {
				name := "<default>"
				if c.Name != nil {
					name = *c.Name
				}
				add("QUOTA_"+strings.ToUpper(c.Type), name)
			}
		}
	case *kmsg.CreateACLsRequest:
		for _, c := range r.Creations {
			add("ACL", fmt.Sprintf("%s %s %s on %s:%s:%s from %s", c.PermissionType, c.Principal, c.Operation,
				c.ResourceType, c.ResourcePatternType, c.ResourceName, c.Host))
		}
	case *kmsg.DeleteACLsRequest:
		for _, f := range r.Filters {
			add("ACL_FILTER", fmt.Sprintf("%s %s %s on %s:%s:%s from %s", f.PermissionType, strOr(f.Principal, "*"), f.Operation,
				f.ResourceType, f.ResourcePatternType, strOr(f.ResourceName, "*"), strOr(f.Host, "*")))
		}
	case *kmsg.IncrementalAlterConfigsRequest:
		for _, res := range r.Resources {
			for _, c := range res.Configs {
				add("CONFIG_KEY", res.ResourceName+":"+c.Name+" "+c.Op.String())
			}
		}
	case *kmsg.AlterConfigsRequest:
		for _, res := range r.Resources {
			for _, c := range res.Configs {
				add("CONFIG_KEY", res.ResourceName+":"+c.Name)
			}
		}
	}
}

func strOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func walkResources(v reflect.Value, add func(typ, name string), depth int) {
	if depth > 8 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkResources(v.Elem(), add, depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			walkResources(v.Index(i), add, depth+1)
		}
	case reflect.Struct:
		t := v.Type()
		if rt, rn := v.FieldByName("ResourceType"), v.FieldByName("ResourceName"); rt.IsValid() && rn.IsValid() && rn.Kind() == reflect.String {
			switch rt.Type() {
			case reflect.TypeOf(kmsg.ACLResourceType(0)):
				add(kmsg.ACLResourceType(rt.Int()).String(), rn.String())
			default:
				add(kmsg.ConfigResourceType(rt.Int()).String(), rn.String())
			}
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			typ, named := resourceFields[t.Field(i).Name]
			switch {
			case named && f.Kind() == reflect.String:
				add(typ, f.String())
			case named && f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.String:
				add(typ, f.Elem().String())
			case named && f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
				for j := 0; j < f.Len(); j++ {
					add(typ, f.Index(j).String())
				}
			case f.Kind() == reflect.Slice || f.Kind() == reflect.Struct || f.Kind() == reflect.Pointer:
				walkResources(f, add, depth+1)
			}
		}
	}
}

// refuseAtAccept records a connection turned away at accept (an allowlist, a limit, a quota):
// logged under a request id (at most refusalLogBurst lines a second, the rest counted in a
// summary line) and emitted without waiting, so a flood of refused connections can neither stall
// the accept loop behind a slow hook nor flood the log.
func (s *Server) refuseAtAccept(bl *boundListener, nc net.Conn, reason string) {
	id := newRequestID()
	remote := nc.RemoteAddr().String()
	if ok, suppressed := s.refusalLog.allow(time.Now()); ok {
		if suppressed > 0 {
			s.logger.Warn("connection refusals not logged in the last second", "count", suppressed)
		}
		s.logger.Warn("connection refused", "conn", remote, "listener", bl.cfg.Name, "reason", reason, "request_id", id)
	}
	s.hooks.ConnectionNoWait(hook.Connection{Time: s.now(), Kind: hook.ConnectionRefused, RequestID: id,
		Listener: bl.cfg.Name, ClientAddr: remote, Reason: reason})
}

// refusalLogBurst is how many connection refusals are logged per second.
const refusalLogBurst = 20

// logLimiter lets refusalLogBurst lines through per second and counts the rest.
type logLimiter struct {
	mu         sync.Mutex
	second     int64
	n          int
	suppressed int
}

// allow reports whether a line may be logged now, and how many were suppressed in the second
// before (to be reported once).
func (l *logLimiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sec := now.Unix()
	var report int
	if sec != l.second {
		l.second, l.n, report, l.suppressed = sec, 0, l.suppressed, 0
	}
	if l.n >= refusalLogBurst {
		l.suppressed++
		return false, 0
	}
	l.n++
	return true, report
}
