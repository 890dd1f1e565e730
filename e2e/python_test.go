package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// debianPython is the interpreter with Debian's python3-kafka and python3-confluent-kafka; the
// python3 on PATH may be a pyenv build without them. BULWARK_E2E_PYTHON overrides it.
const debianPython = "/usr/bin/python3"

func pythonPath() string {
	if p := os.Getenv("BULWARK_E2E_PYTHON"); p != "" {
		return p
	}
	return debianPython
}

// requirePythonModule fails (never skips) when the interpreter or the module is missing.
func requirePythonModule(t *testing.T, module, debPackage string) string {
	t.Helper()
	py := pythonPath()
	res := runProgram(t, 30*time.Second, "", py, "-c", "import "+module)
	if res.err != nil || res.code != 0 {
		t.Fatalf("%s cannot import %s (%v, exit %d): install %s (scripts/test.sh does)\n%s",
			py, module, res.err, res.code, debPackage, res.stderr)
	}
	return py
}

// pyRecord is one message as the Python scripts report it.
type pyRecord struct {
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Value     *string `json:"value"`
}

// pyResult is the JSON document the scripts print.
type pyResult struct {
	Produced []pyRecord `json:"produced"`
	Consumed []pyRecord `json:"consumed"`
	Errors   []string   `json:"errors"`
}

// runRoundTrip runs a testdata script against a new topic and checks its report.
func runRoundTrip(t *testing.T, py, script, addr, topic string, partitions int32, count int, compression string) {
	t.Helper()
	runSecuredRoundTrip(t, py, script, addr, addr, nil, topic, partitions, count, compression)
}

// runSecuredRoundTrip is runRoundTrip with the topic created through adminAddr (a PLAINTEXT
// listener) and the script connecting to clientAddr with extra client settings (security).
func runSecuredRoundTrip(t *testing.T, py, script, adminAddr, clientAddr string, extra map[string]any, topic string, partitions int32, count int, compression string) {
	t.Helper()
	createTopic(t, adminAddr, topic, partitions, nil)
	extraJSON, err := json.Marshal(extra)
	if err != nil || extra == nil {
		extraJSON = []byte("{}")
	}
	res := runProgram(t, 90*time.Second, "", py, filepath.Join("testdata", script),
		"--bootstrap", clientAddr, "--topic", topic, "--partitions", strconv.Itoa(int(partitions)),
		"--count", strconv.Itoa(count), "--compression", compression, "--extra", string(extraJSON))
	if res.err != nil || res.code != 0 {
		t.Fatalf("%s: %v (exit %d)\nstderr:\n%s\nstdout:\n%s", script, res.err, res.code, clip(res.stderr), clip(res.stdout))
	}
	var r pyResult
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatalf("%s: bad JSON report: %v\nstdout:\n%s\nstderr:\n%s", script, err, clip(res.stdout), clip(res.stderr))
	}
	for _, e := range r.Errors {
		// error_cb reports (connection-level, often transient) are logged; a failed delivery or
		// a consume error is a failure.
		if strings.HasPrefix(e, "delivery:") || strings.HasPrefix(e, "consume:") {
			t.Errorf("%s reported: %s", script, e)
		} else {
			t.Logf("%s reported (not fatal): %s", script, e)
		}
	}
	if err := checkRoundTrip(r, partitions, count); err != nil {
		t.Fatalf("%s: %v\nclient stderr:\n%s", script, err, clip(res.stderr))
	}
}

// checkRoundTrip requires every produced message to be acknowledged at contiguous offsets from 0
// in its partition, in send order, and the consumer to have read exactly those messages at
// exactly those offsets.
func checkRoundTrip(r pyResult, partitions int32, count int) error {
	if len(r.Produced) != count {
		return fmt.Errorf("%d of %d messages acknowledged", len(r.Produced), count)
	}
	acked := map[int32][]pyRecord{}
	for _, m := range r.Produced {
		acked[m.Partition] = append(acked[m.Partition], m)
	}
	for p, ms := range acked {
		if p < 0 || p >= partitions {
			return fmt.Errorf("message acknowledged on partition %d of %d", p, partitions)
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
		for i, m := range ms {
			if m.Offset != int64(i) {
				return fmt.Errorf("partition %d: acknowledged offsets not contiguous from 0: #%d is %d", p, i, m.Offset)
			}
			if i > 0 && *m.Key < *ms[i-1].Key {
				return fmt.Errorf("partition %d: %q stored after %q (out of send order)", p, *m.Key, *ms[i-1].Key)
			}
		}
	}
	got := map[int32][]pyRecord{}
	for _, m := range r.Consumed {
		got[m.Partition] = append(got[m.Partition], m)
	}
	for p := range partitions {
		want, have := acked[p], got[p]
		if len(have) != len(want) {
			return fmt.Errorf("partition %d: consumed %d messages, want %d", p, len(have), len(want))
		}
		for i := range want {
			if have[i].Offset != want[i].Offset || !eqStr(have[i].Key, want[i].Key) || !eqStr(have[i].Value, want[i].Value) {
				return fmt.Errorf("partition %d message %d: consumed %s, want %s", p, i, describe(have[i]), describe(want[i]))
			}
		}
	}
	return nil
}

func eqStr(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func describe(m pyRecord) string {
	s := func(p *string) string {
		if p == nil {
			return "null"
		}
		return strconv.Quote(*p)
	}
	return fmt.Sprintf("offset %d key %s value %s", m.Offset, s(m.Key), s(m.Value))
}

// TestKafkaPython produces with acks=all and consumes with manually assigned partitions using
// kafka-python. Only codecs kafka-python can use with Debian's package and no extra modules
// (snappy, lz4 and zstd need python modules the suite does not install).
func TestKafkaPython(t *testing.T) {
	py := requirePythonModule(t, "kafka", "python3-kafka")
	b := startBroker(t, nil)
	for _, codec := range []string{"none", "gzip"} {
		t.Run(codec, func(t *testing.T) {
			runRoundTrip(t, py, "kafka_python_roundtrip.py", b.Addr(), "kafka-python-"+codec, 3, 300, codec)
		})
	}
}

// TestConfluentKafkaPython does the same with confluent-kafka-python (librdkafka) under every
// compression codec, consuming with assign() at explicit offsets and no group API calls.
func TestConfluentKafkaPython(t *testing.T) {
	py := requirePythonModule(t, "confluent_kafka", "python3-confluent-kafka")
	b := startBroker(t, nil)
	for _, codec := range kcatCodecs {
		t.Run(codec.name, func(t *testing.T) {
			topic := "confluent-" + codec.name
			runRoundTrip(t, py, "confluent_kafka_roundtrip.py", b.Addr(), topic, 3, 300, codec.name)
			checkLibrdkafkaCodec(t, b.Addr(), topic, codec.name, codec.id)
		})
	}
}
