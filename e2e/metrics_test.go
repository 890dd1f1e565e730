package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bulwark-kafka/bulwark/internal/testpki"
)

// TestPrometheusScrapesBroker runs Debian's Prometheus against a running broker: kcat produces
// known traffic and a consumer group reads part of it and stops; PromQL through Prometheus's
// HTTP API then answers the message count per topic and the stopped group's lag, the host
// endpoint is scraped too, the shipped alerting rules load, and `promtool check metrics` finds
// nothing on a live scrape but the camelCase of the JMX-style names.
func TestPrometheusScrapesBroker(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	prom := requireExecutable(t, "prometheus")
	promtool := requireExecutable(t, "promtool")
	b := startBroker(t, map[string]string{"bulwark.metrics.level": "PER_TOPIC_PER_BROKER"})
	metricsAddr := b.ListenerAddr(t, "metrics")
	nodeAddr := b.ListenerAddr(t, "node")
	createTopic(t, b.Addr(), "payments", 2, nil)
	createTopic(t, b.Addr(), "refunds", 1, nil)

	produceLines(t, kcat, b.Addr(), "payments", 25)
	produceLines(t, kcat, b.Addr(), "refunds", 7)
	// The group "ledger" reads all 25 payments, commits (librdkafka commits on close) and stops.
	res := runProgram(t, 60*time.Second, "", kcat, "-b", b.Addr(), "-G", "ledger", "-o", "beginning", "-e", "-q", "payments")
	if res.code != 0 || strings.Count(res.stdout, "\n") != 25 {
		t.Fatalf("kcat consumer: code %d, %d lines\n%s", res.code, strings.Count(res.stdout, "\n"), clip(res.stderr))
	}
	produceLines(t, kcat, b.Addr(), "payments", 10)

	api := startPrometheus(t, prom, metricsAddr, nodeAddr)
	waitQuery(t, api, `kafka_server_BrokerTopicMetrics_Count{name="MessagesInPerSec",topic="payments"}`, 35)
	waitQuery(t, api, `sum(kafka_server_BrokerTopicMetrics_Count{name="MessagesInPerSec",topic="refunds"})`, 7)
	waitQuery(t, api, `kafka_server_BrokerTopicMetrics_Count{name="MessagesInPerSec",topic=""}`, 42)
	waitQuery(t, api, `kafka_consumer_group_ConsumerLagMetrics_Value{name="SumOffsetLag",groupId="ledger",topic="payments"}`, 10)
	waitQuery(t, api, `count(kafka_consumer_group_ConsumerLagMetrics_Value{name="EstimatedMaxTimeLag",groupId="ledger",topic="payments"} > 0)`, 1)
	waitQuery(t, api, `count(node_filesystem_avail_bytes > 0)`, 1)
	waitQuery(t, api, `count(up{job=~"bulwark|bulwark-node"} == 1)`, 2)

	// The rules load and evaluate without error.
	var rules struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
					Error  string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	waitFor(t, 30*time.Second, "alerting rules to be evaluated", func() bool {
		if err := getJSON(api+"/api/v1/rules", &rules); err != nil {
			return false
		}
		n := 0
		for _, g := range rules.Data.Groups {
			for _, r := range g.Rules {
				if r.Health != "ok" {
					return false
				}
				n++
			}
		}
		return n >= 10
	})

	// promtool lints a live scrape: only the camelCase note on JMX-style (and node exporter's
	// memory) names is accepted.
	for _, addr := range []string{metricsAddr, nodeAddr} {
		body := httpGet(t, "http://"+addr+"/metrics")
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		out, _ := cmd.CombinedOutput()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" && !strings.Contains(line, "should be written in 'snake_case' not 'camelCase'") {
				t.Errorf("promtool check metrics on %s: %s", addr, line)
			}
		}
		if !strings.Contains(body, `cluster_id="`) || !strings.Contains(body, `broker_id="1"`) {
			t.Errorf("scrape of %s lacks cluster_id/broker_id labels", addr)
		}
	}
}

