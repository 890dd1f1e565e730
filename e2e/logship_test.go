package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/logship/cwlfake"
	"github.com/bulwark-kafka/bulwark/logship/firehosefake"
)

// TestAuditShippedToCloudWatchThroughOutageAndCrash ships the audit trail to three sinks at
// once: a local CloudWatch Logs server and a local Firehose (the real aws-sdk-go-v2 clients
// against the services' JSON protocols and limits), and gofakes3 for S3.
// The service goes down while admin operations continue, the broker is SIGKILLed during the
// outage and started again, the service throttles as it comes back: in the end every record
// arrived, in order once duplicates are dropped by eventID, and the chain verifies on what
// arrived, signatures and final checkpoint included. S3 receives the trail in OCSF, which
// `bulwark audit verify --s3` checks as it would the original lines.
func TestAuditShippedToCloudWatchThroughOutageAndCrash(t *testing.T) {
	fake, err := cwlfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	fh, err := firehosefake.Start("bulwark-audit")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Stop()
	fh.FailEvery(5)
	s3backend := s3mem.New()
	if err := s3backend.CreateBucket("audit-logs"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(s3backend).Server())
	defer s3srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDE2E")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	const group, stream = "/bulwark/audit", "broker-1"
	b := startBroker(t, map[string]string{
		"bulwark.logs.audit.cloudwatch.log.group":     group,
		"bulwark.aws.endpoint.logs":                   fake.URL(),
		"bulwark.aws.region":                          "us-east-1",
		"bulwark.audit.checkpoint.interval.ms":        "200",
		"bulwark.logs.audit.firehose.delivery.stream": "bulwark-audit",
		"bulwark.aws.endpoint.firehose":               fh.URL(),
		"bulwark.logs.audit.s3.bucket":                "audit-logs",
		"bulwark.logs.audit.s3.prefix":                "msk",
		"bulwark.aws.endpoint.s3":                     s3srv.URL,
		"bulwark.logs.audit.s3.roll.ms":               "100",
		"bulwark.logs.audit.s3.format":                "ocsf",
	})
	createTopic(t, b.Addr(), "t0", 1, nil)
	waitFor(t, 20*time.Second, "the first records in CloudWatch", func() bool { return len(fake.Events(group, stream)) >= 2 })

	fake.Stop()
	fh.Stop()
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
	if err := fh.Restart(); err != nil {
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
	// Firehose (every 5th record of a batch refused and sent again) and S3 hold the whole trail
	// too, every record at least once.
	waitFor(t, 20*time.Second, "every record in Firehose", func() bool {
		return uniqueLines(fh.Records("bulwark-audit")) >= int(local.LastSeq)
	})
	waitFor(t, 20*time.Second, "every record in S3", func() bool {
		return uniqueLines(s3Lines(t, s3srv.URL, "audit-logs")) >= int(local.LastSeq)
	})
	// S3 holds OCSF records; `bulwark audit verify` checks them, dropping what came twice.
	for _, l := range s3Lines(t, s3srv.URL, "audit-logs") {
		if !bytes.HasPrefix(l, []byte(`{"category_uid":`)) || !bytes.Contains(l, []byte(`"raw_data":`)) {
			t.Fatalf("an S3 line that is not OCSF: %s", l)
		}
	}
	if out := bulwarkCLI(t, "", "audit", "verify", "--s3", "s3://audit-logs/msk", "--config", b.props); !strings.Contains(out, "OK") ||
		!strings.Contains(out, fmt.Sprintf("(seq 1 to %d)", local.LastSeq)) {
		t.Errorf("verify --s3:\n%s", out)
	}

	// One delivery before the outage, at least one after it (throttled first).
	if fake.Calls("PutLogEvents") < 2 {
		t.Errorf("%d PutLogEvents calls", fake.Calls("PutLogEvents"))
	}
}

// uniqueLines counts the distinct eventIDs of delivered lines (metadata.uid in OCSF).
func uniqueLines(lines [][]byte) int {
	seen := map[string]bool{}
	for _, l := range lines {
		var r struct {
			EventID  string `json:"eventID"`
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		}
		if json.Unmarshal(bytes.TrimSpace(l), &r) == nil && r.EventID+r.Metadata.UID != "" {
			seen[r.EventID+r.Metadata.UID] = true
		}
	}
	return len(seen)
}

// s3Lines reads every object of a bucket (gzip, one record per line) through the real client.
func s3Lines(t *testing.T, endpoint, bucket string) [][]byte {
	t.Helper()
	client := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDE2E", "secret", "")},
		func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	ctx := context.Background()
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, o := range list.Contents {
		if !strings.HasPrefix(aws.ToString(o.Key), "msk/AWSLogs/000000000000/BulwarkAuditLogs/us-east-1/") {
			t.Errorf("object key %s is not in MSK's layout", aws.ToString(o.Key))
		}
		obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		if err != nil {
			continue
		}
		zr, err := gzip.NewReader(obj.Body)
		if err != nil {
			t.Errorf("object %s is not gzip: %v", aws.ToString(o.Key), err)
			continue
		}
		text, _ := io.ReadAll(zr)
		out = append(out, bytes.Split(bytes.TrimSuffix(text, []byte("\n")), []byte("\n"))...)
	}
	return out
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
