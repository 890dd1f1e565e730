package audit

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// AllowMode says which allowed authorization decisions the trail records.
type AllowMode int

// Allow modes (bulwark.audit.authorization.allows).
const (
	// AllowsNone records denials only (the default).
	AllowsNone AllowMode = iota
	// AllowsManagement records every allowed action of non-data-plane APIs, and data-plane
	// allows (produce, fetch, offset commits, heartbeats) aggregated per connection and interval.
	AllowsManagement
	// AllowsAll records every allowed action, data plane included, one record each.
	AllowsAll
)

// Auditor turns broker events into audit records: every authentication, refused connection and
// refused request, every authorization denial (and allows as configured), every admin
// operation, configuration change and failed or re-wrapping key operation. It implements the
// hook interfaces; Registration returns its registration.
type Auditor struct {
	w       *Writer
	allows  AllowMode
	logger  *slog.Logger
	summary time.Duration

	mu  sync.Mutex
	agg map[allowKey]*allowAgg

	stop chan struct{}
	done chan struct{}
}

// AuditorOptions configure an Auditor.
type AuditorOptions struct {
	Allows AllowMode
	// SummaryInterval is how long data-plane allows are aggregated before their summary record
	// is written (default 60 s).
	SummaryInterval time.Duration
	Logger          *slog.Logger
}

