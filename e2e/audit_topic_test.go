package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
)

// TestAuditTopic: the trail is also the read-only topic __bulwark_audit. kcat reads it and
// cannot write it; `bulwark audit verify --topic` passes on it, across a SIGKILL (whose
// redelivered records it drops); and a deleted, edited, reordered or cut record among those read
// back from the topic is reported.
func TestAuditTopic(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b := startBroker(t, map[string]string{"bulwark.audit.checkpoint.interval.ms": "200"})
	for i := range 3 {
		createTopic(t, b.Addr(), fmt.Sprintf("before-%d", i), 1, nil)
	}
	time.Sleep(500 * time.Millisecond) // a checkpoint covers the records
	b.kill(t)
	b.restart(t)
	for i := range 3 {
		createTopic(t, b.Addr(), fmt.Sprintf("after-%d", i), 1, nil)
	}

	// kcat consumes the records; a produce to the topic is refused.
	var consumed string
	waitFor(t, 20*time.Second, "the after-crash records in the topic", func() bool {
		res := runProgram(t, 30*time.Second, "", kcat, "-b", b.Addr(), "-C", "-t", broker.AuditTopic, "-o", "beginning", "-e", "-q")
		consumed = res.stdout
		return strings.Contains(consumed, `"name":"after-2"`)
	})
	if !strings.Contains(consumed, `"eventName":"BrokerStart"`) || !strings.Contains(consumed, `"eventName":"AuditStreamRecovered"`) {
		t.Errorf("the topic lacks the start and recovery records:\n%s", consumed)
	}
	res := runProgram(t, 30*time.Second, "forged\n", kcat, "-b", b.Addr(), "-P", "-t", broker.AuditTopic, "-X", "message.timeout.ms=5000")
	if res.code == 0 || !strings.Contains(res.stderr, "nternal topic") && !strings.Contains(res.stderr, "Invalid topic") && !strings.Contains(res.stderr, "INVALID_TOPIC") {
		t.Errorf("kcat produced to the audit topic: exit %d\n%s", res.code, res.stderr)
	}

	out := bulwarkCLI(t, "", "audit", "verify", "--topic", broker.AuditTopic, "--bootstrap-server", b.Addr(), "--config", b.props)
	if !strings.Contains(out, "OK") || !strings.Contains(out, "topic "+broker.AuditTopic) {
		t.Fatalf("verify --topic:\n%s", out)
	}

	// The records read back from the topic, tampered with as an attacker with the disk would.
	lines := topicLines(t, b.Addr())
	cfg, err := config.Load(b.props)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := broker.NewKeyProvider(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, ls [][]byte, wantKind string) {
		t.Helper()
		v := audit.NewVerifier("audit", kp)
		v.DropRedelivered = true
		for i, l := range ls {
			v.Line("topic", i, l)
		}
		rep := v.Finish(wantKind != "truncated")
		got := ""
		if len(rep.Problems) > 0 {
			got = rep.Problems[0].Kind
		}
		if got != wantKind {
			t.Errorf("%s: first problem %q, want %q (%+v)", name, got, wantKind, rep.Problems)
		}
	}
	clone := func() [][]byte { return append([][]byte(nil), lines...) }
	check("as read", clone(), "")
	del := clone()
	check("a record deleted", append(del[:3:3], del[4:]...), "missing")
	ed := clone()
	ed[2] = bytes.Replace(ed[2], []byte(`"eventTime":"`), []byte(`"eventTime":"1`), 1)
	check("a record edited", ed, "edited")
	re := clone()
	re[3], re[4] = re[4], re[3]
	check("two records swapped", re, "reordered")
	check("the tail cut", clone()[:len(lines)-2], "truncated")
}

// topicLines reads the audit topic from its start to its end.
func topicLines(t *testing.T, addr string) [][]byte {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{broker.AuditTopic: {0: kgo.NewOffset().AtStart()}}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out [][]byte
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break // nothing more within the wait: the end
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r.Value) })
		if len(out) > 0 && fs.NumRecords() == 0 {
			break
		}
		if len(out) > 0 {
			ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
			fs := cl.PollFetches(ctx2)
			cancel2()
			fs.EachRecord(func(r *kgo.Record) { out = append(out, r.Value) })
			if fs.NumRecords() == 0 {
				break
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("only %d records in the audit topic", len(out))
	}
	return out
}
