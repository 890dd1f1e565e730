package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/keys"
	"github.com/bulwark-kafka/bulwark/logship/cwlfake"
	"github.com/bulwark-kafka/bulwark/logship/firehosefake"
)

// TestAuditShippedToCloudWatchThroughOutageAndCrash ships the audit trail to three sinks at
// once: a local CloudWatch Logs server and a local Firehose (the real aws-sdk-go-v2 clients
// against the services' JSON protocols and limits), and gofakes3 for S3.
// The services go down for a minute while produce and admin load continue, the broker is
// SIGKILLed halfway through the outage and started again, the service throttles as it comes back: in the end every record
// arrived, in order once duplicates are dropped by eventID, and the chain verifies on what
// arrived, signatures and final checkpoint included. S3 receives the trail in OCSF, which
// `bulwark audit verify --s3` checks as it would the original lines.
func TestAuditShippedToCloudWatchThroughOutageAndCrash(t *testing.T) {
	fake := startCloudWatchFake(t)
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

	// A minute's outage of CloudWatch and Firehose under produce and admin load, the broker
	// SIGKILLed halfway through it.
	fake.Stop()
	fh.Stop()
	admin := underLoad(t, b.Addr(), "before-crash", outagePhase)
	time.Sleep(500 * time.Millisecond) // the records are fsynced and a checkpoint written
	b.kill(t)
	b.restart(t)
	admin += underLoad(t, b.Addr(), "after-crash", outagePhase)
	t.Logf("%d admin operations during the outage", admin)
	if err := fake.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Restart(); err != nil {
		t.Fatal(err)
	}
	fake.Fail("ThrottlingException", 3)
	// Delivery resumes by itself (within the shippers' longest backoff, 30 s) and catches up
	// with the running broker's trail.
	sofar, kp := localTrail(t, b, true)
	waitFor(t, 60*time.Second, "CloudWatch to catch up after the outage", func() bool {
		return uniqueEvents(t, fake.Events(group, stream)) >= int(sofar.LastSeq)
	})
	b.stop(t)

	// Everything the trail holds arrived: compare with the files.
	local, _ := localTrail(t, b, false)
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

// localTrail verifies a broker's own audit trail (live: the broker is running) and returns the
// report and the key provider that opened it.
func localTrail(t *testing.T, b *brokerProc, live bool) (*audit.Report, keys.Provider) {
	t.Helper()
	cfg, err := config.Load(b.props)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := broker.NewKeyProvider(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyDir(filepath.Join(cfg.LogDirs[0], "__bulwark_audit"), "audit", kp, live)
	if err != nil || !rep.OK() {
		t.Fatalf("the broker's trail (live %v): %+v %v", live, rep, err)
	}
	return rep, kp
}

// startCloudWatchFake starts the project's local CloudWatch Logs server for one test, stopped
// when it ends, and gives the SDK's default credential chain static keys to sign with.
func startCloudWatchFake(t *testing.T) *cwlfake.Server {
	t.Helper()
	fake, err := cwlfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDE2E")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	return fake
}

// outagePhase is each half of the sink outage: the broker is SIGKILLed between them.
const outagePhase = 30 * time.Second

// underLoad produces to a topic without pause and performs an admin operation (a topic created,
// a config altered) every 200 ms for d, and returns how many admin operations succeeded.
func underLoad(t *testing.T, addr, name string, d time.Duration) int {
	t.Helper()
	createTopic(t, addr, name, 4, nil)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	prod := newClient(t, addr, kgo.DefaultProduceTopic(name))
	done := make(chan struct{})
	go func() {
		defer close(done)
		val := bytes.Repeat([]byte("x"), 1024)
		for ctx.Err() == nil {
			rs := make([]*kgo.Record, 64)
			for i := range rs {
				rs[i] = &kgo.Record{Value: val}
			}
			prod.ProduceSync(ctx, rs...)
		}
	}()
	adm := kadm.NewClient(newClient(t, addr))
	ops := 0
	for i := 0; ctx.Err() == nil; i++ {
		opCtx, opCancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		if i%2 == 0 {
			var resp kadm.CreateTopicResponses
			if resp, err = adm.CreateTopics(opCtx, 1, 1, nil, fmt.Sprintf("%s-%d", name, i)); err == nil {
				err = resp.Error()
			}
		} else {
			v := strconv.Itoa(3_600_000 + i)
			var resp kadm.AlterConfigsResponses
			if resp, err = adm.AlterTopicConfigs(opCtx, []kadm.AlterConfig{{Name: "retention.ms", Value: &v}}, name); err == nil {
				err = resp[0].Err
			}
		}
		opCancel()
		if err != nil {
			t.Fatalf("admin operation %d during the outage: %v", i, err)
		}
		ops++
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	<-done
	return ops
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
