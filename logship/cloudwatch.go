package logship

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
)

// PutLogEvents limits (CloudWatch Logs API reference).
const (
	cwlMaxEvents        = 10_000
	cwlMaxBytes         = 1_048_576
	cwlPerEventOverhead = 26
	cwlMaxEventBytes    = 256 << 10 // the older, smaller per-event limit: safe everywhere
	cwlMaxSpan          = 24 * time.Hour
	cwlMaxAge           = 14 * 24 * time.Hour
)

// CloudWatchLogs is a sink writing to one log stream of a log group, both created if missing.
type CloudWatchLogs struct {
	client *cloudwatchlogs.Client
	group  string
	stream string
	now    func() time.Time

	mu    sync.Mutex
	ready bool // the group and stream are known to exist
}

// NewCloudWatchLogs makes the sink; it calls nothing until the first Send.
func NewCloudWatchLogs(cfg aws.Config, endpoint, group, stream string) *CloudWatchLogs {
	client := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.RetryMaxAttempts = 1 // the shipper retries, with its own backoff and without end
	})
	return &CloudWatchLogs{client: client, group: group, stream: stream, now: time.Now}
}

// Name implements Sink.
func (c *CloudWatchLogs) Name() string { return "cloudwatch" }

// Limits implements Sink.
func (c *CloudWatchLogs) Limits() Limits {
	return Limits{MaxEntries: cwlMaxEvents, MaxBytes: cwlMaxBytes, PerEntryOverhead: cwlPerEventOverhead,
		MaxEntryBytes: cwlMaxEventBytes, MaxSpan: cwlMaxSpan}
}

// Send implements Sink. Timestamps are kept within what CloudWatch takes: non-decreasing (it
// refuses a batch out of chronological order), no older than 14 days less an hour (a sink down
// for two weeks) and no later than now (a clock ahead); a record keeps its own time in its text.
// Events CloudWatch still sets aside (older than the group's retention) are an error, so the
// batch is not counted as delivered.
func (c *CloudWatchLogs) Send(ctx context.Context, entries []Entry) error {
	if err := c.ensure(ctx); err != nil {
		return err
	}
	now := c.now()
	oldest, newest := now.Add(-cwlMaxAge+time.Hour).UnixMilli(), now.UnixMilli()
	events := make([]types.InputLogEvent, len(entries))
	var last int64
	for i, e := range entries {
		ts := max(min(e.Time.UnixMilli(), newest), oldest, last)
		last = ts
		events[i] = types.InputLogEvent{Timestamp: aws.Int64(ts), Message: aws.String(string(e.Data))}
	}
	out, err := c.client.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(c.group),
		LogStreamName: aws.String(c.stream), LogEvents: events})
	if err == nil && out.RejectedLogEventsInfo != nil {
		ri := out.RejectedLogEventsInfo
		return fmt.Errorf("cloudwatch logs PutLogEvents %s/%s: events set aside (too old %v, too new %v, expired %v): the log group's retention is shorter than the outage",
			c.group, c.stream, aws.ToInt32(ri.TooOldLogEventEndIndex), aws.ToInt32(ri.TooNewLogEventStartIndex), aws.ToInt32(ri.ExpiredLogEventEndIndex))
	}
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		c.mu.Lock()
		c.ready = false // deleted under us: create again on the next attempt
		c.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("cloudwatch logs PutLogEvents %s/%s: %w", c.group, c.stream, err)
	}
	return nil
}

// ensure creates the log group and stream once.
func (c *CloudWatchLogs) ensure(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready {
		return nil
	}
	if _, err := c.client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(c.group)}); err != nil && !alreadyExists(err) {
		return fmt.Errorf("cloudwatch logs CreateLogGroup %s: %w", c.group, err)
	}
	if _, err := c.client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(c.group),
		LogStreamName: aws.String(c.stream)}); err != nil && !alreadyExists(err) {
		return fmt.Errorf("cloudwatch logs CreateLogStream %s/%s: %w", c.group, c.stream, err)
	}
	c.ready = true
	return nil
}

func alreadyExists(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ResourceAlreadyExistsException"
}
