package hook

import (
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
)

// Request is one request the broker answered or refused.
type Request struct {
	// RequestID ties this request to broker log lines, the audit trail and, for refusals, the
	// client's error message.
	RequestID string
	Received  time.Time
	Principal auth.Principal
	// Mechanism is how the connection authenticated (a SASL mechanism, TLS, or empty on a
	// listener without authentication); TLS the connection's TLS session (nil without TLS).
	Mechanism  string
	TLS        *TLSInfo
	Listener   string
	ClientAddr string
	ClientID   string
	APIKey     int16
	// API is Kafka's name of the API key ("CreateTopics").
	API           string
	APIVersion    int16
	CorrelationID int32
	// ErrorCodes counts each non-zero Kafka error code in the response, top-level and per
	// resource or partition. Empty for a request answered without errors.
	ErrorCodes []ErrorCount
	// RequestBytes is the request frame's size; ResponseBytes the response frame's (0 when none
	// was written).
	RequestBytes  int
	ResponseBytes int
	// Resources are the distinct resources the request names, at most MaxResources of them;
	// ResourcesOmitted counts the rest.
	Resources        []Resource
	ResourcesOmitted int
	Stages           Stages
	// Throttle is how long the connection is muted after this response because a client quota
	// was exceeded (the response's throttle_time_ms, KIP-219). It follows the response, so it is
	// not one of the Stages.
	Throttle time.Duration
	// Refusal is why the broker closed the connection instead of answering (a malformed frame,
	// a request before authentication, an expired session); empty for an answered request.
	Refusal string
}

// MaxResources bounds Request.Resources, so one request naming many topics cannot make its
// event large.
const MaxResources = 64

// ErrorCount is how often one Kafka error code appears in a response.
type ErrorCount struct {
	Code  int16
	Count int
}

// Resource is a Kafka resource a request names, with Kafka's resource type names (TOPIC, GROUP,
// TRANSACTIONAL_ID, CLUSTER, ...).
type Resource struct {
	Type string
	Name string
}

// Stages is where a request's time went, as Kafka's RequestMetrics splits it.
type Stages struct {
	// Queue runs from the frame being read to its handler starting.
	Queue time.Duration
	// Local is the handler's own time.
	Local time.Duration
	// Remote is time spent waiting after the handler: an acks=all fsync, a long-polling fetch, a
	// group rebalance.
	Remote time.Duration
	// ResponseQueue is time the ready response waited for earlier responses on the connection.
	ResponseQueue time.Duration
	// ResponseSend is the time taken to hand the response to the socket.
	ResponseSend time.Duration
}

// Total is the sum of the stages: the request's time from being read to being answered.
func (s Stages) Total() time.Duration {
	return s.Queue + s.Local + s.Remote + s.ResponseQueue + s.ResponseSend
}

// ConnectionKind is what happened to a connection.
type ConnectionKind string

// Connection event kinds.
const (
	ConnectionOpened ConnectionKind = "opened"
	ConnectionClosed ConnectionKind = "closed"
	// ConnectionRefused is a connection turned away at accept: an allowlist, a connection limit
	// or a connection-creation quota.
	ConnectionRefused ConnectionKind = "refused"
)

// Connection is a client connection opening, closing or being refused.
type Connection struct {
	Time       time.Time
	Kind       ConnectionKind
	RequestID  string // set for refusals, tying the log line to the audit record
	Listener   string
	ClientAddr string
	// Principal is set on ConnectionClosed for a connection that authenticated.
	Principal auth.Principal
	// Reason says why a connection was refused or closed.
	Reason string
}

// AuthOutcome is how an authentication attempt ended.
type AuthOutcome string

// Authentication outcomes.
const (
	AuthSuccess AuthOutcome = "success"
	AuthFailure AuthOutcome = "failure"
	// AuthRefused is a connection turned away before it could authenticate: a request sent
	// before authenticating, an expired session, a login not finished in time.
	AuthRefused AuthOutcome = "refused"
)

// Authentication is one authentication attempt (or refusal). Reason is precise and never sent
// to the client; the client sees RequestID, which ties its error to this event.
type Authentication struct {
	Time       time.Time
	RequestID  string
	Listener   string
	ClientAddr string
	// Mechanism is the SASL mechanism, "TLS" for a TLS handshake or mutual-TLS principal, or
	// empty for a refusal before any mechanism was chosen.
	Mechanism string
	// Principal is the authenticated principal on success (zero otherwise).
	Principal auth.Principal
	// Claimed is the identity a failed attempt claimed, when it got that far (a user name, a
	// certificate subject, an access key's principal).
	Claimed          string
	Outcome          AuthOutcome
	Reason           string
	Reauthentication bool
	// TLS is the connection's TLS session (nil without TLS, or when the handshake failed).
	TLS *TLSInfo
	// SessionLifetime is the KIP-368 session lifetime granted on success (0: unlimited).
	SessionLifetime time.Duration
}

// KeyCall is one call to the key service (local keyring or AWS KMS).
type KeyCall struct {
	Time     time.Time
	Provider string
	// Op is "GenerateDataKey", "Decrypt" or "Rewrap".
	Op       string
	KeyID    string
	Context  map[string]string
	Duration time.Duration
	// Err is the failure, empty on success.
	Err string
}

// ConfigChange is a change to the broker's dynamic configuration: a SIGHUP reload of the file or
// an admin request.
type ConfigChange struct {
	Time      time.Time
	RequestID string
	// Source is "SIGHUP" for a file reload, or the admin API's name.
	Source    string
	Principal auth.Principal
	// Changed are the keys whose value changed. NeedRestart are keys a reload found changed
	// that cannot change at runtime: they keep their value until a restart. Err is set when the
	// change was refused (and then nothing changed).
	Changed     []string
	NeedRestart []string
	Err         string
}

// Authorization is one authorization decision the broker acted on: every denial, and allowed
// actions too (an audit trail of allowed operations is what stock Kafka lacks, KAFKA-14605).
// Filtering checks (Metadata listing all topics, ListGroups) are reported only when denied
// actions were asked to be logged, as Kafka's logIfDenied hint has it.
type Authorization struct {
	Time          time.Time
	RequestID     string
	Principal     auth.Principal
	Mechanism     string   // how the connection authenticated (see Request.Mechanism)
	TLS           *TLSInfo // the connection's TLS session (nil without TLS)
	Listener      string
	ClientAddr    string
	ClientID      string
	APIKey        int16
	API           string // Kafka's name of the API key
	APIVersion    int16
	CorrelationID int32
	Operation     string // Kafka's name: READ, WRITE, DESCRIBE, ...
	ResourceType  string // TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID
	ResourceName  string
	Allowed       bool
	// DecidedBy names the ACL, policy rule or IAM statement that decided; Engine the engine.
	DecidedBy string
	Engine    string
}

// TLSInfo describes a connection's TLS session.
type TLSInfo struct {
	Version     string // "TLS 1.3"
	CipherSuite string // Go's name of the suite
}

// RequestHook observes every request the broker answers or refuses.
type RequestHook interface{ OnRequest(Request) }

// ConnectionHook observes connections opening, closing and being refused.
type ConnectionHook interface{ OnConnection(Connection) }

// AuthenticationHook observes every authentication attempt.
type AuthenticationHook interface{ OnAuthentication(Authentication) }

// KeyHook observes every key-service call.
type KeyHook interface{ OnKeyCall(KeyCall) }

// AuthorizationHook observes authorization decisions.
type AuthorizationHook interface{ OnAuthorization(Authorization) }

// ConfigHook observes dynamic configuration changes.
type ConfigHook interface{ OnConfigChange(ConfigChange) }
