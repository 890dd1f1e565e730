package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestBrokerLogFilesLevelsAndShipping: the broker log goes to rotated JSON files beside the data
// and to CloudWatch Logs; a dynamic change of bulwark.log.level.overrides (IncrementalAlterConfigs)
// takes effect without a restart.
func TestBrokerLogFilesLevelsAndShipping(t *testing.T) {
	fake := startCloudWatchFake(t)
	b := startBroker(t, map[string]string{
		"bulwark.logs.broker.cloudwatch.log.group": "/bulwark/broker",
		"bulwark.aws.endpoint.logs":                fake.URL(),
		"bulwark.aws.region":                       "us-east-1",
		"bulwark.log.level.overrides":              "network=WARN",
	})
	createTopic(t, b.Addr(), "logs-topic", 1, nil)

	// network=WARN keeps connection lines out; lifting it makes them appear.
	adm := kadm.NewClient(newClient(t, b.Addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v := "network=DEBUG"
	if _, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "bulwark.log.level.overrides", Value: &v}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the level change to apply", func() bool { return strings.Contains(b.out.String(), "log levels changed") })
	cl := newClient(t, b.Addr()) // a connection opened and closed: logged by the network logger now
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	waitFor(t, 10*time.Second, "a network debug line", func() bool {
		return strings.Contains(b.out.String(), "level=DEBUG") && strings.Contains(b.out.String(), "component=network")
	})
	b.stop(t)

	files, _ := filepath.Glob(filepath.Join(b.dataDir, "__bulwark_logs", "broker-*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no broker log files beside the data")
	}
	data, _ := os.ReadFile(files[0])
	if strings.Contains(string(data), "topic created") {
		t.Fatal("the broker log file is not encrypted at rest")
	}
	// `bulwark logs` opens them.
	lines := strings.Split(strings.TrimSpace(bulwarkCLI(t, "", "logs", "--config", b.props)), "\n")
	if tail := bulwarkCLI(t, "", "logs", "--config", b.props, "--tail", "2"); strings.Count(tail, "\n") != 2 || !strings.HasSuffix(tail, lines[len(lines)-1]+"\n") {
		t.Fatalf("logs --tail 2:\n%s", tail)
	}
	var first struct {
		Time  string `json:"time"`
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Time == "" || first.Msg == "" {
		t.Fatalf("the file's lines are not slog JSON: %q (%v)", lines[0], err)
	}
	waitFor(t, 20*time.Second, "the broker log in CloudWatch", func() bool {
		for _, e := range fake.Events("/bulwark/broker", "broker-1") {
			if strings.Contains(e.Message, `"msg":"topic created"`) {
				return true
			}
		}
		return false
	})
}

// TestMetricsPublishedAsEMF: with bulwark.metrics.cloudwatch.log.group the broker's DEFAULT
// metrics reach CloudWatch Logs as Embedded Metric Format records under MSK's names and
// dimensions.
func TestMetricsPublishedAsEMF(t *testing.T) {
	fake := startCloudWatchFake(t)
	b := startBroker(t, map[string]string{
		"bulwark.metrics.cloudwatch.log.group":   "/bulwark/metrics",
		"bulwark.metrics.cloudwatch.interval.ms": "1000",
		"bulwark.cluster.name":                   "prod",
		"bulwark.aws.endpoint.logs":              fake.URL(),
		"bulwark.aws.region":                     "us-east-1",
	})
	createTopic(t, b.Addr(), "emf-topic", 3, nil)
	waitFor(t, 30*time.Second, "an EMF record with the topic count", func() bool {
		for _, e := range fake.Events("/bulwark/metrics", "broker-1") {
			var doc map[string]any
			if json.Unmarshal([]byte(e.Message), &doc) != nil || doc["_aws"] == nil {
				continue
			}
			// The topic and the audit topic (internal topics count, as in Kafka).
			if doc["Cluster Name"] == "prod" && doc["GlobalTopicCount"] == 2.0 && doc["GlobalPartitionCount"] == 4.0 {
				return true
			}
		}
		return false
	})
}
