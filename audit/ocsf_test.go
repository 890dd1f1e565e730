package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// ocsfTrail writes a trail holding every kind of record and returns its lines.
func ocsfTrail(t *testing.T) [][]byte {
	t.Helper()
	dir, kp := t.TempDir(), testKeys(t)
	w, err := Open(Options{Dir: dir, Keys: kp, CheckpointRecords: 4})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuditor(w, AuditorOptions{Allows: AllowsManagement, SummaryInterval: time.Hour})
	now := time.Now()
	alice := auth.User("alice")
	v := int16(7)
	a.Lifecycle("BrokerStart", map[string]any{"version": "1.2.3", "clusterId": "c1", "brokerId": 1})
	a.OnAuthentication(hook.Authentication{Time: now, RequestID: "r0", Principal: alice, Mechanism: "SCRAM-SHA-512", ClientAddr: "10.0.0.1:5000",
		Listener: "SASL_SSL", Outcome: hook.AuthSuccess, TLS: &hook.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256"}})
	a.OnAuthentication(hook.Authentication{Time: now, RequestID: "r1", Principal: auth.User("arn:aws:iam::123456789012:user/Admin"),
		Mechanism: "OAUTHBEARER", ClientAddr: "[2001:db8::1]:5000", Outcome: hook.AuthSuccess})
	a.OnAuthentication(hook.Authentication{Time: now, RequestID: "r2", Mechanism: "SCRAM-SHA-256", Claimed: "mallory",
		Outcome: hook.AuthFailure, Reason: "wrong password"})
	a.OnRequest(hook.Request{Received: now, RequestID: "r3", Principal: alice, ClientAddr: "10.0.0.1:5000", APIKey: 19, APIVersion: v,
		API: "CreateTopics", Resources: []hook.Resource{{Type: "TOPIC", Name: "orders"}, {Type: "TOPIC", Name: "payments"}}})
	a.OnRequest(hook.Request{Received: now, RequestID: "r4", Principal: alice, ClientAddr: "10.0.0.1:5000", APIKey: 20, API: "DeleteTopics",
		ErrorCodes: []hook.ErrorCount{{Code: 3, Count: 1}}, Resources: []hook.Resource{{Type: "TOPIC", Name: "gone"}}})
	a.OnRequest(hook.Request{Received: now, RequestID: "r5", APIKey: 0, API: "Produce", Refusal: "malformed frame"})
	a.OnAuthorization(hook.Authorization{Time: now, RequestID: "r6", Principal: alice, APIKey: 1, API: "Fetch", Operation: "READ",
		ResourceType: "TOPIC", ResourceName: "secret", Allowed: false, DecidedBy: "no ACL", Engine: "acl"})
	a.OnConnection(hook.Connection{Time: now, Kind: hook.ConnectionRefused, RequestID: "r7", ClientAddr: "192.0.2.9:1", Reason: "allowlist"})
	a.OnKeyCall(hook.KeyCall{Time: now, Op: "Decrypt", Err: "throttled"})
	a.Gap(3, "queue full")
	a.Lifecycle("BrokerStop", nil)
	a.Close()
	if err := w.Append(&Record{EventName: "RotateKey", EventType: "KeyOperation", EventCategory: "Management",
		UserIdentity: &UserIdentity{Type: "LocalOperator", Principal: "OS:root"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return readAll(t, dir)
}

// TestOCSFRecordsValidate: every kind of record, in OCSF, validates against the OCSF 1.1.0
// definition of its class (the schema's own files, vendored).
func TestOCSFRecordsValidate(t *testing.T) {
	schema := loadOCSFSchema(t, "testdata/ocsf-1.1.0")
	classes := map[int]*ocsfDef{
		3002: schema.class(t, "events/iam/authentication.json"),
		6002: schema.class(t, "events/application/application_lifecycle.json"),
		6003: schema.class(t, "events/application/api.json"),
	}
	seen := map[int]int{}
	for _, line := range ocsfTrail(t) {
		out, err := ToOCSF(line)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		classUID := int(doc["class_uid"].(float64))
		def, ok := classes[classUID]
		if !ok {
			t.Errorf("class %d for %s", classUID, line)
			continue
		}
		seen[classUID]++
		if want := schema.categories[def.Category]*1000 + def.UID; classUID != want {
			t.Errorf("class_uid %d, the schema says %d", classUID, want)
		}
		if int(doc["category_uid"].(float64)) != schema.categories[def.Category] {
			t.Errorf("category_uid %v for class %d", doc["category_uid"], classUID)
		}
		if int(doc["type_uid"].(float64)) != classUID*100+int(doc["activity_id"].(float64)) {
			t.Errorf("type_uid %v", doc["type_uid"])
		}
		if errs := schema.validate(t, def, doc, ""); len(errs) > 0 {
			t.Errorf("%s does not validate as OCSF %d:\n  %s\n%s", doc["message"], classUID, strings.Join(errs, "\n  "), out)
		}
		if doc["raw_data"] != string(line) {
			t.Errorf("raw_data is not the trail's line")
		}
	}
	if seen[3002] < 3 || seen[6002] < 3 || seen[6003] < 5 {
		t.Errorf("records per class: %v", seen)
	}

	// The validator itself refuses what breaks the schema.
	bad := map[string]any{"class_uid": 6003.0, "activity_id": 42.0, "time": "yesterday", "colour": "red",
		"actor": map[string]any{}, "src_endpoint": map[string]any{"ip": "not-an-ip"}}
	errs := strings.Join(schema.validate(t, classes[6003], bad, ""), "\n")
	for _, want := range []string{"api: required attribute missing", "metadata: required attribute missing", "activity_id: 42 is not one of",
		"time: want an integer", "colour: not an attribute", "actor: constraint at_least_one", "src_endpoint.ip: not an IP address"} {
		if !strings.Contains(errs, want) {
			t.Errorf("the validator missed %q in:\n%s", want, errs)
		}
	}
}

// TestOCSFTrailVerifies: a trail delivered in OCSF verifies like the original, and an edit to
// either the OCSF fields or the record in raw_data is found.
func TestOCSFTrailVerifies(t *testing.T) {
	kp := testKeys(t)
	dir := t.TempDir()
	writeTrail(t, dir, kp, 30)
	var lines [][]byte
	for _, l := range readAll(t, dir) {
		out, err := ToOCSF(l)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, out)
	}
	if rep := verifyDelivered(kp, lines, true, false); !rep.OK() || rep.Signed == 0 || rep.Records != uint64(len(lines)) {
		t.Fatalf("the OCSF trail: %+v", rep)
	}
	fields := append([][]byte(nil), lines...)
	fields[5] = bytes.Replace(fields[5], []byte(`"name":"User:alice"`), []byte(`"name":"User:bob"`), 1)
	if rep := verifyDelivered(kp, fields, true, false); rep.OK() || firstKind(rep) != "edited" || !strings.Contains(rep.Problems[0].Detail, "OCSF fields") {
		t.Fatalf("an edited OCSF field: %+v", rep.Problems)
	}
	raw := append([][]byte(nil), lines...)
	raw[5] = bytes.Replace(raw[5], []byte(`\"principal\":\"User:alice\"`), []byte(`\"principal\":\"User:bob\"`), 1)
	if bytes.Equal(raw[5], lines[5]) {
		t.Fatal("the test's edit did not apply")
	}
	if rep := verifyDelivered(kp, raw, true, false); rep.OK() {
		t.Fatalf("an edited raw_data verified")
	}
}

// TestOCSFFitsTheSinksEventLimit: a large record sheds OCSF's derived copies to stay within
// CloudWatch Logs' event limit, and one that cannot fit goes as written (Formatted), never cut.
func TestOCSFFitsTheSinksEventLimit(t *testing.T) {
	big := func(n int) []byte {
		r := &Record{EventVersion: EventVersion, EventTime: time.Now().UTC().Format(time.RFC3339Nano), EventName: "CreateTopics",
			EventType: "KafkaApiCall", EventID: "audit/7", Seq: 7, PrevHash: zeroHash,
			AdditionalEventData: map[string]any{"blob": strings.Repeat("x", n)}}
		b, _ := json.Marshal(r)
		return b
	}
	out, err := ToOCSF(big(130 << 10))
	if err != nil || len(out) > ocsfMaxBytes || bytes.Contains(out, []byte(`"unmapped"`)) {
		t.Fatalf("a 130 KiB record: %d bytes, %v", len(out), err)
	}
	if _, isOCSF, err := fromOCSF(out); !isOCSF || err != nil {
		t.Fatalf("the shed record does not check: %v", err)
	}
	line := big(190 << 10)
	bigQuotes := bytes.ReplaceAll(line, []byte("x"), []byte(`"`)) // escaping doubles it
	if _, err := ToOCSF(bigQuotes); err == nil {
		t.Fatal("an OCSF record past the limit was made")
	}
}
