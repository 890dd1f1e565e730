package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// OCSF output: each record of the trail in the Open Cybersecurity Schema Framework, version
// OCSFVersion (the version AWS Security Lake ingests; Redpanda's audit log speaks OCSF too).
// Authentications are Authentication (3002), broker start and stop and the trail's own
// integrity records Application Lifecycle (6002), and everything else (Kafka API calls,
// authorization decisions, refused connections, configuration and key events) API Activity
// (6003). The CloudTrail-like line travels unchanged in raw_data, so the hash chain verifies in
// either schema (Verifier reads raw_data); the OCSF fields are derived from it.

// OCSFVersion is the OCSF schema version the records follow.
const OCSFVersion = "1.1.0"

// ocsfMapping names this mapping from the trail's records to OCSF (metadata.log_version). The
// verifier recomputes the OCSF fields from raw_data with the mapping a record names, so a change
// to the mapping is a new name here, and the old one stays in fromOCSF.
const ocsfMapping = "bulwark-audit-ocsf-1"

// OCSF class and category ids.
const (
	ocsfCategoryIAM         = 3
	ocsfCategoryApplication = 6
	ocsfAuthentication      = 3002
	ocsfAppLifecycle        = 6002
	ocsfAPIActivity         = 6003
)

type ocsfEvent struct {
	CategoryUID  int          `json:"category_uid"`
	CategoryName string       `json:"category_name"`
	ClassUID     int          `json:"class_uid"`
	ClassName    string       `json:"class_name"`
	ActivityID   int          `json:"activity_id"`
	ActivityName string       `json:"activity_name"`
	TypeUID      int          `json:"type_uid"`
	TypeName     string       `json:"type_name"`
	Time         int64        `json:"time"`
	SeverityID   int          `json:"severity_id"`
	Severity     string       `json:"severity"`
	StatusID     int          `json:"status_id"`
	Status       string       `json:"status"`
	StatusCode   string       `json:"status_code,omitempty"`
	StatusDetail string       `json:"status_detail,omitempty"`
	Message      string       `json:"message"`
	Metadata     ocsfMetadata `json:"metadata"`

	// Authentication
	User           *ocsfUser    `json:"user,omitempty"`
	AuthProtocol   string       `json:"auth_protocol,omitempty"`
	AuthProtocolID *int         `json:"auth_protocol_id,omitempty"`
	Service        *ocsfService `json:"service,omitempty"`
	// API Activity
	Actor     *ocsfActor     `json:"actor,omitempty"`
	API       *ocsfAPI       `json:"api,omitempty"`
	Resources []ocsfResource `json:"resources,omitempty"`
	Src       *ocsfEndpoint  `json:"src_endpoint,omitempty"`
	Dst       *ocsfEndpoint  `json:"dst_endpoint,omitempty"`
	App       *ocsfProduct   `json:"app,omitempty"` // Application Lifecycle
	Unmapped  map[string]any `json:"unmapped,omitempty"`
	RawData   string         `json:"raw_data"`
}

type ocsfMetadata struct {
	Version       string      `json:"version"`
	Product       ocsfProduct `json:"product"`
	UID           string      `json:"uid"`
	CorrelationID string      `json:"correlation_uid,omitempty"`
	Sequence      *uint64     `json:"sequence,omitempty"` // OCSF's is a 32-bit integer: omitted past it (seq is in raw_data)
	LogName       string      `json:"log_name"`
	LogVersion    string      `json:"log_version"`
	OriginalTime  string      `json:"original_time"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
}

type ocsfUser struct {
	Name   string `json:"name"`
	UID    string `json:"uid,omitempty"`
	Type   string `json:"type,omitempty"`
	TypeID int    `json:"type_id"`
}

type ocsfActor struct {
	User *ocsfUser `json:"user"`
}

type ocsfService struct {
	Name string `json:"name"`
}

type ocsfAPI struct {
	Operation string        `json:"operation"`
	Version   string        `json:"version,omitempty"`
	Service   ocsfService   `json:"service"`
	Request   ocsfRequest   `json:"request"`
	Response  *ocsfResponse `json:"response,omitempty"`
}

type ocsfRequest struct {
	UID string `json:"uid"`
}

type ocsfResponse struct {
	Error        string `json:"error,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
}