// TestMetricsEndpointBasicAuthAndTLS serves the endpoint behind an exporter-toolkit web
// configuration (TLS and a bcrypt-hashed basic-auth user): a scrape without credentials is
// refused, one with them succeeds over TLS verified against the CA, and plaintext gets nothing.
func TestMetricsEndpointBasicAuthAndTLS(t *testing.T) {
	dir := t.TempDir()
	pki, err := testpki.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.Server("metrics")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n",
		server.CertFile, server.KeyFile, hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, map[string]string{"bulwark.metrics.web.config.file": webCfg})
	addr := b.ListenerAddr(t, "metrics")
	caPEM, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	scrape := func(user, password string) int {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), "kafka_controller_KafkaController_Value") {
			t.Errorf("an authorized scrape lacks the controller gauges")
		}
		return resp.StatusCode
	}
	if code := scrape("", ""); code != http.StatusUnauthorized {
		t.Errorf("scrape without credentials: %d, want 401", code)
	}
	if code := scrape("prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("scrape with a wrong password: %d, want 401", code)
	}
	if code := scrape("prometheus", "s3cret"); code != http.StatusOK {
		t.Errorf("scrape with credentials: %d, want 200", code)
	}
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("a plaintext scrape of the TLS endpoint succeeded")
		}
	}
}

// TestMetricsWebConfigInvalidFailsStart: a web configuration that does not parse stops the
// broker at start-up, naming the file, rather than leaving metrics unprotected.
func TestMetricsWebConfigInvalidFailsStart(t *testing.T) {
	dir := t.TempDir()
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, []byte("tls_server_config:\n  cert_file: /nonexistent.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	props := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(props, []byte(fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=%s\nbulwark.metrics.listen=127.0.0.1:0\nbulwark.metrics.node.listen=\nbulwark.metrics.web.config.file=%s\n",
		filepath.Join(dir, "data"), webCfg)), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runProgram(t, 30*time.Second, "", bulwarkBin, "serve", "--config", props)
	if res.code == 0 || !strings.Contains(res.stderr+res.stdout, "web.yml") {
		t.Fatalf("serve with a broken web config: code %d\n%s", res.code, clip(res.stderr+res.stdout))
	}
}

// TestMetricsPortInUseFailsStart: a metrics port already taken (an old JMX exporter still on
// 11001) stops start-up before storage is opened, naming the key.
func TestMetricsPortInUseFailsStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	props := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(props, []byte(fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=%s\nbulwark.metrics.listen=%s\nbulwark.metrics.node.listen=\n",
		filepath.Join(dir, "data"), ln.Addr())), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runProgram(t, 30*time.Second, "", bulwarkBin, "serve", "--config", props)
	if res.code == 0 || !strings.Contains(res.stderr+res.stdout, "bulwark.metrics.listen") {
		t.Fatalf("serve with the metrics port taken: code %d\n%s", res.code, clip(res.stderr+res.stdout))
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "__cluster_metadata")); err == nil {
		t.Error("the metadata log was created: storage opened before the metrics port was bound")
	}
}

func produceLines(t *testing.T, kcat, addr, topic string, n int) {
	t.Helper()
	// Keyed records spread over the partitions by key hash. Unkeyed, librdkafka's sticky
	// partitioner can put one run of lines into a single partition; a group consuming them then
	// commits no offset for the other partition, whose lag the metrics rightly leave out.
	var in strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, "k%d:%s-%d\n", i, topic, i)
	}
	res := runProgram(t, 30*time.Second, in.String(), kcat, "-b", addr, "-P", "-t", topic, "-K:")
	if res.code != 0 {
		t.Fatalf("kcat produce to %s: code %d: %s", topic, res.code, clip(res.stderr))
	}
}

// startPrometheus runs `prometheus` scraping the two endpoints every second, with the shipped
// alerting rules, and returns its base URL once ready.
func startPrometheus(t *testing.T, bin, metricsAddr, nodeAddr string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: bulwark
    static_configs:
      - targets: ['%s']
  - job_name: bulwark-node
    static_configs:
      - targets: ['%s']
`, filepath.Join(root, "monitoring/prometheus/bulwark-rules.yml"), metricsAddr, nodeAddr)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := &procLog{}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", clip(out.String()))
		}
	})
	base := "http://" + addr
	waitFor(t, 30*time.Second, "prometheus to be ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// waitQuery polls an instant PromQL query until its single result equals want.
func waitQuery(t *testing.T, api, query string, want float64) {
	t.Helper()
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err := getJSON(api+"/api/v1/query?query="+url.QueryEscape(query), &r)
		switch {
		case err != nil:
			last = err.Error()
		case len(r.Data.Result) != 1:
			last = fmt.Sprintf("%d results", len(r.Data.Result))
		default:
			s, _ := r.Data.Result[0].Value[1].(string)
			v, err := strconv.ParseFloat(s, 64)
			if err == nil && v == want {
				return
			}
			last = "value " + s
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("PromQL %s: want %v, last answer: %s", query, want, last)
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", u, resp.Status, err)
	}
	return string(b)
}
