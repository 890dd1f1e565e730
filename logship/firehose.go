package logship

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// PutRecordBatch limits (Amazon Data Firehose API reference).
const (
	fhMaxRecords     = 500
	fhMaxBytes       = 4 << 20
	fhMaxRecordBytes = 1000 << 10
)

// Firehose is a sink writing to a Firehose delivery stream, one record per line (newline
// terminated, so the destination's objects hold one record per line).
type Firehose struct {
	client *firehose.Client
	stream string
}

// NewFirehose makes the sink; it calls nothing until the first Send.
func NewFirehose(cfg aws.Config, endpoint, deliveryStream string) *Firehose {
	client := firehose.NewFromConfig(cfg, func(o *firehose.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.RetryMaxAttempts = 1 // the shipper retries
	})
	return &Firehose{client: client, stream: deliveryStream}
}

// Name implements Sink.
func (f *Firehose) Name() string { return "firehose" }

// Limits implements Sink: a record carries the line and its newline.
func (f *Firehose) Limits() Limits {
	return Limits{MaxEntries: fhMaxRecords, MaxBytes: fhMaxBytes, PerEntryOverhead: 1, MaxEntryBytes: fhMaxRecordBytes - 1}
}

// Send implements Sink. Firehose answers a batch it took in part with FailedPutCount and a
// per-record error: those records, and only those, are returned to be sent again.
func (f *Firehose) Send(ctx context.Context, entries []Entry) error {
	recs := make([]types.Record, len(entries))
	for i, e := range entries {
		recs[i] = types.Record{Data: append(append(make([]byte, 0, len(e.Data)+1), e.Data...), '\n')}
	}
	out, err := f.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(f.stream), Records: recs})
	if err != nil {
		return fmt.Errorf("firehose PutRecordBatch %s: %w", f.stream, err)
	}
	if aws.ToInt32(out.FailedPutCount) == 0 {
		return nil
	}
	pe := &PartialError{}
	for i, r := range out.RequestResponses {
		if r.ErrorCode != nil && i < len(entries) {
			pe.Failed = append(pe.Failed, i)
			pe.Reason = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorMessage)
		}
	}
	if len(out.RequestResponses) != len(entries) || len(pe.Failed) != int(aws.ToInt32(out.FailedPutCount)) {
		// An answer that does not say which records failed: send the whole batch again.
		return fmt.Errorf("firehose PutRecordBatch %s: %d of %d records failed, %d reported", f.stream,
			aws.ToInt32(out.FailedPutCount), len(entries), len(pe.Failed))
	}
	return pe
}