type ocsfResource struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type ocsfEndpoint struct {
	IP   string `json:"ip,omitempty"`
	Name string `json:"name,omitempty"`
}

// ToOCSF turns one line of the trail into its OCSF record (one line of JSON).
func ToOCSF(line []byte) ([]byte, error) {
	r, err := decodeLine(line)
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, r.EventTime)
	if err != nil {
		return nil, fmt.Errorf("audit: record %d: eventTime: %w", r.Seq, err)
	}
	ev := &ocsfEvent{
		Time: t.UnixMilli(), SeverityID: 1, Severity: "Informational", StatusID: 1, Status: "Success",
		StatusCode: r.ErrorCode, StatusDetail: r.ErrorMessage, Message: ocsfMessage(r),
		Metadata: ocsfMetadata{Version: OCSFVersion, Product: ocsfProduct{Name: "Bulwark", VendorName: "Bulwark"},
			UID: r.EventID, CorrelationID: r.RequestID, LogName: "audit", LogVersion: ocsfMapping, OriginalTime: r.EventTime},
		Unmapped: ocsfUnmapped(r), RawData: string(line),
	}
	if r.Seq <= math.MaxInt32 {
		seq := r.Seq
		ev.Metadata.Sequence = &seq
	}
	if r.ErrorCode != "" {
		ev.SeverityID, ev.Severity, ev.StatusID, ev.Status = 3, "Medium", 2, "Failure"
	}
	switch r.EventType {
	case "Authentication":
		ocsfAuthenticationEvent(ev, r)
	case "BrokerLifecycle", "AuditIntegrity":
		ocsfLifecycleEvent(ev, r)
	default:
		ocsfAPIEvent(ev, r)
	}
	ev.TypeUID = ev.ClassUID*100 + ev.ActivityID
	ev.TypeName = ev.ClassName + ": " + ev.ActivityName
	out, err := json.Marshal(ev)
	// raw_data repeats the line (escaped), so a large record may not fit a sink's event limit
	// (CloudWatch Logs: 256 KiB): shed the derived copies first (raw_data has them), and give up
	// past that (Formatted then sends the line as written, which the verifier reads as well).
	if err == nil && len(out) > ocsfMaxBytes {
		ev.Unmapped = nil
		out, err = json.Marshal(ev)
	}
	if err == nil && len(out) > ocsfMaxBytes {
		ev.Resources = nil
		out, err = json.Marshal(ev)
	}
	if err == nil && len(out) > ocsfMaxBytes {
		return nil, fmt.Errorf("audit: record %d is %d bytes in OCSF, more than %d", r.Seq, len(out), ocsfMaxBytes)
	}
	return out, err
}

// ocsfMaxBytes bounds an OCSF record: within CloudWatch Logs' 256 KiB per event, with room for its
// per-event overhead, so a shipped record is never cut (which would break its check).
const ocsfMaxBytes = 250 << 10

func ocsfMessage(r *Record) string {
	who := "the broker"
	if u := r.UserIdentity; u != nil {
		who = ocsfUserName(u)
	}
	if r.ErrorCode != "" {
		return fmt.Sprintf("%s by %s failed: %s", r.EventName, who, r.ErrorCode)
	}
	return fmt.Sprintf("%s by %s", r.EventName, who)
}

func ocsfUserName(u *UserIdentity) string {
	switch {
	case u.Principal != "":
		return u.Principal
	case u.Claimed != "":
		return u.Claimed
	}
	return "unknown"
}

