package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/aws"
)

// aclBrokerProc starts a broker with Kafka's ACL authorizer: PLAINTEXT for set-up as the super
// user User:ANONYMOUS, SASL_PLAINTEXT with SCRAM for the applications; alice and bob exist.
func aclBrokerProc(t *testing.T, extra map[string]string) (*brokerProc, string) {
	t.Helper()
	props := map[string]string{
		"listeners":               "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.enabled.mechanisms": "SCRAM-SHA-256",
		"super.users":             "User:ANONYMOUS",
	}
	for k, v := range extra {
		props[k] = v
	}
	b := startBroker(t, props)
	setUser(t, b, "alice", "alice-pw")
	setUser(t, b, "bob", "bob-pw")
	for _, topic := range []string{"orders", "secret"} {
		createTopic(t, b.Addr(), topic, 1, nil)
	}
	return b, b.ListenerAddr(t, "SASL_PLAINTEXT")
}

// bulwarkCLI runs the bulwark binary and fails the test on a non-zero exit.
func bulwarkCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	res := runProgram(t, 30*time.Second, stdin, bulwarkBin, args...)
	if res.err != nil || res.code != 0 {
		t.Fatalf("bulwark %s: %v (exit %d)\n%s", strings.Join(args, " "), res.err, res.code, res.stderr)
	}
	return res.stdout
}

func aliceKcat(addr string) []string {
	return []string{"-b", addr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-256",
		"-X", "sasl.username=alice", "-X", "sasl.password=alice-pw"}
}

// kcatProduce produces one line as alice and returns kcat's result.
func kcatProduce(t *testing.T, kcat, addr, topic string) runResult {
	t.Helper()
	return runProgram(t, 30*time.Second, "v\n", kcat, append(aliceKcat(addr), "-P", "-t", topic, "-X", "acks=all",
		"-X", "message.timeout.ms=10000")...)
}

// TestACLsWithRealClients: ACLs made with `bulwark acls` (CreateAcls) decide what kcat,
// kafka-python and confluent-kafka-python may do, with Kafka's error codes; a topic alice may not
// describe is not in her metadata; a non-super user cannot change another user's password.
func TestACLsWithRealClients(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b, addr := aclBrokerProc(t, map[string]string{"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer"})
	admin := b.Addr()
	bulwarkCLI(t, "", "acls", "add", "--bootstrap-server", admin, "--allow-principal", "User:alice",
		"--operation", "Read", "--operation", "Write", "--topic", "orders")
	bulwarkCLI(t, "", "acls", "add", "--bootstrap-server", admin, "--allow-principal", "User:alice",
		"--operation", "Read", "--group", "alice-", "--resource-pattern-type", "prefixed")
	bulwarkCLI(t, "", "acls", "add", "--bootstrap-server", admin, "--allow-principal", "User:alice",
		"--operation", "IdempotentWrite", "--cluster")
	list := bulwarkCLI(t, "", "acls", "list", "--bootstrap-server", admin)
	for _, want := range []string{"TOPIC:orders", "GROUP:alice-", "PREFIXED", "IDEMPOTENT_WRITE"} {
		if !strings.Contains(list, want) {
			t.Fatalf("bulwark acls list lacks %q:\n%s", want, list)
		}
	}

	t.Run("kcat", func(t *testing.T) {
		if res := kcatProduce(t, kcat, addr, "orders"); res.code != 0 || strings.Contains(res.stderr, "ERROR") {
			t.Fatalf("allowed produce: exit %d\n%s", res.code, clip(res.stderr))
		}
		res := kcatProduce(t, kcat, addr, "secret")
		if !strings.Contains(res.stderr, "Topic authorization failed") {
			t.Fatalf("produce to secret: exit %d, want a topic authorization failure\n%s", res.code, clip(res.stderr))
		}
		md := runProgram(t, 30*time.Second, "", kcat, append(aliceKcat(addr), "-L", "-J")...)
		if md.code != 0 || !strings.Contains(md.stdout, `"orders"`) || strings.Contains(md.stdout, `"secret"`) {
			t.Fatalf("alice's metadata should list orders and not secret (exit %d):\n%s", md.code, clip(md.stdout))
		}
	})
	t.Run("confluent-kafka-python", func(t *testing.T) {
		py := requirePythonModule(t, "confluent_kafka", "python3-confluent-kafka")
		extra, _ := json.Marshal(map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-256",
			"sasl.username": "alice", "sasl.password": "alice-pw"})
		got := runAuthzScript(t, py, "confluent_kafka_authz.py", "--bootstrap", addr, "--extra", string(extra),
			"--allowed-topic", "orders", "--denied-topic", "secret", "--denied-group", "other-group", "--denied-txn", "tx-1")
		want := map[string]string{"produce_allowed": "ok", "produce_denied": "TOPIC_AUTHORIZATION_FAILED",
			"group_denied": "GROUP_AUTHORIZATION_FAILED", "txn_denied": "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"}
		checkOutcomes(t, got, want)
	})
	t.Run("kafka-python", func(t *testing.T) {
		py := requirePythonModule(t, "kafka", "python3-kafka")
		got := runAuthzScript(t, py, "kafka_python_authz.py", "--bootstrap", addr, "--user", "alice", "--password", "alice-pw",
			"--allowed-topic", "orders", "--denied-topic", "secret", "--denied-group", "other-group", "--timeout", "5")
		want := map[string]string{"produce_allowed": "ok", "produce_denied": "TopicAuthorizationFailedError",
			"group_denied": "GroupAuthorizationFailedError"}
		checkOutcomes(t, got, want)
	})
	t.Run("credentials", func(t *testing.T) {
		cmd := exec.Command(bulwarkBin, "users", "set", "bob", "--bootstrap-server", addr, "--sasl-mechanism", "SCRAM-SHA-256",
			"--sasl-user", "alice", "--sasl-password-env", "ALICE_PW")
		cmd.Env = append(os.Environ(), "ALICE_PW=alice-pw")
		cmd.Stdin = strings.NewReader("stolen\n")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "CLUSTER_AUTHORIZATION_FAILED") {
			t.Fatalf("alice changing bob's password: %v\n%s", err, out)
		}
		waitLog(t, b, "is Denied operation = ALTER", "resource = Cluster:LITERAL:kafka-cluster", "request = AlterUserScramCredentials")
		// bob's password is unchanged.
		bob := runProgram(t, 30*time.Second, "", kcat, "-b", addr, "-X", "security.protocol=SASL_PLAINTEXT",
			"-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=bob", "-X", "sasl.password=bob-pw", "-L")
		if bob.code != 0 {
			t.Fatalf("bob cannot log in with his own password any more:\n%s", clip(bob.stderr))
		}
	})
	t.Run("remove", func(t *testing.T) {
		bulwarkCLI(t, "", "acls", "remove", "--bootstrap-server", admin, "--allow-principal", "User:alice", "--operation", "Write", "--topic", "orders")
		if res := kcatProduce(t, kcat, addr, "orders"); !strings.Contains(res.stderr, "Topic authorization failed") {
			t.Fatalf("produce after removing the ACL: exit %d\n%s", res.code, clip(res.stderr))
		}
	})
}

