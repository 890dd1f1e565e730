package opa

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// shipped is the policy directory Bulwark ships.
const shipped = "../../policies"

func rc(user string) *authz.RequestContext {
	return &authz.RequestContext{Principal: auth.User(user), ClientAddr: "10.0.0.1", Listener: "SASL_SSL",
		SecurityProtocol: "SASL_SSL", ClientID: "c", APIKey: 1, APIVersion: 12, ConnectionID: "a-b-0",
		ClientSoftwareName: "test", ClientSoftwareVersion: "1"}
}

func act(op authz.Operation, r authz.Resource) authz.Action {
	return authz.Action{Operation: op, Resource: r, ReferenceCount: 1, LogIfAllowed: true, LogIfDenied: true}
}

// decisions runs the same checks of the shipped policy through any engine.
func decisions(t *testing.T, e *Engine) {
	t.Helper()
	cases := []struct {
		user string
		a    authz.Action
		want bool
	}{
		{"admin", act(authz.OpAlter, authz.Cluster), true},
		{"orders-app", act(authz.OpWrite, authz.Topic("orders-eu")), true},
		{"orders-app", act(authz.OpDescribe, authz.Topic("orders-eu")), true},
		{"orders-app", act(authz.OpRead, authz.Topic("payments")), false},
		{"orders-app", act(authz.OpRead, authz.Group("orders-billing")), true},
		{"mallory", act(authz.OpRead, authz.Topic("orders-eu")), false},
		{"mallory", act(authz.OpRead, authz.Topic("public-news")), true},
	}
	for _, c := range cases {
		d := e.Authorize(rc(c.user), []authz.Action{c.a})[0]
		if d.Allowed != c.want || d.Engine != "opa" || d.DecidedBy == "" {
			t.Errorf("%s %s on %s: %+v, want allowed=%v", c.user, c.a.Operation, c.a.Resource, d, c.want)
		}
	}
	d := e.Explain(rc("mallory"), act(authz.OpRead, authz.Topic("orders-eu")))
	if !strings.Contains(d.DecidedBy, "no grant gives User:mallory READ on TOPIC orders-eu") {
		t.Errorf("denial does not carry the policy's reason: %q", d.DecidedBy)
	}
}