// ocsfUser maps an identity: OCSF's user types are User (1), Admin (2), System (3) and Other.
func ocsfUserOf(u *UserIdentity) *ocsfUser {
	if u == nil {
		return &ocsfUser{Name: "unknown", TypeID: 0}
	}
	out := &ocsfUser{Name: ocsfUserName(u), UID: u.ARN, Type: "User", TypeID: 1}
	if u.Type == "LocalOperator" {
		out.Type, out.TypeID = "Admin", 2
	}
	return out
}

func ocsfAuthenticationEvent(ev *ocsfEvent, r *Record) {
	ev.CategoryUID, ev.CategoryName = ocsfCategoryIAM, "Identity & Access Management"
	ev.ClassUID, ev.ClassName = ocsfAuthentication, "Authentication"
	ev.ActivityID, ev.ActivityName = 1, "Logon"
	ev.User = ocsfUserOf(r.UserIdentity)
	if u := r.UserIdentity; u != nil && u.Mechanism != "" {
		ev.AuthProtocol = u.Mechanism
		id := 99 // Other: SCRAM, PLAIN, mutual TLS and AWS_MSK_IAM have no id of their own
		if u.Mechanism == "OAUTHBEARER" {
			id = 6 // OAUTH 2.0
		}
		ev.AuthProtocolID = &id
	}
	ev.Service = &ocsfService{Name: "kafka"}
	ev.Src = ocsfSource(r)
	ev.Dst = ocsfListener(r)
}

func ocsfLifecycleEvent(ev *ocsfEvent, r *Record) {
	ev.CategoryUID, ev.CategoryName = ocsfCategoryApplication, "Application Activity"
	ev.ClassUID, ev.ClassName = ocsfAppLifecycle, "Application Lifecycle"
	switch r.EventName {
	case "BrokerStart":
		ev.ActivityID, ev.ActivityName = 3, "Start"
	case "BrokerStop":
		ev.ActivityID, ev.ActivityName = 4, "Stop"
	default: // BrokerStartFailed, the trail's checkpoints, retention, gaps and recovery
		ev.ActivityID, ev.ActivityName = 99, "Other"
	}
	ev.App = &ocsfProduct{Name: "Bulwark", VendorName: "Bulwark"}
	if v, ok := r.AdditionalEventData["version"].(string); ok {
		ev.App.Version = v
	}
}

func ocsfAPIEvent(ev *ocsfEvent, r *Record) {
	ev.CategoryUID, ev.CategoryName = ocsfCategoryApplication, "Application Activity"
	ev.ClassUID, ev.ClassName = ocsfAPIActivity, "API Activity"
	ev.ActivityID, ev.ActivityName = ocsfAPIActivityOf(r.EventName)
	ev.Actor = &ocsfActor{User: ocsfUserOf(r.UserIdentity)}
	reqID := r.RequestID
	if reqID == "" {
		reqID = r.EventID
	}
	ev.API = &ocsfAPI{Operation: r.EventName, Service: ocsfService{Name: "kafka"}, Request: ocsfRequest{UID: reqID}}
	if p := r.RequestParameters; p != nil && p.APIVersion != nil {
		ev.API.Version = strconv.Itoa(int(*p.APIVersion))
	}
	if r.ErrorCode != "" {
		ev.API.Response = &ocsfResponse{Error: r.ErrorCode, ErrorMessage: r.ErrorMessage}
	}
	if p := r.RequestParameters; p != nil {
		if p.ResourceName != "" {
			ev.Resources = append(ev.Resources, ocsfResource{Name: p.ResourceName, Type: p.ResourceType})
		}
		for _, res := range p.Resources {
			ev.Resources = append(ev.Resources, ocsfResource{Name: res.Name, Type: res.Type})
		}
	}
	ev.Src = ocsfSource(r)
	if ev.Src == nil { // a command run on the broker's host (offline key or policy changes)
		ev.Src = &ocsfEndpoint{Name: "localhost"}
	}
	ev.Dst = ocsfListener(r)
}

