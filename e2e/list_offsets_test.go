package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOffsetsForTimesWithRealClients: ten records in one gzip batch with timestamps base,
// base+1 s, …, base+9 s; kcat (-o s@TIMESTAMP) and kafka-python's offsets_for_times find the
// first record at or after each time, not the first of the batch, as against Kafka 4.
func TestOffsetsForTimesWithRealClients(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	py := requirePythonModule(t, "kafka", "python3-kafka")
	b := startBroker(t, nil)
	const topic = "times"
	createTopic(t, b.Addr(), topic, 1, nil)
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.GzipCompression()),
		kgo.ProducerLinger(50*time.Millisecond))
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var rs []*kgo.Record
	for i := range 10 {
		rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	targets := []time.Duration{4500 * time.Millisecond, 5 * time.Second, 9 * time.Second}
	want := []string{"5", "5", "9"}
	for i, at := range targets {
		res := runProgram(t, 30*time.Second, "", kcat, "-b", b.Addr(), "-C", "-t", topic, "-p", "0",
			"-o", fmt.Sprintf("s@%d", base.Add(at).UnixMilli()), "-c", "1", "-e", "-f", "%o\n")
		if got := strings.TrimSpace(res.stdout); res.code != 0 || got != want[i] {
			t.Errorf("kcat -o s@base+%v: %q (exit %d, %s), want offset %s", at, got, res.code, res.stderr, want[i])
		}
	}
	script := fmt.Sprintf(`
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=%q, api_version_auto_timeout_ms=10000)
tp = TopicPartition(%q, 0)
out = []
for ms in [%d, %d, %d]:
    r = c.offsets_for_times({tp: ms})[tp]
    out.append(str(r.offset if r else None))
print(" ".join(out))
`, b.Addr(), topic, base.Add(targets[0]).UnixMilli(), base.Add(targets[1]).UnixMilli(), base.Add(targets[2]).UnixMilli())
	res := runProgram(t, 60*time.Second, "", py, "-c", script)
	if got := strings.TrimSpace(res.stdout); res.code != 0 || got != "5 5 9" {
		t.Errorf("kafka-python offsets_for_times: %q (exit %d)\n%s", got, res.code, res.stderr)
	}
}
