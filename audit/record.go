package audit

import (
	"encoding/json"
	"fmt"
)

// Record is one audit record, in a CloudTrail-like schema: a reviewer who reads MSK's CloudTrail
// events reads these. Every record of a stream carries its sequence number and the SHA-256 of
// the record before it (PrevHash), so removing, editing or reordering records breaks the chain.
type Record struct {
	EventVersion string `json:"eventVersion"`
	// EventTime is UTC with nanoseconds (RFC 3339).
	EventTime   string `json:"eventTime"`
	EventSource string `json:"eventSource"`
	// EventName is the Kafka API (CreateTopics, SaslAuthenticate, ...) or the action
	// (Authenticate, ConnectionRefused, BrokerStart, AuditCheckpoint, ...).
	EventName string `json:"eventName"`
	// EventType groups the names: KafkaApiCall, Authentication, Connection, Authorization,
	// ConfigChange, KeyOperation, BrokerLifecycle, AuditIntegrity.
	EventType string `json:"eventType"`
	// EventCategory is Management (admin, security, lifecycle) or Data (produce, fetch).
	EventCategory string `json:"eventCategory"`
	// RequestID is the id the client sees in an error message and the broker log carries.
	RequestID string `json:"requestID,omitempty"`
	// EventID is unique per record and stable across redelivery: <stream>/<seq>.
	EventID           string             `json:"eventID"`
	UserIdentity      *UserIdentity      `json:"userIdentity,omitempty"`
	SourceIPAddress   string             `json:"sourceIPAddress,omitempty"`
	Listener          string             `json:"listener,omitempty"`
	ClientID          string             `json:"clientId,omitempty"`
	TLSDetails        *TLSDetails        `json:"tlsDetails,omitempty"`
	RequestParameters *RequestParameters `json:"requestParameters,omitempty"`
	// ErrorCode is the Kafka error name (TOPIC_AUTHORIZATION_FAILED) or the refusal's kind;
	// empty on success. ErrorMessage says why, precisely (never sent to the client).
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	// DecidedBy names the ACL, policy rule or IAM statement behind an authorization decision.
	DecidedBy string `json:"decidedBy,omitempty"`
	// AdditionalEventData holds what a particular event adds (counts, key ids, changed keys).
	AdditionalEventData map[string]any `json:"additionalEventData,omitempty"`
	ReadOnly            bool           `json:"readOnly"`

	// Seq numbers the stream's records from 1; PrevHash is the hex SHA-256 of the previous
	// record's line (64 zeros for the first record of a stream).
	Seq      uint64 `json:"seq"`
	PrevHash string `json:"prevHash"`
	// Checkpoint is set on AuditCheckpoint records.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
}

// UserIdentity is who acted.
type UserIdentity struct {
	// Type is "KafkaPrincipal", "IAMUser"/"AssumedRole" for IAM principals, or "Anonymous".
	Type string `json:"type"`
	// Principal is Kafka's form, "User:alice".
	Principal string `json:"principal,omitempty"`
	// Mechanism is the SASL mechanism or TLS that authenticated it.
	Mechanism string `json:"mechanism,omitempty"`
	// ARN is the IAM principal's ARN (AWS_MSK_IAM and OAUTHBEARER tokens).
	ARN string `json:"arn,omitempty"`
	// Claimed is what a failed attempt claimed to be.
	Claimed string `json:"claimed,omitempty"`
}

// TLSDetails describes the connection's TLS session, as CloudTrail's tlsDetails.
type TLSDetails struct {
	TLSVersion  string `json:"tlsVersion,omitempty"`
	CipherSuite string `json:"cipherSuite,omitempty"`
}

// RequestParameters is what the request named.
type RequestParameters struct {
	KafkaAPI     string     `json:"kafkaAPI,omitempty"`
	APIVersion   *int16     `json:"apiVersion,omitempty"`
	Operation    string     `json:"operation,omitempty"`
	ResourceType string     `json:"resourceType,omitempty"`
	ResourceName string     `json:"resourceName,omitempty"`
	Resources    []Resource `json:"resources,omitempty"`
	// ResourcesOmitted counts resources beyond the ones listed.
	ResourcesOmitted int `json:"resourcesOmitted,omitempty"`
}

// Resource is a Kafka resource a request named.
type Resource struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// Checkpoint signs the chain up to this record: an HMAC-SHA256, under a data key from the key
// provider, of the stream name, sequence number and PrevHash. The wrapped data key travels with
// it, so a verifier with access to the master key can check it and nobody else can forge it.
type Checkpoint struct {
	// Signature is hex HMAC-SHA256; empty when encryption at rest is off (no key provider), and
	// the checkpoint then only marks the chain (Unsigned is true).
	Signature string `json:"signature,omitempty"`
	Unsigned  bool   `json:"unsigned,omitempty"`
	// Provider, KeyID and WrappedKey (base64) identify the data key.
	Provider   string `json:"provider,omitempty"`
	KeyID      string `json:"keyId,omitempty"`
	WrappedKey []byte `json:"wrappedKey,omitempty"`
	// Final marks the checkpoint written at a clean close of the stream: records after the last
	// checkpoint of a stream whose last checkpoint is not final were cut off or are unsigned.
	Final bool `json:"final,omitempty"`
	// Chain is a random id the stream got when its first record was written, the same in every
	// checkpoint: records spliced in from another trail (another broker's, or an older chain)
	// carry another.
	Chain string `json:"chain"`
}

// Event sources and versions.
const (
	EventVersion = "1.08"
	EventSource  = "bulwark.kafka"
)

// zeroHash is the PrevHash of a stream's first record.
const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// maxLineBytes bounds one record line when reading a trail back; the writer never writes one
// larger (AdditionalEventData and resource lists are bounded).
const maxLineBytes = 1 << 20

// decodeLine parses one line of a trail.
func decodeLine(line []byte) (*Record, error) {
	if len(line) > maxLineBytes {
		return nil, fmt.Errorf("audit: record of %d bytes exceeds %d", len(line), maxLineBytes)
	}
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("audit: record does not parse: %w", err)
	}
	return &r, nil
}