// ocsfAPIActivityOf maps a Kafka API or action to OCSF's Create, Read, Update, Delete or Other.
func ocsfAPIActivityOf(name string) (int, string) {
	switch {
	case strings.HasPrefix(name, "Create"), name == "InitProducerId", name == "AddPartitionsToTxn", name == "AddOffsetsToTxn":
		return 1, "Create"
	case strings.HasPrefix(name, "Describe"), strings.HasPrefix(name, "List"), name == "Metadata", name == "Fetch",
		name == "OffsetFetch", name == "FindCoordinator":
		return 2, "Read"
	case strings.HasPrefix(name, "Alter"), strings.HasPrefix(name, "IncrementalAlter"), strings.HasPrefix(name, "Update"),
		name == "Produce", name == "OffsetCommit", name == "TxnOffsetCommit", name == "EndTxn":
		return 3, "Update"
	case strings.HasPrefix(name, "Delete"), name == "OffsetDelete":
		return 4, "Delete"
	}
	return 99, "Other"
}

func ocsfSource(r *Record) *ocsfEndpoint {
	if r.SourceIPAddress == "" {
		return nil
	}
	return &ocsfEndpoint{IP: r.SourceIPAddress}
}

func ocsfListener(r *Record) *ocsfEndpoint {
	if r.Listener == "" {
		return nil
	}
	return &ocsfEndpoint{Name: r.Listener}
}

// ocsfUnmapped keeps what OCSF has no attribute for, under the names of the CloudTrail-like schema.
func ocsfUnmapped(r *Record) map[string]any {
	m := map[string]any{"eventName": r.EventName, "eventType": r.EventType, "eventCategory": r.EventCategory}
	if r.DecidedBy != "" {
		m["decidedBy"] = r.DecidedBy
	}
	if r.ClientID != "" {
		m["clientId"] = r.ClientID
	}
	if r.TLSDetails != nil {
		m["tlsDetails"] = r.TLSDetails
	}
	if p := r.RequestParameters; p != nil && p.Operation != "" {
		m["operation"] = p.Operation
	}
	if len(r.AdditionalEventData) > 0 {
		m["additionalEventData"] = r.AdditionalEventData
	}
	return m
}

// errUnknownMapping: an OCSF record written by a mapping this verifier does not have.
var errUnknownMapping = errors.New("OCSF fields of a mapping this verifier does not know:")

// ocsfPrefix starts every OCSF record ToOCSF writes (and no line of the CloudTrail-like schema).
const ocsfPrefix = `{"category_uid":`

// fromOCSF returns the trail line an OCSF record carries in raw_data. isOCSF is false for a line
// of the CloudTrail-like schema. An OCSF record whose fields are not exactly what ToOCSF derives
// from its raw_data was edited: the chain covers raw_data only, so the derived fields are
// checked by deriving them again.
func fromOCSF(line []byte) (raw []byte, isOCSF bool, err error) {
	if !bytes.HasPrefix(line, []byte(ocsfPrefix)) {
		return nil, false, nil
	}
	var ev struct {
		RawData  *string `json:"raw_data"`
		Metadata struct {
			LogVersion string `json:"log_version"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(line, &ev); err != nil || ev.RawData == nil {
		return nil, true, fmt.Errorf("an OCSF record without the trail's record in raw_data")
	}
	raw = []byte(*ev.RawData)
	if ev.Metadata.LogVersion != ocsfMapping {
		return raw, true, fmt.Errorf("%w %q: only raw_data was checked", errUnknownMapping, ev.Metadata.LogVersion)
	}
	again, err := ToOCSF(raw)
	if err != nil {
		return raw, true, nil // the raw record itself is unreadable: Line reports it
	}
	if !bytes.Equal(again, line) {
		return raw, true, fmt.Errorf("the OCSF fields are not those of the record in raw_data: they were edited")
	}
	return raw, true, nil
}
