package broker

// Authorization: one seam for every handler. A handler collects the (operation, resource)
// actions its request needs into an authBatch, asks once, and reads the verdicts; with no
// authorizer configured (authorizer.class.name unset: the quick-start default) the batch is nil
// and everything is allowed without building anything. Denials are logged the way Kafka's
// authorizer logs them, with the request id and what decided, and reach the authorization hook;
// the client's error message carries the request id.

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// WithAuthorizer sets the engine every request is authorized by (see package authz). The broker
// requires one when authorizer.class.name is set, and refuses one when it is not.
func WithAuthorizer(a authz.Authorizer) Option { return func(s *Server) { s.authz = a } }

// WithTopicPolicy checks every topic creation, partition increase and topic config change
// against p (bulwark.opa.topic.policy.enabled); a refusal is POLICY_VIOLATION.
func WithTopicPolicy(p authz.TopicPolicy) Option { return func(s *Server) { s.topicPolicy = p } }

// topicCheck returns the policy check for one request's topic changes; nil when no policy is set.
func (s *Server) topicCheck(c *conn, h requestHeader) func(change authz.TopicChange) error {
	if s.topicPolicy == nil {
		return nil
	}
	return func(change authz.TopicChange) error {
		change.API = APIName(h.key)
		rc := c.requestContext(h)
		violations, err := s.topicPolicy.CheckTopic(rc, change)
		switch {
		case err != nil:
			c.logger.Warn("topic policy could not be evaluated; change refused", "request_id", h.id, "topic", change.Topic, "err", err)
			return newAPIError(kerr.PolicyViolation, "[%s] topic policy could not be evaluated", h.id)
		case len(violations) > 0:
			c.logger.Info("topic change refused by policy", "request_id", h.id, "topic", change.Topic, "api", change.API,
				"principal", rc.Principal.String(), "violations", violations)
			return newAPIError(kerr.PolicyViolation, "[%s] %s", h.id, strings.Join(violations, "; "))
		}
		return nil
	}
}

// policyChecked wraps a topic config change so the topic policy sees the overrides it would
// leave, before anything is committed.
func (s *Server) policyChecked(topicName string, fn func(map[string]string) (map[string]string, error),
	policy func(authz.TopicChange) error, validateOnly bool) func(map[string]string) (map[string]string, error) {
	if policy == nil {
		return fn
	}
	return func(cur map[string]string) (map[string]string, error) {
		next, err := fn(cur)
		if err != nil {
			return nil, err
		}
		var partitions int32
		if t := s.cluster.lookupTopic(topicName); t != nil {
			partitions = int32(len(t.partitions))
		}
		if err := policy(authz.TopicChange{Topic: topicName, Partitions: partitions, ReplicationFactor: 1, Configs: next, ValidateOnly: validateOnly}); err != nil {
			return nil, err
		}
		return next, nil
	}
}

// aclSync pushes the metadata log's ACLs and IAM policies to the engines that keep them, once
// per change.
type aclSync struct {
	mu     sync.Mutex
	offset int64
	pushed bool
}

// syncACLs hands st's ACLs and IAM policies to the engines if they may have changed since the
// last push.
func (s *Server) syncACLs(st *meta.State) {
	acls, keepsACLs := authz.Find[authz.ACLStore](s.authz)
	pols, keepsPolicies := authz.Find[authz.PolicyStore](s.authz)
	if !keepsACLs && !keepsPolicies {
		return
	}
	s.aclSync.mu.Lock()
	defer s.aclSync.mu.Unlock()
	if s.aclSync.pushed && st.Offset <= s.aclSync.offset {
		return
	}
	if keepsACLs {
		acls.SetACLs(st.ACLList())
	}
	if keepsPolicies {
		pols.SetIAMPolicies(st.ClusterID, st.IAMPolicies)
	}
	s.aclSync.offset, s.aclSync.pushed = st.Offset, true
}

// requestContext describes the request to the authorizer.
func (c *conn) requestContext(h requestHeader) *authz.RequestContext {
	host := c.remote
	if hst, _, err := net.SplitHostPort(c.remote); err == nil {
		host = hst
	}
	rc := &authz.RequestContext{Principal: c.principal(), Mechanism: c.mechanism, Listener: c.listener,
		SecurityProtocol: c.srv.cfg.SecurityProtocolMap[c.listener], ClientAddr: host,
		ConnectionID: c.connectionID(), ClientID: h.clientID,
		APIKey: h.key, APIVersion: h.version, CorrelationID: h.correlationID, RequestID: h.id}
	if name, version, ok := cutSoftware(c.clientSoftware); ok {
		rc.ClientSoftwareName, rc.ClientSoftwareVersion = name, version
	} else {
		rc.ClientSoftwareName, rc.ClientSoftwareVersion = "unknown", "unknown"
	}
	return rc
}