// NewAuditor records into w. Close flushes pending summaries (before closing w).
func NewAuditor(w *Writer, o AuditorOptions) *Auditor {
	if o.SummaryInterval <= 0 {
		o.SummaryInterval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Auditor{w: w, allows: o.Allows, logger: o.Logger, summary: o.SummaryInterval,
		agg: map[allowKey]*allowAgg{}, stop: make(chan struct{}), done: make(chan struct{})}
	go a.flushLoop()
	return a
}

var (
	_ hook.RequestHook        = (*Auditor)(nil)
	_ hook.ConnectionHook     = (*Auditor)(nil)
	_ hook.AuthenticationHook = (*Auditor)(nil)
	_ hook.AuthorizationHook  = (*Auditor)(nil)
	_ hook.ConfigHook         = (*Auditor)(nil)
	_ hook.KeyHook            = (*Auditor)(nil)
)

// Registration is the auditor's hook registration: audit records must not be lost, so a full
// queue makes the broker wait (hook.OverflowBlock) rather than drop. Request events are asked
// for the admin APIs only (refusals of any request come regardless).
func (a *Auditor) Registration() hook.Registration {
	return hook.Registration{Name: "audit", Overflow: hook.OverflowBlock, Request: a, RequestFilter: IsAdminAPI,
		Connection: a, Authentication: a, Authorization: a, DeniedOnly: a.allows == AllowsNone, Config: a, Key: a}
}

// adminAPIs are the API keys that change the cluster: each one is an audit record.
var adminAPIs = map[int16]bool{
	19: true, // CreateTopics
	20: true, // DeleteTopics
	21: true, // DeleteRecords
	30: true, // CreateAcls
	31: true, // DeleteAcls
	33: true, // AlterConfigs
	37: true, // CreatePartitions
	42: true, // DeleteGroups
	44: true, // IncrementalAlterConfigs
	47: true, // OffsetDelete
	49: true, // AlterClientQuotas
	51: true, // AlterUserScramCredentials
	91: true, // AlterShareGroupOffsets
	92: true, // DeleteShareGroupOffsets
}

// IsAdminAPI reports whether an API key changes the cluster (and so is audited).
func IsAdminAPI(key int16) bool { return adminAPIs[key] }

// dataPlaneAPIs are the APIs whose allows are aggregated (AllowsManagement).
var dataPlaneAPIs = map[int16]bool{0: true, 1: true, 2: true, 3: true, 8: true, 9: true, 10: true, 11: true, 12: true,
	13: true, 14: true, 22: true, 24: true, 25: true, 26: true, 28: true, 68: true, 76: true, 78: true, 79: true}

func (a *Auditor) write(r *Record) {
	if err := a.w.Append(r); err != nil {
		a.logger.Error("audit record not written", "event", r.EventName, "request_id", r.RequestID, "err", err)
	}
}

// identity builds userIdentity for a principal.
func identity(p auth.Principal, mechanism, claimed string) *UserIdentity {
	if p == (auth.Principal{}) && claimed == "" {
		return nil
	}
	u := &UserIdentity{Type: "KafkaPrincipal", Mechanism: mechanism, Claimed: claimed}
	if p != (auth.Principal{}) {
		u.Principal = p.String()
		switch {
		case p == auth.Anonymous:
			u.Type = "Anonymous"
		case iamMechanisms[mechanism] && strings.HasPrefix(p.Name, "arn:"):
			// Only an IAM login makes an ARN an IAM identity: a SCRAM user may be named anything.
			u.ARN = p.Name
			u.Type = "IAMUser"
			if strings.Contains(p.Name, ":assumed-role/") {
				u.Type = "AssumedRole"
			} else if strings.Contains(p.Name, ":role/") {
				u.Type = "Role"
			}
		}
	}
	return u
}

// iamMechanisms are the SASL mechanisms whose principal is an IAM ARN.
var iamMechanisms = map[string]bool{"AWS_MSK_IAM": true, "OAUTHBEARER": true}

// tlsDetails turns a connection's TLS session into CloudTrail's tlsDetails.
func tlsDetails(t *hook.TLSInfo) *TLSDetails {
	if t == nil {
		return nil
	}
	return &TLSDetails{TLSVersion: t.Version, CipherSuite: t.CipherSuite}
}

// sourceIP drops the port of a client address.
func sourceIP(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func errorName(code int16) string {
	if err, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return err.Message
	}
	return "ERROR_" + strconv.Itoa(int(code))
}

// OnRequest records an admin operation, or a request the broker refused by closing the
// connection.
func (a *Auditor) OnRequest(ev hook.Request) {
	v := ev.APIVersion
	r := &Record{EventTime: rfc3339(ev.Received), EventName: ev.API, EventType: "KafkaApiCall", EventCategory: "Management",
		RequestID: ev.RequestID, UserIdentity: identity(ev.Principal, ev.Mechanism, ""), SourceIPAddress: sourceIP(ev.ClientAddr),
		Listener: ev.Listener, ClientID: ev.ClientID, ReadOnly: false, TLSDetails: tlsDetails(ev.TLS),
		RequestParameters: &RequestParameters{KafkaAPI: ev.API, APIVersion: &v, ResourcesOmitted: ev.ResourcesOmitted}}
	for _, res := range ev.Resources {
		r.RequestParameters.Resources = append(r.RequestParameters.Resources, Resource{Type: res.Type, Name: res.Name})
	}
	if ev.Refusal != "" {
		r.EventName, r.EventType = "RequestRefused", "Connection"
		r.ErrorCode, r.ErrorMessage = "CONNECTION_CLOSED", ev.Refusal
		if !IsAdminAPI(ev.APIKey) {
			r.EventCategory = "Data"
		}
	} else if len(ev.ErrorCodes) > 0 {
		// The first error names the outcome; all of them are in additionalEventData.
		r.ErrorCode = errorName(ev.ErrorCodes[0].Code)
		errs := map[string]int{}
		for _, e := range ev.ErrorCodes {
			errs[errorName(e.Code)] = e.Count
		}
		r.AdditionalEventData = map[string]any{"errorCounts": errs}
	}
	a.write(r)
}

// OnConnection records a connection turned away at accept.
func (a *Auditor) OnConnection(ev hook.Connection) {
	if ev.Kind != hook.ConnectionRefused {
		return
	}
	a.write(&Record{EventTime: rfc3339(ev.Time), EventName: "ConnectionRefused", EventType: "Connection", EventCategory: "Management",
		RequestID: ev.RequestID, SourceIPAddress: sourceIP(ev.ClientAddr), Listener: ev.Listener,
		ErrorCode: "CONNECTION_REFUSED", ErrorMessage: ev.Reason, ReadOnly: true})
}

// OnAuthentication records every authentication attempt, its outcome and its reason.
func (a *Auditor) OnAuthentication(ev hook.Authentication) {
	name := "Authenticate"
	if ev.Reauthentication {
		name = "Reauthenticate"
	}
	r := &Record{EventTime: rfc3339(ev.Time), EventName: name, EventType: "Authentication", EventCategory: "Management",
		RequestID: ev.RequestID, UserIdentity: identity(ev.Principal, ev.Mechanism, ev.Claimed),
		SourceIPAddress: sourceIP(ev.ClientAddr), Listener: ev.Listener, ReadOnly: true, TLSDetails: tlsDetails(ev.TLS)}
	if r.UserIdentity == nil {
		r.UserIdentity = &UserIdentity{Type: "Unknown", Mechanism: ev.Mechanism}
	}
	switch ev.Outcome {
	case hook.AuthSuccess:
		if ev.SessionLifetime > 0 {
			r.AdditionalEventData = map[string]any{"sessionLifetimeMs": ev.SessionLifetime.Milliseconds()}
		}
	case hook.AuthRefused:
		r.ErrorCode, r.ErrorMessage = "AUTHENTICATION_REFUSED", ev.Reason
	default:
		r.ErrorCode, r.ErrorMessage = "SASL_AUTHENTICATION_FAILED", ev.Reason
	}
	a.write(r)
}

// OnAuthorization records denials always, and allows as the mode asks.
func (a *Auditor) OnAuthorization(ev hook.Authorization) {
	if ev.Allowed {
		switch {
		case a.allows == AllowsNone:
			return
		case a.allows == AllowsManagement && dataPlaneAPIs[ev.APIKey]:
			a.aggregate(ev)
			return
		}
	}
	v := ev.APIVersion
	r := &Record{EventTime: rfc3339(ev.Time), EventName: ev.API, EventType: "Authorization", EventCategory: category(ev.APIKey),
		RequestID: ev.RequestID, UserIdentity: identity(ev.Principal, ev.Mechanism, ""), SourceIPAddress: sourceIP(ev.ClientAddr),
		Listener: ev.Listener, ClientID: ev.ClientID, DecidedBy: ev.DecidedBy, ReadOnly: true, TLSDetails: tlsDetails(ev.TLS),
		RequestParameters: &RequestParameters{KafkaAPI: ev.API, APIVersion: &v, Operation: ev.Operation,
			ResourceType: ev.ResourceType, ResourceName: ev.ResourceName},
		AdditionalEventData: map[string]any{"engine": ev.Engine, "allowed": ev.Allowed}}
	r.ReadOnly = readOnlyOperation(ev.Operation)
	if !ev.Allowed {
		r.ErrorCode = deniedCode(ev.ResourceType)
	}
	a.write(r)
}

// readOnlyOperation reports whether a Kafka operation only reads.
func readOnlyOperation(op string) bool {
	switch op {
	case "READ", "DESCRIBE", "DESCRIBE_CONFIGS":
		return true
	}
	return false
}

// deniedCode is the Kafka error a denial on a resource type answers with.
func deniedCode(resourceType string) string {
	switch resourceType {
	case "TOPIC":
		return "TOPIC_AUTHORIZATION_FAILED"
	case "GROUP":
		return "GROUP_AUTHORIZATION_FAILED"
	case "TRANSACTIONAL_ID":
		return "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
	case "DELEGATION_TOKEN":
		return "DELEGATION_TOKEN_AUTHORIZATION_FAILED"
	}
	return "CLUSTER_AUTHORIZATION_FAILED"
}

func category(key int16) string {
	if dataPlaneAPIs[key] {
		return "Data"
	}
	return "Management"
}

// allowKey groups data-plane allows: one summary per connection, operation and resource.
type allowKey struct {
	principal, clientAddr, listener, api, operation, resourceType, resourceName string
}

type allowAgg struct {
	count       int
	first, last time.Time
	engine      string
}

// maxAllowGroups bounds the aggregation table; a new group beyond it flushes the table early.
const maxAllowGroups = 10_000

func (a *Auditor) aggregate(ev hook.Authorization) {
	k := allowKey{ev.Principal.String(), ev.ClientAddr, ev.Listener, ev.API, ev.Operation, ev.ResourceType, ev.ResourceName}
	a.mu.Lock()
	g := a.agg[k]
	if g == nil {
		if len(a.agg) >= maxAllowGroups {
			a.mu.Unlock()
			a.flush()
			a.mu.Lock()
		}
		g = &allowAgg{first: ev.Time, engine: ev.Engine}
		a.agg[k] = g
	}
	g.count++
	g.last = ev.Time
	a.mu.Unlock()
}

// flush writes one summary record per aggregated group.
func (a *Auditor) flush() {
	a.mu.Lock()
	groups := a.agg
	a.agg = map[allowKey]*allowAgg{}
	a.mu.Unlock()
	for k, g := range groups {
		a.write(&Record{EventTime: rfc3339(g.last), EventName: k.api, EventType: "AuthorizationSummary", EventCategory: "Data",
			UserIdentity: &UserIdentity{Type: "KafkaPrincipal", Principal: k.principal}, SourceIPAddress: sourceIP(k.clientAddr),
			Listener: k.listener, ReadOnly: true,
			RequestParameters:   &RequestParameters{KafkaAPI: k.api, Operation: k.operation, ResourceType: k.resourceType, ResourceName: k.resourceName},
			AdditionalEventData: map[string]any{"allowed": true, "count": g.count, "firstTime": rfc3339(g.first), "engine": g.engine}})
	}
}

func (a *Auditor) flushLoop() {
	defer close(a.done)
	t := time.NewTicker(a.summary)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			a.flush()
			return
		case <-t.C:
			a.flush()
		}
	}
}

