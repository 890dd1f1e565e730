package logship

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestS3ObjectsRollBySizeAndTime ships to gofakes3 through the real S3 client: objects roll at
// the size limit, a small remainder goes once it has waited the roll time, keys follow MSK's
// layout, and the objects' lines, in key order, are the stream in order.
func TestS3ObjectsRollBySizeAndTime(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("logs"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	sink := NewS3(testAWS(), S3Options{Bucket: "logs", Prefix: "bulwark", Endpoint: srv.URL, Account: "111122223333",
		Region: "us-east-1", Cluster: "prod-abc", LogType: "BulwarkAuditLogs", BrokerID: 2,
		RollBytes: 4 << 10, RollAfter: 300 * time.Millisecond})
	src := newMemSource()
	src.add(100, 100) // about 11 KiB: two full objects and a remainder
	sh, err := NewShipper(src, sink, Options{Stream: "audit", CursorDir: t.TempDir(), MinBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close(context.Background())
	waitDelivered(t, "100 records in S3", 10*time.Second, func() bool { return sh.Position() == 100 })

	client := s3.NewFromConfig(testAWS(), func(o *s3.Options) { o.BaseEndpoint = aws.String(srv.URL); o.UsePathStyle = true })
	list, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("logs")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	sort.Strings(keys)
	if len(keys) < 3 {
		t.Fatalf("%d objects: %v", len(keys), keys)
	}
	var all []string
	for _, k := range keys {
		if !strings.HasPrefix(k, "bulwark/AWSLogs/111122223333/BulwarkAuditLogs/us-east-1/prod-abc/") || !strings.HasSuffix(k, ".log.gz") ||
			!strings.Contains(k, "/Broker-2_") {
			t.Errorf("key %s is not in MSK's layout", k)
		}
		obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(obj.Body)
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s is not gzip: %v", k, err)
		}
		text, _ := io.ReadAll(zr)
		if len(text) > 4<<10+200 {
			t.Errorf("%s holds %d bytes, over the 4 KiB roll", k, len(text))
		}
		all = append(all, strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")...)
	}
	if len(all) != 100 {
		t.Fatalf("%d lines in S3", len(all))
	}
	for i, l := range all {
		if !strings.HasPrefix(l, fmt.Sprintf("record %06d ", i+1)) {
			t.Fatalf("line %d is %.20q", i, l)
		}
	}
}
