package logship

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Reader reads back what the S3 sink wrote, for `bulwark audit verify` of an S3 prefix.
type S3Reader struct {
	client *s3.Client
	bucket string
}

// NewS3Reader reads objects of a bucket (endpoint as for S3Options.Endpoint).
func NewS3Reader(cfg aws.Config, endpoint, bucket string) *S3Reader {
	return &S3Reader{client: newS3Client(cfg, endpoint, 3), bucket: bucket}
}

// S3Object is one object the S3 sink wrote: First is the position of its first entry.
type S3Object struct {
	Key   string
	First uint64
}

// Objects lists one broker's objects of a stream (its LogType folder) under prefix, in the order
// the sink wrote them: by their first position, which every key ends with.
func (r *S3Reader) Objects(ctx context.Context, prefix, logType string, brokerID int32) ([]S3Object, error) {
	var out []S3Object
	in := &s3.ListObjectsV2Input{Bucket: aws.String(r.bucket)}
	if prefix != "" {
		in.Prefix = aws.String(strings.TrimSuffix(prefix, "/") + "/")
	}
	want := fmt.Sprintf("Broker-%d_", brokerID)
	pages := s3.NewListObjectsV2Paginator(r.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 ListObjectsV2 s3://%s/%s: %w", r.bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !strings.Contains(key, "/"+logType+"/") {
				continue
			}
			first, ok := objectPosition(path.Base(key), want)
			if ok {
				out = append(out, S3Object{Key: key, First: first})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].First < out[j].First })
	return out, nil
}

// objectPosition parses Broker-<id>_<HH-MM>_<16 hex digits>.log.gz.
func objectPosition(name, brokerPrefix string) (uint64, bool) {
	if !strings.HasPrefix(name, brokerPrefix) || !strings.HasSuffix(name, ".log.gz") {
		return 0, false
	}
	rest := strings.TrimSuffix(name, ".log.gz")
	i := strings.LastIndexByte(rest, '_')
	if i < 0 || len(rest)-i-1 != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(rest[i+1:], 16, 64)
	return v, err == nil
}

// Open returns an object's lines, uncompressed.
func (r *S3Reader) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("s3 GetObject s3://%s/%s: %w", r.bucket, key, err)
	}
	zr, err := gzip.NewReader(out.Body)
	if err != nil {
		_ = out.Body.Close()
		return nil, fmt.Errorf("s3://%s/%s: %w", r.bucket, key, err)
	}
	return gzipBody{zr, out.Body}, nil
}

type gzipBody struct {
	*gzip.Reader
	body io.Closer
}

func (g gzipBody) Close() error {
	_ = g.Reader.Close()
	return g.body.Close()
}
