package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestInternalTopicsWithRealClients: after a kcat consumer group commits, kcat lists
// __consumer_offsets with its 50 partitions, kafka-python's admin describes it as internal, and
// kafka-python's pattern subscription (exclude_internal_topics, on by default) is assigned the
// user topic only.
func TestInternalTopicsWithRealClients(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	py := requirePythonModule(t, "kafka", "python3-kafka")
	b := startBroker(t, map[string]string{"group.initial.rebalance.delay.ms": "0"})
	const topic = "visible"
	createTopic(t, b.Addr(), topic, 2, nil)
	res := runProgram(t, 30*time.Second, "a\nb\n", kcat, "-b", b.Addr(), "-P", "-t", topic)
	if res.code != 0 {
		t.Fatalf("kcat produce: %s", res.stderr)
	}
	res = runProgram(t, 60*time.Second, "", kcat, "-b", b.Addr(), "-G", "kcat-group", "-X", "auto.offset.reset=earliest",
		"-e", "-f", "%s\n", topic)
	if res.code != 0 || strings.Count(res.stdout, "\n") != 2 {
		t.Fatalf("kcat group consumer (exit %d): %q\n%s", res.code, res.stdout, res.stderr)
	}
	var listing string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		listing = runProgram(t, 30*time.Second, "", kcat, "-b", b.Addr(), "-L").stdout
		if strings.Contains(listing, `topic "__consumer_offsets" with 50 partitions`) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(listing, `topic "__consumer_offsets" with 50 partitions`) {
		t.Fatalf("kcat -L does not list __consumer_offsets with 50 partitions:\n%s", listing)
	}

	script := fmt.Sprintf(`
import time
from kafka import KafkaAdminClient, KafkaConsumer
a = KafkaAdminClient(bootstrap_servers=%[1]q, api_version_auto_timeout_ms=10000)
d = {t["topic"]: t for t in a.describe_topics(["__consumer_offsets", %[2]q])}
print("internal", d["__consumer_offsets"]["is_internal"], d[%[2]q]["is_internal"])
c = KafkaConsumer(bootstrap_servers=%[1]q, group_id="py-pattern", auto_offset_reset="earliest",
                  api_version_auto_timeout_ms=10000)
c.subscribe(pattern=".*")
deadline = time.time() + 30
while not c.assignment() and time.time() < deadline:
    c.poll(timeout_ms=200)
print("assigned", ",".join(sorted({tp.topic for tp in c.assignment()})))
c.close()
`, b.Addr(), topic)
	res = runProgram(t, 90*time.Second, "", py, "-c", script)
	want := "internal True False\nassigned " + topic
	if got := strings.TrimSpace(res.stdout); res.code != 0 || got != want {
		t.Fatalf("kafka-python: %q (exit %d), want %q\n%s", got, res.code, want, res.stderr)
	}
}