func TestEmbeddedShippedPolicy(t *testing.T) {
	e, err := NewEmbedded(shipped, Options{CacheMax: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	decisions(t, e)
	// A second identical request (new correlation id) is served from the cache.
	before := e.CacheLen()
	r := rc("orders-app")
	r.CorrelationID = 99
	e.Authorize(r, []authz.Action{act(authz.OpWrite, authz.Topic("orders-eu"))})
	if e.CacheLen() != before {
		t.Fatalf("cache grew from %d to %d for a repeated decision", before, e.CacheLen())
	}
}

// copyPolicy copies the shipped policy (without tests) to a temporary directory.
func copyPolicy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"kafka/authz.rego", "kafka/data.json"} {
		b, err := os.ReadFile(filepath.Join(shipped, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "kafka"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEmbeddedReload: a data change is seen by the next decision after the directory check; a
// change that does not compile leaves the last good policy in force.
func TestEmbeddedReload(t *testing.T) {
	dir := copyPolicy(t)
	e, err := NewEmbedded(dir, Options{CacheMax: 100, ReloadCheck: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a := act(authz.OpRead, authz.Topic("payments"))
	if e.Authorize(rc("carol"), []authz.Action{a})[0].Allowed {
		t.Fatal("carol allowed before any grant")
	}
	data := `{"superusers": [], "grants": [{"principal": "User:carol", "resourceType": "TOPIC", "name": "payments", "operations": ["READ"]}]}`
	if err := os.WriteFile(filepath.Join(dir, "kafka", "data.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.Authorize(rc("carol"), []authz.Action{a})[0].Allowed })
	rev := e.Revision()
	if err := os.WriteFile(filepath.Join(dir, "kafka", "broken.rego"), []byte("package kafka.authz\nallow if {"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if e.Revision() != rev || !e.Authorize(rc("carol"), []authz.Action{a})[0].Allowed {
		t.Fatal("a policy that does not compile replaced the working one")
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 10 s")
}

// opaBinary finds the opa command: OPA_BIN, or the module's `go tool opa` (built on first use).
func opaBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OPA_BIN"); p != "" {
		return p
	}
	out, err := exec.Command("go", "tool", "-n", "opa").Output()
	if err != nil {
		t.Fatalf("the opa binary is needed (go tool -n opa): %v", err)
	}
	return strings.TrimSpace(string(out))
}

// startOPA runs `opa run --server` on a free loopback port with the given policy directory and
// returns its base URL.
func startOPA(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(opaBinary(t), "run", "--server", "--addr", addr, "--skip-version-check",
		"--log-level", "error", "--ignore", "*_test.rego", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	waitFor(t, func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return base
}

// TestRemoteSameDecisions runs the shipped policy in a real OPA server, and checks that a
// policy change on the server drops the cache.
func TestRemoteSameDecisions(t *testing.T) {
	dir := copyPolicy(t)
	base := startOPA(t, dir)
	e, err := NewRemote(base+"/v1/data/kafka/authz/allow", Options{CacheMax: 100, ReloadCheck: 50 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	decisions(t, e)

	a := act(authz.OpRead, authz.Topic("payments"))
	if e.Authorize(rc("carol"), []authz.Action{a})[0].Allowed {
		t.Fatal("carol allowed before the change")
	}
	grant := `{"principal": "User:carol", "resourceType": "TOPIC", "name": "payments", "operations": ["READ"]}`
	req, _ := http.NewRequest(http.MethodPatch, base+"/v1/data/kafka/grants", strings.NewReader(`[{"op":"add","path":"-","value":`+grant+`}]`))
	req.Header.Set("Content-Type", "application/json-patch+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("patch OPA data: %v %v", err, resp)
	}
	resp.Body.Close()
	waitFor(t, func() bool { return e.Authorize(rc("carol"), []authz.Action{a})[0].Allowed })
}

// TestRemoteUnreachableFailsClosed: with no server, every decision is a denial that says why,
// unless allow-on-error is set.
func TestRemoteUnreachableFailsClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/v1/data/kafka/authz/allow", ln.Addr())
	ln.Close()
	for _, allowOnError := range []bool{false, true} {
		e, err := NewRemote(url, Options{CacheMax: 100, Timeout: 200 * time.Millisecond, AllowOnError: allowOnError})
		if err != nil {
			t.Fatal(err)
		}
		d := e.Authorize(rc("admin"), []authz.Action{act(authz.OpRead, authz.Topic("t"))})[0]
		e.Close()
		if d.Allowed != allowOnError || !strings.Contains(d.DecidedBy, "could not decide") {
			t.Fatalf("allow.on.error=%v: %+v", allowOnError, d)
		}
		if e.CacheLen() != 0 {
			t.Fatal("an error was cached")
		}
	}
}

// TestTopicPolicy runs the shipped topic policy in-process and in a real OPA server.
func TestTopicPolicy(t *testing.T) {
	check := func(t *testing.T, e *Engine) {
		t.Helper()
		ok, err := e.CheckTopic(rc("admin"), authz.TopicChange{API: "CreateTopics", Topic: "orders-eu", Partitions: 6, ReplicationFactor: 1,
			Configs: map[string]string{"retention.ms": "86400000"}})
		if err != nil || len(ok) != 0 {
			t.Fatalf("a good topic: %v %v", ok, err)
		}
		bad, err := e.CheckTopic(rc("admin"), authz.TopicChange{API: "CreateTopics", Topic: "Orders", Partitions: 1000, ReplicationFactor: 1,
			Configs: map[string]string{"retention.ms": "-1"}})
		if err != nil || len(bad) != 3 {
			t.Fatalf("a topic breaking three rules: %q %v", bad, err)
		}
	}
	t.Run("embedded", func(t *testing.T) {
		e, err := NewEmbedded(shipped, Options{TopicQuery: "data.kafka.topics.deny"})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		check(t, e)
	})
	t.Run("remote", func(t *testing.T) {
		dir := copyPolicy(t)
		b, err := os.ReadFile(filepath.Join(shipped, "kafka", "topics.rego"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "kafka", "topics.rego"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		base := startOPA(t, dir)
		e, err := NewRemote(base+"/v1/data/kafka/authz/allow", Options{TopicQuery: "data.kafka.topics.deny", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		check(t, e)
	})
}

// TestRemoteBlackHoleSharesOneDeadline: against a server that accepts and never answers, a
// request of many actions waits for one deadline, and the actions after the first failure are
// not asked (each says so).
func TestRemoteBlackHoleSharesOneDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, never answer
		}
	}()
	e, err := NewRemote("http://"+ln.Addr().String()+"/v1/data/kafka/authz/allow", Options{CacheMax: 100, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	actions := make([]authz.Action, 400)
	for i := range actions {
		actions[i] = act(authz.OpDescribe, authz.Topic(fmt.Sprintf("t-%d", i)))
	}
	ds := e.Authorize(rc("admin"), actions)
	notAsked := 0
	for _, d := range ds {
		if d.Allowed {
			t.Fatalf("allowed against a black hole: %+v", d)
		}
		if strings.Contains(d.DecidedBy, "not asked after an earlier failure") {
			notAsked++
		}
	}
	if notAsked == 0 {
		t.Fatal("every action waited for its own timeout")
	}
}

// BenchmarkEmbedded measures one decision of the shipped policy, from the cache and evaluated.
func BenchmarkEmbedded(b *testing.B) {
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			max := 100
			if !cached {
				max = 0
			}
			e, err := NewEmbedded(shipped, Options{CacheMax: max})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			r := rc("orders-app")
			acts := []authz.Action{act(authz.OpWrite, authz.Topic("orders-eu"))}
			b.ReportAllocs()
			for b.Loop() {
				if !e.Authorize(r, acts)[0].Allowed {
					b.Fatal("denied")
				}
			}
		})
	}
}
