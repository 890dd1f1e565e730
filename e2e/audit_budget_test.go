package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestAuditDiskBudgetRefusesUntilTheSinkCatchesUp: with CloudWatch Logs down, the trail grows past
// its disk budget; under the default policy the broker then refuses admin requests (rather than
// drop records a sink has not taken), says why in its log, and serves them again once CloudWatch
// is back and has everything. Nothing is lost: CloudWatch ends up with every record.
func TestAuditDiskBudgetRefusesUntilTheSinkCatchesUp(t *testing.T) {
	fake := startCloudWatchFake(t)
	const group, stream = "/bulwark/audit", "broker-1"
	b := startBroker(t, map[string]string{
		"bulwark.logs.audit.cloudwatch.log.group": group,
		"bulwark.aws.endpoint.logs":               fake.URL(),
		"bulwark.aws.region":                      "us-east-1",
		"bulwark.audit.checkpoint.records":        "5",
		"bulwark.audit.file.max.bytes":            "4096",
		"bulwark.audit.spool.max.bytes":           "16384",
		"bulwark.audit.topic.enabled":             "false",
	})
	createTopic(t, b.Addr(), "before", 1, nil)
	waitFor(t, 20*time.Second, "the first records in CloudWatch", func() bool { return len(fake.Events(group, stream)) > 0 })
	fake.Stop()

	adm := kadm.NewClient(newClient(t, b.Addr()))
	create := func(name string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := adm.CreateTopics(ctx, 1, 1, nil, name)
		if err == nil {
			err = resp.Error()
		}
		return err
	}
	refused := false
	for i := 0; i < 200 && !refused; i++ {
		if err := create(fmt.Sprintf("outage-%03d", i)); err != nil {
			refused = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !refused {
		t.Fatal("200 admin requests past the disk budget with the sink down were all served")
	}
	waitFor(t, 10*time.Second, "the refusal's reason in the log", func() bool {
		return strings.Contains(b.out.String(), "over its disk budget")
	})

	if err := fake.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "admin requests served again", func() bool { return create(fmt.Sprintf("after-%d", time.Now().UnixNano())) == nil })
	b.stop(t)
	local, _ := localTrail(t, b, false)
	waitFor(t, 20*time.Second, "every record in CloudWatch", func() bool {
		return uniqueEvents(t, fake.Events(group, stream)) >= int(local.LastSeq)
	})
}
