package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/logship"
)

// shipTarget is one stream to ship: its files (the spool) and where it goes.
type shipTarget struct {
	stream  string
	dir     string
	w       *audit.Writer
	ship    config.ShipConfig
	logType string     // the S3 key layout's folder: KafkaBrokerLogs, BulwarkAuditLogs
	extra   []shipSink // sinks besides the configured AWS ones (the audit topic)
}

// shipSink is a sink and the record schema it is sent (the audit trail's: "cloudtrail", the
// lines as written, or "ocsf"; the broker log's lines always go as written).
type shipSink struct {
	logship.Sink
	format string
}

// startShippers starts a shipper for every sink the stream is configured to ship to, and makes
// its files' retention keep what they have not delivered.
func startShippers(cfg *config.Config, t shipTarget, clusterID string, logger *slog.Logger) ([]*logship.Shipper, error) {
	if t.w == nil || (!t.ship.Any() && len(t.extra) == 0) {
		return nil, nil
	}
	sinks := t.extra
	if t.ship.Any() {
		aws, err := awsSinks(cfg, t, clusterID, logger)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, aws...)
	}
	var shippers []*logship.Shipper
	for _, sink := range sinks {
		src := t.w.Source()
		if sink.format == "ocsf" {
			src = logship.Formatted(src, audit.ToOCSF)
		}
		sh, err := logship.NewShipper(src, sink.Sink, logship.Options{Stream: t.stream, CursorDir: t.dir,
			Logger: logger.With("component", "logship")})
		if err != nil {
			for _, s := range shippers {
				_ = s.Close(context.Background())
			}
			return nil, err
		}
		shippers = append(shippers, sh)
	}
	t.w.SetKeep(func() uint64 {
		low := ^uint64(0)
		for _, s := range shippers {
			low = min(low, s.Position())
		}
		return low
	})
	return shippers, nil
}

// awsSinks builds the stream's CloudWatch Logs, Firehose and S3 sinks as configured.
func awsSinks(cfg *config.Config, t shipTarget, clusterID string, logger *slog.Logger) ([]shipSink, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.AWSRegion != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.AWSRegion))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("log shipping: AWS configuration: %w", err)
	}
	var sinks []shipSink
	if g := t.ship.CloudWatchLogGroup; g != "" {
		stream := t.ship.CloudWatchStream
		if stream == "" {
			stream = "broker-" + strconv.Itoa(int(cfg.NodeID))
		}
		sinks = append(sinks, shipSink{logship.NewCloudWatchLogs(awsCfg, cfg.AWSEndpointLogs, g, stream), t.ship.CloudWatchFormat})
		logger.Info("log shipping", "stream", t.stream, "sink", "cloudwatch", "log_group", g, "log_stream", stream)
	}
	if fh := t.ship.FirehoseStream; fh != "" {
		sinks = append(sinks, shipSink{logship.NewFirehose(awsCfg, cfg.AWSEndpointFirehose, fh), t.ship.FirehoseFormat})
		logger.Info("log shipping", "stream", t.stream, "sink", "firehose", "delivery_stream", fh)
	}
	if b := t.ship.S3Bucket; b != "" {
		account := cfg.IAMAccountID
		if account == "" {
			account = "000000000000" // self-hosted: no AWS account of the cluster's own
		}
		cluster := clusterID
		if cfg.ClusterName != "" {
			cluster = cfg.ClusterName + "-" + clusterID
		}
		sinks = append(sinks, shipSink{logship.NewS3(awsCfg, logship.S3Options{Bucket: b, Prefix: t.ship.S3Prefix, Endpoint: cfg.AWSEndpointS3,
			Account: account, Region: awsCfg.Region, Cluster: cluster, LogType: t.logType, BrokerID: cfg.NodeID,
			RollBytes: int(t.ship.S3RollBytes), RollAfter: t.ship.S3RollAfter}), t.ship.S3Format})
		logger.Info("log shipping", "stream", t.stream, "sink", "s3", "bucket", b, "prefix", t.ship.S3Prefix)
	}
	return sinks, nil
}

// topicSink delivers the audit trail to the broker's own read-only topic, each record keyed by
// its event id (a consumer drops the duplicates a crash can leave by key).
type topicSink struct{ srv *broker.Server }

func (topicSink) Name() string { return "topic" }

// Limits: batches of at most 1 MiB, message.max.bytes's default, so that every consumer's
// fetch size takes them.
func (topicSink) Limits() logship.Limits {
	return logship.Limits{MaxEntries: 4096, MaxBytes: 1 << 20, PerEntryOverhead: 64}
}

func (s topicSink) Send(ctx context.Context, entries []logship.Entry) error {
	recs := make([]broker.InternalRecord, len(entries))
	for i, e := range entries {
		recs[i] = broker.InternalRecord{Key: []byte(e.ID), Value: e.Data, Time: e.Time}
	}
	_, err := s.srv.AppendInternal(ctx, broker.AuditTopic, recs)
	return err
}
