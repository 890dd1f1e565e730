package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/logship/cwlfake"
)

// TestAuditShippedToCloudWatchThroughOutageAndCrash ships the audit trail to a local CloudWatch
// Logs server (the real aws-sdk-go-v2 client against the service's JSON protocol and limits).
// The service goes down while admin operations continue, the broker is SIGKILLed during the
// outage and started again, the service throttles as it comes back: in the end every record
// arrived, in order once duplicates are dropped by eventID, and the chain verifies on what
// arrived, signatures and final checkpoint included.
func TestAuditShippedToCloudWatchThroughOutageAndCrash(t *testing.T) {
	fake, err := cwlfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDE2E")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	const group, stream = "/bulwark/audit", "broker-1"
	b := startBroker(t, map[string]string{
		"bulwark.logs.audit.cloudwatch.log.group": group,
		"bulwark.aws.endpoint.logs":               fake.URL(),
		"bulwark.aws.region":                      "us-east-1",
		"bulwark.audit.checkpoint.interval.ms":    "200",
	})
	createTopic(t, b.Addr(), "t0", 1, nil)
	waitFor(t, 20*time.Second, "the first records in CloudWatch", func() bool { return len(fake.Events(group, stream)) >= 2 })

	fake.Stop()
	for i := 1; i <= 5; i++ {
		createTopic(t, b.Addr(), fmt.Sprintf("outage-%d", i), 1, nil)
	}
	time.Sleep(500 * time.Millisecond) // the records are fsynced and a checkpoint written
	b.kill(t)
	b.restart(t)
	createTopic(t, b.Addr(), "after-crash", 1, nil)
	if err := fake.Restart(); err != nil {
		t.Fatal(err)
	}
	fake.Fail("ThrottlingException", 3)
	b.stop(t)

	// Everything the trail holds arrived: compare with the files.
	cfg, err := config.Load(b.props)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := broker.NewKeyProvider(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	local, err := audit.VerifyDir(cfg.LogDirs[0]+"/__bulwark_audit", "audit", kp, false)
	if err != nil || !local.OK() {
		t.Fatalf("local trail: %+v %v", local, err)
	}
	// The clean stop flushes the final records while the service is up; poll briefly in case
	// the last batch is still in flight.
	var events []cwlfake.Event
	waitFor(t, 20*time.Second, "every record in CloudWatch", func() bool {
		events = fake.Events(group, stream)
		return uniqueEvents(t, events) >= int(local.LastSeq)
	})
	v := audit.NewVerifier("audit", kp)
	seen := map[string]bool{}
	n := 0
	for _, e := range events {
		var r struct {
			EventID string `json:"eventID"`
		}
		if err := json.Unmarshal([]byte(e.Message), &r); err != nil {
			t.Fatalf("event %q: %v", e.Message, err)
		}
		if seen[r.EventID] {
			continue // at-least-once delivery: a batch in flight at the crash came twice
		}
		seen[r.EventID] = true
		n++
		v.Line("cloudwatch", n, bytes.TrimSpace([]byte(e.Message)))
	}
	rep := v.Finish(false)
	if !rep.OK() || rep.LastSeq != local.LastSeq || rep.Signed < 2 {
		t.Fatalf("the trail in CloudWatch: %+v (local trail ends at %d)", rep, local.LastSeq)
	}
	// One delivery before the outage, at least one after it (throttled first).
	if fake.Calls("PutLogEvents") < 2 {
		t.Errorf("%d PutLogEvents calls", fake.Calls("PutLogEvents"))
	}
}

func uniqueEvents(t *testing.T, events []cwlfake.Event) int {
	seen := map[string]bool{}
	for _, e := range events {
		var r struct {
			EventID string `json:"eventID"`
		}
		_ = json.Unmarshal([]byte(e.Message), &r)
		seen[r.EventID] = true
	}
	return len(seen)
}