func runAuthzScript(t *testing.T, py, script string, args ...string) map[string]string {
	t.Helper()
	res := runProgram(t, 120*time.Second, "", py, append([]string{filepath.Join("testdata", script)}, args...)...)
	if res.err != nil || res.code != 0 {
		t.Fatalf("%s: %v (exit %d)\nstderr:\n%s", script, res.err, res.code, clip(res.stderr))
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("%s printed %q: %v", script, res.stdout, err)
	}
	return got
}

func checkOutcomes(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q (all: %v)", k, got[k], w, got)
		}
	}
}

// opaPolicyDir copies the shipped policy (without its tests) and grants alice orders.
func opaPolicyDir(t *testing.T, grants string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "kafka"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"authz.rego", "topics.rego"} {
		rego, err := os.ReadFile(filepath.Join(root, "policies", "kafka", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "kafka", f), rego, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeGrants(t, dir, grants)
	return dir
}

func writeGrants(t *testing.T, dir, grants string) {
	t.Helper()
	data := fmt.Sprintf(`{"superusers": ["User:ANONYMOUS"], "grants": [%s], "topic_limits": {"name_pattern": "^[a-z0-9][a-z0-9._-]{0,127}$",
		"max_partitions": 16, "min_replication_factor": 1, "max_retention_ms": 2592000000}}`, grants)
	if err := os.WriteFile(filepath.Join(dir, "kafka", "data.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

const aliceOrders = `{"principal": "User:alice", "resourceType": "TOPIC", "name": "orders", "operations": ["READ", "WRITE"]}`
const aliceSecret = `{"principal": "User:alice", "resourceType": "TOPIC", "name": "secret", "operations": ["WRITE"]}`

// TestOPAEmbeddedAndRemote: the same policy decides through the in-process engine and through a
// real `opa run --server`; a policy change applies to the next request; an unreachable OPA
// server fails closed.
func TestOPAEmbeddedAndRemote(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	opaBin := findOPA(t)
	t.Run("embedded", func(t *testing.T) {
		dir := opaPolicyDir(t, aliceOrders)
		b, addr := aclBrokerProc(t, map[string]string{"authorizer.class.name": "org.openpolicyagent.kafka.OpaAuthorizer",
			"bulwark.opa.policy.dir": dir, "bulwark.opa.reload.check.ms": "100", "bulwark.opa.topic.policy.enabled": "true"})
		opaDecides(t, kcat, addr, func() { writeGrants(t, dir, aliceOrders+","+aliceSecret) })
		waitLog(t, b, "OPA policy reloaded")
		// The topic policy (policies/kafka/topics.rego) refuses what breaks its rules, even for
		// the super user.
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		res, err := kadm.NewClient(cl).CreateTopic(context.Background(), 64, 1, nil, "Orders")
		if !errors.Is(err, kerr.PolicyViolation) || !strings.Contains(res.ErrMessage, "does not match") ||
			!strings.Contains(res.ErrMessage, "64 partitions") {
			t.Fatalf("CreateTopics breaking the topic policy: %v %q", err, res.ErrMessage)
		}
	})
	t.Run("remote", func(t *testing.T) {
		dir := opaPolicyDir(t, aliceOrders)
		base := startOPAServer(t, opaBin, dir)
		_, addr := aclBrokerProc(t, map[string]string{"authorizer.class.name": "org.openpolicyagent.kafka.OpaAuthorizer",
			"opa.authorizer.url": base + "/v1/data/kafka/authz/allow", "bulwark.opa.reload.check.ms": "100"})
		opaDecides(t, kcat, addr, func() {
			req, _ := http.NewRequest(http.MethodPatch, base+"/v1/data/kafka/grants", strings.NewReader(`[{"op":"add","path":"-","value":`+aliceSecret+`}]`))
			req.Header.Set("Content-Type", "application/json-patch+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode/100 != 2 {
				t.Fatalf("patch OPA data: %v %v", err, resp)
			}
			resp.Body.Close()
		})
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String() + "/v1/data/kafka/authz/allow"
		ln.Close()
		b, addr := aclBrokerProc(t, map[string]string{"authorizer.class.name": "org.openpolicyagent.kafka.OpaAuthorizer",
			"opa.authorizer.url": url, "bulwark.opa.timeout.ms": "300", "super.users": "User:ANONYMOUS"})
		if res := kcatProduce(t, kcat, addr, "orders"); !strings.Contains(res.stderr, "authorization failed") {
			t.Fatalf("produce with OPA unreachable: exit %d\n%s", res.code, clip(res.stderr))
		}
		waitLog(t, b, "could not decide", "opa.authorizer.allow.on.error=false")
	})
}

// opaDecides: alice may produce to orders and not to secret; after change() grants secret, the
// next produce there succeeds.
func opaDecides(t *testing.T, kcat, addr string, change func()) {
	t.Helper()
	if res := kcatProduce(t, kcat, addr, "orders"); res.code != 0 || strings.Contains(res.stderr, "ERROR") {
		t.Fatalf("allowed produce: exit %d\n%s", res.code, clip(res.stderr))
	}
	if res := kcatProduce(t, kcat, addr, "secret"); !strings.Contains(res.stderr, "Topic authorization failed") {
		t.Fatalf("produce to secret: exit %d\n%s", res.code, clip(res.stderr))
	}
	change()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res := kcatProduce(t, kcat, addr, "secret")
		if res.code == 0 && !strings.Contains(res.stderr, "ERROR") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy change did not apply within 15 s:\n%s", clip(res.stderr))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// findOPA locates the opa binary: OPA_BIN, or the module's `go tool opa`.
func findOPA(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OPA_BIN"); p != "" {
		return p
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "-n", "opa")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the opa binary is needed (go tool -n opa; scripts/test.sh builds it): %v", err)
	}
	return strings.TrimSpace(string(out))
}

// startOPAServer runs `opa run --server` on a free loopback port and returns its base URL.
func startOPAServer(t *testing.T, bin, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "run", "--server", "--addr", addr, "--skip-version-check", "--log-level", "error",
		"--ignore", "*_test.rego", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("opa server at %s not healthy within 20 s: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIAMPoliciesAndExplain: a key and a produce-only policy made with `bulwark iam` on the
// stopped broker; after the restart an AWS_MSK_IAM client (franz-go) may produce and may not
// consume or create topics; `bulwark authz explain` names the statement (or its absence) that
// decides, offline and, for ACLs, against the running broker.
func TestIAMPoliciesAndExplain(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:user/producer"
	b := startBroker(t, map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.enabled.mechanisms":        "AWS_MSK_IAM,SCRAM-SHA-256",
		"authorizer.class.name":          "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":                    "User:ANONYMOUS",
		"bulwark.authorizer.iam.enabled": "true",
		"bulwark.iam.account.id":         "123456789012",
		"bulwark.iam.region":             "us-east-1",
	})
	createTopic(t, b.Addr(), "orders", 1, nil)
	b.stop(t)
	key := bulwarkCLI(t, "", "iam", "create-key", "--config", b.props, "--principal-arn", arn)
	var akid, secret string
	for _, line := range strings.Split(key, "\n") {
		if v, ok := strings.CutPrefix(line, "access_key_id="); ok {
			akid = v
		}
		if v, ok := strings.CutPrefix(line, "secret_access_key="); ok {
			secret = v
		}
	}
	policy := filepath.Join(t.TempDir(), "produce.json")
	doc := `{"Version": "2012-10-17", "Statement": [
	  {"Sid": "Connect", "Effect": "Allow", "Action": ["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"],
	   "Resource": "arn:aws:kafka:us-east-1:123456789012:cluster/bulwark/*"},
	  {"Sid": "ProduceOrders", "Effect": "Allow", "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
	   "Resource": "arn:aws:kafka:us-east-1:123456789012:topic/bulwark/*/orders"}]}`
	if err := os.WriteFile(policy, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "kafka-cluster:*", "Resource": "*"}]}`), 0o644)
	if res := runProgram(t, 30*time.Second, "", bulwarkBin, "iam", "attach-policy", "--config", b.props, "--principal-arn", arn,
		"--name", "bad", "--policy-file", bad); res.code == 0 || !strings.Contains(res.stderr, "NotAction") {
		t.Fatalf("a policy the engine cannot evaluate was attached: exit %d\n%s", res.code, res.stderr)
	}
	bulwarkCLI(t, "", "iam", "attach-policy", "--config", b.props, "--principal-arn", arn, "--name", "produce", "--policy-file", policy)
	if l := bulwarkCLI(t, "", "iam", "list-policies", "--config", b.props); !strings.Contains(l, arn+"\tproduce") {
		t.Fatalf("list-policies:\n%s", l)
	}
	out := bulwarkCLI(t, "", "authz", "explain", "--config", b.props, "--principal", "User:"+arn, "--mechanism", "AWS_MSK_IAM",
		"--operation", "Read", "--topic", "orders")
	if !strings.Contains(out, "decision: DENIED") || !strings.Contains(out, "no IAM statement allows kafka-cluster:ReadData") {
		t.Fatalf("explain read:\n%s", out)
	}
	out = bulwarkCLI(t, "", "authz", "explain", "--config", b.props, "--principal", "User:"+arn, "--mechanism", "AWS_MSK_IAM",
		"--operation", "Write", "--topic", "orders")
	if !strings.Contains(out, "decision: ALLOWED") || !strings.Contains(out, `statement ProduceOrders`) {
		t.Fatalf("explain write:\n%s", out)
	}
	b.start(t)
	addr := b.ListenerAddr(t, "SASL_PLAINTEXT")
	t.Setenv("AWS_REGION", "us-east-1")
	mech := kgo.SASL(aws.Auth{AccessKey: akid, SecretKey: secret}.AsManagedStreamingIAMMechanism())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(addr), mech, kgo.DefaultProduceTopic("orders"), kgo.RequestRetries(0), kgo.RetryTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce under the produce-only policy: %v", err)
	}
	if _, err := kadm.NewClient(producer).CreateTopic(ctx, 1, 1, nil, "new"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("create topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(addr), mech, kgo.ConsumeTopics("orders"), kgo.ConsumerGroup("g"),
		kgo.RequestRetries(0), kgo.RetryTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	if err := consumer.PollFetches(ctx).Err(); !errors.Is(err, kerr.GroupAuthorizationFailed) && !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("consume: %v, want an authorization failure", err)
	}
	// ACLs through the running broker: a DENY made with bulwark acls is what explain names.
	bulwarkCLI(t, "", "acls", "add", "--bootstrap-server", b.Addr(), "--deny-principal", "User:bob", "--operation", "All",
		"--topic", "ord", "--resource-pattern-type", "prefixed")
	out = bulwarkCLI(t, "", "authz", "explain", "--config", b.props, "--bootstrap-server", b.Addr(), "--principal", "User:bob",
		"--operation", "Describe", "--topic", "orders")
	if !strings.Contains(out, "decision: DENIED") || !strings.Contains(out, "operation=ALL, permission=DENY) on Topic:PREFIXED:ord") {
		t.Fatalf("explain against the running broker:\n%s", out)
	}
}
