package authz

import (
	"encoding/json"

	"github.com/bulwark-kafka/bulwark/auth"
)

// RequestContext is who asks and over what: everything an engine may base a decision on. The
// broker builds one per request; engines must not keep it.
type RequestContext struct {
	Principal auth.Principal
	// Mechanism is the SASL mechanism the connection authenticated with ("SCRAM-SHA-256",
	// "AWS_MSK_IAM", ...); empty for PLAINTEXT and SSL listeners.
	Mechanism string
	// Listener and SecurityProtocol name the listener the request arrived on.
	Listener         string
	SecurityProtocol string
	// ClientAddr is the client's IP address, without port: what ACL host rules match.
	ClientAddr string
	// ConnectionID is Kafka's "local-remote-index" connection id form.
	ConnectionID string
	ClientID     string
	// ClientSoftwareName and ClientSoftwareVersion are what ApiVersions v3+ reported (KIP-511).
	ClientSoftwareName    string
	ClientSoftwareVersion string
	APIKey                int16
	APIVersion            int16
	CorrelationID         int32
	// RequestID ties a decision to the broker log, the audit trail and the client's error text.
	RequestID string
}

// Resource is one concrete resource a request touches.
type Resource struct {
	Type ResourceType
	Name string
}

// Cluster is the cluster resource.
var Cluster = Resource{Type: ResourceCluster, Name: ClusterName}

// Topic, Group and TransactionalID name resources of those types.
func Topic(name string) Resource { return Resource{Type: ResourceTopic, Name: name} }
func Group(name string) Resource { return Resource{Type: ResourceGroup, Name: name} }
func TransactionalID(name string) Resource {
	return Resource{Type: ResourceTransactionalID, Name: name}
}

// String gives the resource as Kafka's authorizer log shows it: "Topic:LITERAL:orders".
func (r Resource) String() string { return resourceLogName(r.Type) + ":LITERAL:" + r.Name }

// Action is one (operation, resource) a request needs. LogIfAllowed and LogIfDenied carry
// Kafka's hints: false when the check only filters what is shown (Metadata listing all topics,
// ListGroups), so a denial there is not an event. ReferenceCount is how many times the request
// names the resource.
type Action struct {
	Operation      Operation
	Resource       Resource
	ReferenceCount int
	LogIfAllowed   bool
	LogIfDenied    bool
}

// Decision is the answer for one Action.
type Decision struct {
	Allowed bool
	// DecidedBy names what made the decision: the ACL binding, the policy rule, the IAM
	// statement, "super.users", or the default ("no ACL matched", "no ACLs for resource and
	// allow.everyone.if.no.acl.found=true").
	DecidedBy string
	// Engine names the engine that decided ("acl", "opa", "iam", "super.users").
	Engine string
}

// Authorizer decides actions. Authorize returns one Decision per action, in order. It must be
// safe for concurrent use and must not block for long: a remote engine bounds its own waits and
// answers a failure as a denial (or an allowance when so configured) whose DecidedBy says so.
type Authorizer interface {
	Authorize(rc *RequestContext, actions []Action) []Decision
}

// AnyAuthorizer is implemented by engines that can answer Kafka's authorizeByResourceType: may the
// principal perform op on at least one resource of the type (KIP-679: an idempotent producer
// needs WRITE on some topic, or IDEMPOTENT_WRITE on the cluster)?
type AnyAuthorizer interface {
	AuthorizeAny(rc *RequestContext, op Operation, rt ResourceType) Decision
}

// ACLStore is implemented by engines that keep Kafka ACLs: the broker, which stores ACLs durably
// in its metadata log, hands the engine the whole set whenever it changes. An engine that keeps
// no ACLs does not implement it, and the ACL admin APIs answer SECURITY_DISABLED.
type ACLStore interface {
	SetACLs(bindings []Binding)
}

// PolicyStore is implemented by engines that judge by IAM-style policies, which the broker keeps
// in its metadata log: principal ARN -> policy name -> JSON document. clusterID is the cluster's
// id, part of every resource ARN.
type PolicyStore interface {
	SetIAMPolicies(clusterID string, policies map[string]map[string]json.RawMessage)
}

// TopicChange is a topic creation or change a TopicPolicy checks, as Kafka's CreateTopicPolicy
// and AlterConfigPolicy see them: the state the topic would have afterwards.
type TopicChange struct {
	// API is the request: CreateTopics, CreatePartitions, AlterConfigs or IncrementalAlterConfigs.
	API               string
	Topic             string
	Partitions        int32
	ReplicationFactor int16
	// Configs are the topic's config overrides after the change.
	Configs map[string]string
	// ValidateOnly is set when the request only validates.
	ValidateOnly bool
}

// TopicPolicy refuses topic changes that break an operator's rules (naming, partition counts,
// retention). Violations are the reasons a change is refused (none: allowed); err means the
// policy could not be evaluated, and the change is refused.
type TopicPolicy interface {
	CheckTopic(rc *RequestContext, c TopicChange) (violations []string, err error)
}

// Explainer is implemented by authorizers that can say why without being asked by a request:
// `bulwark authz explain` uses it. The decision is the one Authorize would give.
type Explainer interface {
	Explain(rc *RequestContext, a Action) Decision
}