// connectionID is Kafka's connection id shape: "local-remote-index".
func (c *conn) connectionID() string {
	local := ""
	if c.nc != nil {
		local = c.nc.LocalAddr().String()
	}
	return local + "-" + c.remote + "-" + strconv.FormatUint(c.index, 10)
}

func cutSoftware(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// actionKey identifies one action in a batch.
type actionKey struct {
	op  authz.Operation
	res authz.Resource
}

// authBatch is the set of actions one request needs. A nil batch (no authorizer) allows all.
type authBatch struct {
	s       *Server
	c       *conn
	h       requestHeader
	actions []authz.Action
	index   map[actionKey]int
	allowed []bool
	decided bool
}

// newAuthBatch starts a request's batch; nil when no authorizer is configured.
func (s *Server) newAuthBatch(c *conn, h requestHeader) *authBatch {
	if s.authz == nil {
		return nil
	}
	return &authBatch{s: s, c: c, h: h, index: map[actionKey]int{}}
}

// add asks for op on r. quiet marks a filtering check (Metadata for all topics, ListGroups):
// its denial is not an event, as Kafka's logIfDenied=false has it.
func (b *authBatch) add(op authz.Operation, r authz.Resource, quiet bool) {
	if b == nil {
		return
	}
	k := actionKey{op, r}
	if i, ok := b.index[k]; ok {
		b.actions[i].ReferenceCount++
		if !quiet {
			b.actions[i].LogIfDenied = true
		}
		return
	}
	b.index[k] = len(b.actions)
	b.actions = append(b.actions, authz.Action{Operation: op, Resource: r, ReferenceCount: 1,
		LogIfAllowed: !quiet, LogIfDenied: !quiet})
	b.decided = false
}

// addTopics asks for op on each named topic.
func (b *authBatch) addTopics(op authz.Operation, names []string, quiet bool) {
	if b == nil {
		return
	}
	for _, n := range names {
		b.add(op, authz.Topic(n), quiet)
	}
}

// decide asks the authorizer for every action added since the last decide, in one call.
func (b *authBatch) decide() {
	if b == nil || b.decided {
		return
	}
	from := len(b.allowed)
	if from < len(b.actions) {
		rc := b.c.requestContext(b.h)
		ds := b.s.authz.Authorize(rc, b.actions[from:])
		for i, d := range ds {
			b.allowed = append(b.allowed, d.Allowed)
			b.s.reportDecision(b.c, rc, b.actions[from+i], d)
		}
	}
	b.decided = true
}

// ok reports whether op on r is allowed; it must have been added.
func (b *authBatch) ok(op authz.Operation, r authz.Resource) bool {
	if b == nil {
		return true
	}
	b.decide()
	i, found := b.index[actionKey{op, r}]
	if !found {
		panic(fmt.Sprintf("broker: authorization of %s on %s read but never asked", op, r))
	}
	return b.allowed[i]
}

func (b *authBatch) topicOK(op authz.Operation, name string) bool { return b.ok(op, authz.Topic(name)) }

// allowed authorizes one action on its own.
func (s *Server) allowed(c *conn, h requestHeader, op authz.Operation, r authz.Resource) bool {
	b := s.newAuthBatch(c, h)
	b.add(op, r, false)
	return b.ok(op, r)
}

// allowedAny is Kafka's authorizeByResourceType: op on at least one resource of type rt.
func (s *Server) allowedAny(c *conn, h requestHeader, op authz.Operation, rt authz.ResourceType) bool {
	if s.authz == nil {
		return true
	}
	rc := c.requestContext(h)
	d := authz.AuthorizeAny(s.authz, rc, op, rt)
	s.reportDecision(c, rc, authz.Action{Operation: op, Resource: authz.Resource{Type: rt, Name: "*"},
		ReferenceCount: 1, LogIfDenied: true, LogIfAllowed: true}, d)
	return d.Allowed
}

// reportDecision logs a denial the way Kafka's authorizer does (allowed actions at debug) and
// emits the authorization hook event.
func (s *Server) reportDecision(c *conn, rc *authz.RequestContext, a authz.Action, d authz.Decision) {
	s.stats.Decided(d.Engine, d.Allowed)
	if !d.Allowed && a.LogIfDenied {
		if ok, dropped := s.denialLog.allow(s.now()); ok {
			c.logger.Info(fmt.Sprintf("Principal = %s is Denied operation = %s from host = %s on resource = %s for request = %s with resourceRefCount = %d",
				rc.Principal, a.Operation, rc.ClientAddr, a.Resource, APIName(rc.APIKey), a.ReferenceCount),
				"request_id", rc.RequestID, "decided_by", d.DecidedBy, "engine", d.Engine, "denials_not_logged", dropped)
		}
	}
	if !s.hooks.WantsAuthorizations() || (d.Allowed && (!a.LogIfAllowed || !s.hooks.WantsAllowedAuthorizations())) || (!d.Allowed && !a.LogIfDenied) {
		return
	}
	s.hooks.Authorization(hook.Authorization{Time: s.now(), RequestID: rc.RequestID, Principal: rc.Principal,
		Mechanism: c.authMechanism(), TLS: c.tlsInfo(),
		Listener: rc.Listener, ClientAddr: c.remote, ClientID: rc.ClientID, APIKey: rc.APIKey, API: APIName(rc.APIKey), APIVersion: rc.APIVersion,
		CorrelationID: rc.CorrelationID, Operation: a.Operation.String(), ResourceType: a.Resource.Type.String(),
		ResourceName: a.Resource.Name, Allowed: d.Allowed, DecidedBy: d.DecidedBy, Engine: d.Engine})
}

// deniedMessage is the error message a refused client sees: the request id leads an operator to
// the log line and audit record that say what decided.
func deniedMessage(h requestHeader) *string {
	m := "[" + h.id + "] Authorization failed."
	return &m
}

// authorizedOps returns the KIP-430 bitfield of the operations on r that are allowed (every
// operation of the type when no authorizer is configured). The batch must hold them (addOps).
func (b *authBatch) authorizedOps(r authz.Resource) int32 {
	var bits int32
	for _, op := range authz.Operations(r.Type) {
		if b.ok(op, r) {
			bits |= 1 << op
		}
	}
	return bits
}

// addOps asks for every KIP-430 operation of r's type, quietly: the answer describes, it does
// not refuse.
func (b *authBatch) addOps(r authz.Resource) {
	if b == nil {
		return
	}
	for _, op := range authz.Operations(r.Type) {
		b.add(op, r, true)
	}
}

// opsNotRequested is KIP-430's sentinel for "authorized operations not requested".
const opsNotRequested int32 = -2147483648

// allOps is the bitfield for every KIP-430 operation of a type.
func allOps(rt authz.ResourceType) int32 {
	var bits int32
	for _, op := range authz.Operations(rt) {
		bits |= 1 << op
	}
	return bits
}

// deniedError is an authorization failure as a cluster-operation error, carrying the request id
// in its message.
func deniedError(h requestHeader, code *kerr.Error) error {
	return newAPIError(code, "[%s] Authorization failed.", h.id)
}

// configTarget is what a config resource is authorized as: a topic is itself; a broker or its
// loggers are the cluster. ok is false for types no check applies to (the handler refuses them).
func configTarget(rt kmsg.ConfigResourceType, name string) (r authz.Resource, denied *kerr.Error, ok bool) {
	switch rt {
	case kmsg.ConfigResourceTypeTopic:
		return authz.Topic(name), kerr.TopicAuthorizationFailed, true
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		return authz.Cluster, kerr.ClusterAuthorizationFailed, true
	case kmsg.ConfigResourceTypeGroupConfig:
		return authz.Group(name), kerr.GroupAuthorizationFailed, true
	}
	return authz.Resource{}, nil, false
}

// configDenied adds op on every config resource to az, then returns a function reporting the
// authorization error for one resource (nil when allowed).
func configDenied[R any](az *authBatch, h requestHeader, op authz.Operation, resources []R, key func(R) (kmsg.ConfigResourceType, string)) func(R) error {
	for _, rr := range resources {
		if r, _, ok := configTarget(key(rr)); ok {
			az.add(op, r, false)
		}
	}
	return func(rr R) error {
		r, code, ok := configTarget(key(rr))
		if ok && !az.ok(op, r) {
			return deniedError(h, code)
		}
		return nil
	}
}

// kafkaNames turns kmsg's API names into Kafka's own (ApiKeys), as its authorizer log shows them.
var kafkaNames = strings.NewReplacer("ISR", "Isr", "SASL", "Sasl", "ProducerIDs", "ProducerIds", "ProducerID", "ProducerId",
	"ACLs", "Acls", "SCRAM", "Scram")

// APIName is Kafka's name for an API key ("AlterUserScramCredentials"), as its logs and
// RequestMetrics show it.
func APIName(key int16) string { return kafkaNames.Replace(kmsg.NameForKey(key)) }