// OnConfigChange records a configuration reload or a dynamic config change.
func (a *Auditor) OnConfigChange(ev hook.ConfigChange) {
	r := &Record{EventTime: rfc3339(ev.Time), EventName: "ConfigChange", EventType: "ConfigChange", EventCategory: "Management",
		RequestID: ev.RequestID, UserIdentity: identity(ev.Principal, "", ""),
		AdditionalEventData: map[string]any{"source": ev.Source, "changed": ev.Changed, "needRestart": ev.NeedRestart}}
	if ev.Source == "SIGHUP" {
		r.EventName = "ConfigReload"
	}
	if ev.Err != "" {
		r.ErrorCode, r.ErrorMessage = "CONFIG_REFUSED", ev.Err
	}
	a.write(r)
}

// OnKeyCall records key-service failures and re-wraps (data keys generated and opened in the
// normal course are not audit events: a few per segment, and never a decision).
func (a *Auditor) OnKeyCall(ev hook.KeyCall) {
	if ev.Err == "" && ev.Op != "Rewrap" {
		return
	}
	r := &Record{EventTime: rfc3339(ev.Time), EventName: ev.Op, EventType: "KeyOperation", EventCategory: "Management",
		AdditionalEventData: map[string]any{"provider": ev.Provider, "keyId": ev.KeyID, "context": ev.Context,
			"durationMs": ev.Duration.Milliseconds()}}
	if ev.Err != "" {
		r.ErrorCode, r.ErrorMessage = "KEY_SERVICE_ERROR", ev.Err
	}
	a.write(r)
}

// Gap records that n events were lost before they reached the trail, and why.
func (a *Auditor) Gap(n uint64, why string) {
	a.write(&Record{EventName: "AuditGap", EventType: "AuditIntegrity", EventCategory: "Management", ErrorCode: "EVENTS_LOST",
		ErrorMessage: why, AdditionalEventData: map[string]any{"lost": n}})
}

// Lifecycle records the broker starting or stopping.
func (a *Auditor) Lifecycle(name string, data map[string]any) {
	a.write(&Record{EventName: name, EventType: "BrokerLifecycle", EventCategory: "Management", AdditionalEventData: data})
}

// Close writes the pending allow summaries. The Writer is closed by its owner afterwards.
func (a *Auditor) Close() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	<-a.done
}
