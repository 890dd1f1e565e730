package logship

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 objects are rolled at this much uncompressed data or after this long, whichever comes
// first.
const (
	s3RollBytes = 16 << 20
	s3RollAfter = 5 * time.Minute
)

// S3Options name where a stream's objects go.
type S3Options struct {
	Bucket, Prefix string
	// Endpoint is an S3-compatible endpoint URL (MinIO, a local test server); addressing is
	// then path-style.
	Endpoint string
	// Account, Region, Cluster and BrokerID fill MSK's key layout; LogType names the stream's
	// folder (KafkaBrokerLogs for the broker log, BulwarkAuditLogs for the audit trail).
	Account, Region, Cluster, LogType string
	BrokerID                          int32
	// RollBytes and RollAfter override the object roll (tests).
	RollBytes int
	RollAfter time.Duration
}

// S3 is a sink writing gzip objects of newline-separated lines under MSK's broker-log key layout:
// [prefix/]AWSLogs/<account>/<log type>/<region>/<cluster>/<yyyy-MM-dd-HH>/Broker-<id>_<HH-mm>_<first position, hex>.log.gz.
// An object's key is made from its first entry's position, so a batch sent again after a crash
// replaces its own object.
type S3 struct {
	client *s3.Client
	o      S3Options
}

// NewS3 makes the sink; it calls nothing until the first Send.
func NewS3(cfg aws.Config, o S3Options) *S3 {
	if o.RollBytes <= 0 {
		o.RollBytes = s3RollBytes
	}
	if o.RollAfter <= 0 {
		o.RollAfter = s3RollAfter
	}
	return &S3{client: newS3Client(cfg, o.Endpoint, 1), o: o} // the shipper retries
}

// newS3Client is an S3 client for the endpoint ("" for AWS's), path-style when one is set.
func newS3Client(cfg aws.Config, endpoint string, attempts int) *s3.Client {
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
			so.UsePathStyle = true
		}
		so.RetryMaxAttempts = attempts
	})
}

// Name implements Sink.
func (s *S3) Name() string { return "s3" }

// Limits implements Sink: one object per request, rolled by size and time.
func (s *S3) Limits() Limits {
	return Limits{MaxBytes: s.o.RollBytes, PerEntryOverhead: 1, MinBytes: s.o.RollBytes, Linger: s.o.RollAfter}
}

// Key is the object key of a batch starting at entry first.
func (s *S3) Key(first Entry) string {
	t := first.Time.UTC()
	key := fmt.Sprintf("AWSLogs/%s/%s/%s/%s/%s/Broker-%d_%s_%s.log.gz", s.o.Account, s.o.LogType, s.o.Region, s.o.Cluster,
		t.Format("2006-01-02-15"), s.o.BrokerID, t.Format("15-04"), fmt.Sprintf("%016x", first.Pos))
	if s.o.Prefix != "" {
		key = s.o.Prefix + "/" + key
	}
	return key
}

// Send implements Sink.
func (s *S3) Send(ctx context.Context, entries []Entry) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, e := range entries {
		_, _ = zw.Write(e.Data)
		_, _ = zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return err
	}
	key := s.Key(entries[0])
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(buf.Bytes()), ContentType: aws.String("application/x-ndjson"), ContentEncoding: aws.String("gzip"),
		Metadata: map[string]string{"first-position": strconv.FormatUint(entries[0].Pos, 10),
			"last-position": strconv.FormatUint(entries[len(entries)-1].Pos, 10)}})
	if err != nil {
		return fmt.Errorf("s3 PutObject s3://%s/%s: %w", s.o.Bucket, key, err)
	}
	return nil
}
