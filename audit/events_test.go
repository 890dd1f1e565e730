package audit

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// records reads back every record of a closed trail.
func records(t *testing.T, dir string) []Record {
	t.Helper()
	var out []Record
	for _, l := range readAll(t, dir) {
		var r Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestAuditorMapsEvents(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuditor(w, AuditorOptions{Allows: AllowsManagement, SummaryInterval: time.Hour})
	now := time.Now()
	alice := auth.User("alice")
	a.OnRequest(hook.Request{Received: now, RequestID: "r1", Principal: alice, ClientAddr: "10.0.0.1:5000", APIKey: 19, API: "CreateTopics",
		ErrorCodes: []hook.ErrorCount{{Code: 36, Count: 1}}, Resources: []hook.Resource{{Type: "TOPIC", Name: "orders"}}})
	a.OnRequest(hook.Request{Received: now, RequestID: "r2", APIKey: 0, API: "Produce", Refusal: "malformed frame"})
	a.OnAuthentication(hook.Authentication{Time: now, RequestID: "r3", Mechanism: "SCRAM-SHA-256", Claimed: "mallory",
		Outcome: hook.AuthFailure, Reason: "wrong password"})
	a.OnAuthorization(hook.Authorization{Time: now, RequestID: "r4", Principal: alice, APIKey: 1, API: "Fetch", Operation: "READ",
		ResourceType: "TOPIC", ResourceName: "secret", Allowed: false, DecidedBy: "no ACL", Engine: "acl"})
	for i := 0; i < 5; i++ { // data-plane allows: one summary
		a.OnAuthorization(hook.Authorization{Time: now, Principal: alice, ClientAddr: "10.0.0.1:5000", APIKey: 0, API: "Produce",
			Operation: "WRITE", ResourceType: "TOPIC", ResourceName: "orders", Allowed: true, Engine: "acl"})
	}
	a.OnAuthorization(hook.Authorization{Time: now, Principal: alice, APIKey: 19, API: "CreateTopics", Operation: "CREATE",
		ResourceType: "TOPIC", ResourceName: "orders", Allowed: true, Engine: "acl"}) // management allow: its own record
	a.OnConnection(hook.Connection{Time: now, Kind: hook.ConnectionOpened}) // not audited
	a.OnConnection(hook.Connection{Time: now, Kind: hook.ConnectionRefused, RequestID: "r5", ClientAddr: "192.0.2.9:1", Reason: "allowlist"})
	a.OnKeyCall(hook.KeyCall{Time: now, Op: "GenerateDataKey"}) // normal course: not audited
	a.OnKeyCall(hook.KeyCall{Time: now, Op: "Decrypt", Err: "throttled"})
	a.Gap(3, "queue full")
	a.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	byName := map[string][]Record{}
	for _, r := range records(t, dir) {
		byName[r.EventName] = append(byName[r.EventName], r)
	}
	ct := byName["CreateTopics"]
	if len(ct) != 2 || ct[0].ErrorCode != "TOPIC_ALREADY_EXISTS" || ct[0].SourceIPAddress != "10.0.0.1" ||
		ct[0].RequestParameters.Resources[0].Name != "orders" || ct[0].UserIdentity.Principal != "User:alice" {
		t.Errorf("CreateTopics: %+v", ct)
	}
	if r := byName["RequestRefused"]; len(r) != 1 || r[0].ErrorMessage != "malformed frame" || r[0].EventCategory != "Data" {
		t.Errorf("refusal: %+v", r)
	}
	if r := byName["Authenticate"]; len(r) != 1 || r[0].UserIdentity.Claimed != "mallory" || r[0].ErrorCode != "SASL_AUTHENTICATION_FAILED" {
		t.Errorf("authentication: %+v", r)
	}
	if r := byName["Fetch"]; len(r) != 1 || r[0].ErrorCode != "TOPIC_AUTHORIZATION_FAILED" || !r[0].ReadOnly || r[0].DecidedBy != "no ACL" {
		t.Errorf("denial: %+v", r)
	}
	if r := byName["Produce"]; len(r) != 1 || r[0].EventType != "AuthorizationSummary" || r[0].AdditionalEventData["count"] != 5.0 {
		t.Errorf("allow summary: %+v", r)
	}
	if r := byName["ConnectionRefused"]; len(r) != 1 || r[0].SourceIPAddress != "192.0.2.9" {
		t.Errorf("refused connection: %+v", r)
	}
	if len(byName["GenerateDataKey"]) != 0 || len(byName["Decrypt"]) != 1 {
		t.Errorf("key calls: %d GenerateDataKey, %d Decrypt", len(byName["GenerateDataKey"]), len(byName["Decrypt"]))
	}
	if r := byName["AuditGap"]; len(r) != 1 || r[0].AdditionalEventData["lost"] != 3.0 {
		t.Errorf("gap: %+v", r)
	}
	reg := a.Registration()
	if reg.Overflow != hook.OverflowBlock || reg.RequestFilter(0) || !reg.RequestFilter(19) || reg.DeniedOnly {
		t.Errorf("registration: %+v", reg)
	}
}

func TestIdentityTypesFollowTheMechanism(t *testing.T) {
	arn := auth.User("arn:aws:iam::123456789012:user/Admin")
	if u := identity(arn, "SCRAM-SHA-512", ""); u.Type != "KafkaPrincipal" || u.ARN != "" {
		t.Errorf("a SCRAM user named like an ARN became %+v", u)
	}
	if u := identity(arn, "AWS_MSK_IAM", ""); u.Type != "IAMUser" || u.ARN != arn.Name || u.Mechanism != "AWS_MSK_IAM" {
		t.Errorf("an IAM login: %+v", u)
	}
	role := auth.User("arn:aws:sts::123456789012:assumed-role/app/session")
	if u := identity(role, "OAUTHBEARER", ""); u.Type != "AssumedRole" {
		t.Errorf("an assumed role: %+v", u)
	}
	if d := tlsDetails(&hook.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256"}); d.TLSVersion != "TLS 1.3" {
		t.Errorf("tls details %+v", d)
	}
}
