package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAuditTrail: with no audit configuration the broker writes its trail beside its data. A
// failed login, an authorization denial and an ACL change each leave a record; the denial's
// record carries the request id of the broker's log line; after a clean stop `bulwark audit
// verify` passes, `bulwark audit query` finds alice's failures, and a record removed from the
// file is reported.
func TestAuditTrail(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b, addr := aclBrokerProc(t, map[string]string{"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer"})
	bulwarkCLI(t, "", "acls", "add", "--bootstrap-server", b.Addr(), "--allow-principal", "User:alice",
		"--operation", "Write", "--topic", "orders")

	// A wrong password.
	res := runProgram(t, 30*time.Second, "v\n", kcat, "-b", addr, "-X", "security.protocol=SASL_PLAINTEXT",
		"-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=alice", "-X", "sasl.password=wrong", "-P", "-t", "orders",
		"-X", "message.timeout.ms=3000")
	if res.code == 0 {
		t.Fatal("kcat with a wrong password succeeded")
	}
	// A denial: alice may not write to "secret".
	if res := kcatProduce(t, kcat, addr, "secret"); res.code == 0 {
		t.Fatal("alice wrote to secret")
	}
	var denialID string
	waitFor(t, 10*time.Second, "the denial's log line", func() bool {
		m := regexp.MustCompile(`Principal = User:alice is Denied operation = [A-Z]+ .*resource = Topic:LITERAL:secret.* request_id=([0-9a-f-]+)`).FindStringSubmatch(b.out.String())
		if m != nil {
			denialID = m[1]
		}
		return m != nil
	})
	b.stop(t)

	if out := bulwarkCLI(t, "", "audit", "verify", "--config", b.props); !strings.Contains(out, "OK") || !strings.Contains(out, "clean close: true") {
		t.Fatalf("verify: %s", out)
	}
	failures := bulwarkCLI(t, "", "audit", "query", "--config", b.props, "--principal", "User:alice", "--outcome", "failure")
	if !strings.Contains(failures, `"requestID":"`+denialID+`"`) || !strings.Contains(failures, `_AUTHORIZATION_FAILED"`) ||
		!strings.Contains(failures, `"resourceName":"secret"`) {
		t.Errorf("alice's denial (request %s) not in the trail:\n%s", denialID, failures)
	}
	logins := bulwarkCLI(t, "", "audit", "query", "--config", b.props, "--event", "Authenticate", "--outcome", "failure")
	if !strings.Contains(logins, `"claimed":"alice"`) || !strings.Contains(logins, `"SASL_AUTHENTICATION_FAILED"`) {
		t.Errorf("the failed login is not in the trail:\n%s", logins)
	}
	acls := bulwarkCLI(t, "", "audit", "query", "--config", b.props, "--event", "CreateAcls")
	if strings.Count(acls, "\n") != 1 || !strings.Contains(acls, `"principal":"User:ANONYMOUS"`) ||
		!strings.Contains(acls, `{"type":"ACL","name":"ALLOW User:alice WRITE on TOPIC:LITERAL:orders from *"}`) {
		t.Errorf("CreateAcls records (want the binding named):\n%s", acls)
	}
	if users := bulwarkCLI(t, "", "audit", "query", "--config", b.props, "--event", "AlterUserScramCredentials", "--resource", "alice"); users == "" {
		t.Error("the SCRAM change of alice does not name her")
	}
	for _, ev := range []string{"BrokerStart", "BrokerStop", "CreateTopics", "AlterUserScramCredentials"} {
		if out := bulwarkCLI(t, "", "audit", "query", "--config", b.props, "--event", ev); out == "" {
			t.Errorf("no %s record", ev)
		}
	}

	// Remove one record from the middle: verify names it.
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(b.dataDir), "data", "__bulwark_audit", "audit-*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no audit files beside the data")
	}
	data, _ := os.ReadFile(files[0])
	if bytes.Contains(data, []byte("alice")) || !bytes.HasPrefix(data, []byte(`{"bulwarkSealed":`)) {
		t.Fatalf("the trail's file is not encrypted at rest:\n%.300s", data)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) < 5 {
		t.Fatalf("only %d lines", len(lines))
	}
	// Line 0 is the file's key header; line 3 is record 3.
	lines = append(lines[:3:3], lines[4:]...)
	if err := os.WriteFile(files[0], append(bytes.Join(lines, []byte("\n")), '\n'), 0o640); err != nil {
		t.Fatal(err)
	}
	res = runProgram(t, 30*time.Second, "", bulwarkBin, "audit", "verify", "--config", b.props)
	if res.code != 1 || !strings.Contains(res.stdout, "missing") || !strings.Contains(res.stdout, "records 3 to 3 are missing") {
		t.Errorf("verify after removing record 3: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}
