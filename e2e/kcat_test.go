package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kcatCodecs maps kcat's -z names to the record-batch codec ids stored in batch attributes.
var kcatCodecs = []struct {
	name string
	id   int
}{{"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}}

// TestKcatCompression produces keyed messages with kcat (librdkafka) under every compression
// codec, consumes them back with kcat, and checks offsets, keys and values exactly, plus that the
// broker stored the batches with the codec the client chose.
func TestKcatCompression(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b := startBroker(t, nil)
	for _, codec := range kcatCodecs {
		t.Run(codec.name, func(t *testing.T) {
			topic := "kcat-" + codec.name
			createTopic(t, b.Addr(), topic, 1, nil)
			const n = 300
			var in strings.Builder
			want := make([]string, n)
			for i := range n {
				key := fmt.Sprintf("key-%04d", i)
				// Repetitive values so every codec really compresses; lengths vary per message.
				val := fmt.Sprintf("%s-value-%04d-%s", codec.name, i, strings.Repeat(string(rune('a'+i%26)), i%60))
				fmt.Fprintf(&in, "%s:%s\n", key, val)
				want[i] = fmt.Sprintf("%d %s %s", i, key, val)
			}
			prod := runProgram(t, 60*time.Second, in.String(), kcat,
				"-P", "-b", b.Addr(), "-t", topic, "-p", "0", "-z", codec.name, "-K", ":",
				"-X", "acks=all", "-X", "linger.ms=5")
			if prod.err != nil || prod.code != 0 {
				t.Fatalf("kcat -P -z %s: %v (exit %d)\nstderr:\n%s", codec.name, prod.err, prod.code, clip(prod.stderr))
			}
			if strings.Contains(prod.stderr, "ERROR") {
				t.Fatalf("kcat -P -z %s reported errors:\n%s", codec.name, clip(prod.stderr))
			}
			expectKcatConsumes(t, kcat, b.Addr(), topic, want)
			checkLibrdkafkaCodec(t, b.Addr(), topic, codec.name, codec.id)
		})
	}
}

// TestKcatConsumesCompressed has franz-go write batches with every codec and kcat read them
// back, so librdkafka's decompression of what the broker serves is covered for every codec even
// independently of which codecs librdkafka chooses when producing.
func TestKcatConsumesCompressed(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b := startBroker(t, nil)
	codecs := map[string]kgo.CompressionCodec{
		"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for _, codec := range kcatCodecs[1:] {
		t.Run(codec.name, func(t *testing.T) {
			topic := "franz-" + codec.name
			createTopic(t, b.Addr(), topic, 1, nil)
			cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic(topic),
				kgo.ProducerBatchCompression(codecs[codec.name]), kgo.ProducerLinger(50*time.Millisecond))
			const n = 300
			recs := make([]*kgo.Record, n)
			want := make([]string, n)
			for i := range n {
				key := fmt.Sprintf("fk-%04d", i)
				val := fmt.Sprintf("franz %s %04d %s", codec.name, i, strings.Repeat("y", i%50))
				recs[i] = &kgo.Record{Key: []byte(key), Value: []byte(val)}
				want[i] = fmt.Sprintf("%d %s %s", i, key, val)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatalf("franz-go produce with %s: %v", codec.name, err)
			}
			expectKcatConsumes(t, kcat, b.Addr(), topic, want)
			stored := batchCodecs(t, b.Addr(), topic, 0)
			for i, c := range stored {
				if c != codec.id {
					t.Fatalf("batch %d stored with codec %d, want %d (%s); all: %v", i, c, codec.id, codec.name, stored)
				}
			}
		})
	}
}

// checkLibrdkafkaCodec requires every batch a librdkafka client stored in partition 0 to carry
// the codec it was told to use (for "none": no compression anywhere), allowing a batch sent
// uncompressed as long as at least one batch used the codec.
//
// librdkafka 2.0.2 decides from ApiVersions whether the broker "supports" a codec and otherwise
// silently sends uncompressed batches: gzip and snappy need Produce v0-v2 advertised (which is why
// Kafka 4.0 still advertises them, KAFKA-18659 / apache/kafka#18727, librdkafka#4956), LZ4 needs
// FindCoordinator v0, zstd needs Produce v7 and Fetch v10. The broker advertises all of them, so
// every codec is checked strictly.
func checkLibrdkafkaCodec(t *testing.T, addr, topic, name string, id int) {
	t.Helper()
	codecs := batchCodecs(t, addr, topic, 0)
	if len(codecs) == 0 {
		t.Fatalf("no record batches fetched from %s", topic)
	}
	if name == "lz4" {
		if v, ok := apiVersions(t, addr)[apiKeyFindCoordinator]; !ok || v[0] > 0 {
			t.Fatalf("lz4: the broker must advertise FindCoordinator v0 for librdkafka 2.0.2 to compress with lz4 (advertised %v)", v)
		}
	}
	seen := false
	for i, c := range codecs {
		switch c {
		case id:
			seen = true
		case 0:
		default:
			t.Fatalf("batch %d stored with codec %d, want %d (%s)", i, c, id, name)
		}
	}
	if !seen {
		t.Fatalf("no batch of %s stored with codec %d (%s): codecs %v", topic, id, name, codecs)
	}
}

var (
	kcatBrokerLine    = regexp.MustCompile(`(?m)^\s*broker (\d+) at (\S+)`)
	kcatTopicLine     = regexp.MustCompile(`(?m)^\s*topic "([^"]+)" with (\d+) partitions:(.*)$`)
	kcatPartitionLine = regexp.MustCompile(`(?m)^\s*partition (\d+), leader (-?\d+), replicas: ([\d,]*), isrs: ([\d,]*)(.*)$`)
)

// TestKcatMetadata lists metadata with `kcat -L` and checks the broker, the topics, their
// partition counts, leaders, replicas and ISRs as librdkafka understood them.
func TestKcatMetadata(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b := startBroker(t, nil)
	createTopic(t, b.Addr(), "meta-a", 3, nil)
	createTopic(t, b.Addr(), "meta-b", 1, nil)
	res := runProgram(t, 30*time.Second, "", kcat, "-L", "-b", b.Addr())
	if res.err != nil || res.code != 0 {
		t.Fatalf("kcat -L: %v (exit %d)\nstderr:\n%s", res.err, res.code, clip(res.stderr))
	}
	out := res.stdout
	brokers := kcatBrokerLine.FindAllStringSubmatch(out, -1)
	if len(brokers) != 1 || brokers[0][2] != b.Addr() {
		t.Fatalf("kcat -L brokers %v, want exactly one at %s\n%s", brokers, b.Addr(), out)
	}
	nodeID := brokers[0][1]
	want := map[string]int{"meta-a": 3, "meta-b": 1}
	topics := map[string]int{}
	for _, m := range kcatTopicLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		topics[m[1]] = n
		if strings.TrimSpace(m[3]) != "" {
			t.Errorf("topic %s listed with an error: %q", m[1], m[3])
		}
	}
	for name, n := range want {
		if topics[name] != n {
			t.Errorf("kcat -L: topic %s has %d partitions, want %d", name, topics[name], n)
		}
	}
	// Partition lines follow their topic; count them per topic section.
	sections := strings.Split(out, "  topic \"")
	for _, sec := range sections[1:] {
		name := sec[:strings.IndexByte(sec, '"')]
		n, ok := want[name]
		if !ok {
			continue
		}
		parts := kcatPartitionLine.FindAllStringSubmatch(sec, -1)
		if len(parts) != n {
			t.Errorf("topic %s: %d partition lines, want %d", name, len(parts), n)
		}
		seen := map[string]bool{}
		for _, p := range parts {
			seen[p[1]] = true
			if p[2] != nodeID || p[3] != nodeID || p[4] != nodeID || strings.TrimSpace(p[5]) != "" {
				t.Errorf("topic %s: partition line %q, want leader, replicas and isrs %s, no error", name, p[0], nodeID)
			}
		}
		for i := range n {
			if !seen[strconv.Itoa(i)] {
				t.Errorf("topic %s: partition %d missing from kcat -L", name, i)
			}
		}
	}
	if t.Failed() {
		t.Logf("kcat -L output:\n%s", out)
	}
}

// expectKcatConsumes reads topic from the beginning with kcat (offset, key and value per line)
// and requires exactly the lines in want, in order.
func expectKcatConsumes(t *testing.T, kcat, addr, topic string, want []string, extra ...string) {
	t.Helper()
	n := len(want)
	args := append([]string{"-C", "-u", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-f", `%o %k %s\n`}, extra...)
	cons := runProgram(t, 20*time.Second, "", kcat, args...)
	if cons.err != nil || cons.code != 0 {
		t.Fatalf("kcat -C: %v (exit %d) after printing %d of %d messages\nstderr:\n%s",
			cons.err, cons.code, strings.Count(cons.stdout, "\n"), n, clip(cons.stderr))
	}
	got := strings.Split(strings.TrimSuffix(cons.stdout, "\n"), "\n")
	if len(got) != n {
		t.Fatalf("kcat -C returned %d lines, want %d\nstderr:\n%s", len(got), n, clip(cons.stderr))
	}
	for i := range n {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %q, want %q", i, got[i], want[i])
		}
	}
}
