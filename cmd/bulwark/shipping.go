package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/logship"
)

// shipTarget is one stream to ship: its files (the spool) and where it goes.
type shipTarget struct {
	stream  string
	dir     string
	w       *audit.Writer
	ship    config.ShipConfig
	logType string // the S3 key layout's folder: KafkaBrokerLogs, BulwarkAuditLogs
}

// startShippers starts a shipper for every sink the stream is configured to ship to, and makes
// its files' retention keep what they have not delivered.
func startShippers(cfg *config.Config, t shipTarget, clusterID string, logger *slog.Logger) ([]*logship.Shipper, error) {
	if t.w == nil || !t.ship.Any() {
		return nil, nil
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.AWSRegion != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.AWSRegion))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("log shipping: AWS configuration: %w", err)
	}
	var sinks []logship.Sink
	if g := t.ship.CloudWatchLogGroup; g != "" {
		stream := t.ship.CloudWatchStream
		if stream == "" {
			stream = "broker-" + strconv.Itoa(int(cfg.NodeID))
		}
		sinks = append(sinks, logship.NewCloudWatchLogs(awsCfg, cfg.AWSEndpointLogs, g, stream))
		logger.Info("log shipping", "stream", t.stream, "sink", "cloudwatch", "log_group", g, "log_stream", stream)
	}
	if fh := t.ship.FirehoseStream; fh != "" {
		sinks = append(sinks, logship.NewFirehose(awsCfg, cfg.AWSEndpointFirehose, fh))
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
		sinks = append(sinks, logship.NewS3(awsCfg, logship.S3Options{Bucket: b, Prefix: t.ship.S3Prefix, Endpoint: cfg.AWSEndpointS3,
			Account: account, Region: awsCfg.Region, Cluster: cluster, LogType: t.logType, BrokerID: cfg.NodeID,
			RollBytes: int(t.ship.S3RollBytes), RollAfter: t.ship.S3RollAfter}))
		logger.Info("log shipping", "stream", t.stream, "sink", "s3", "bucket", b, "prefix", t.ship.S3Prefix)
	}
	var shippers []*logship.Shipper
	for _, sink := range sinks {
		sh, err := logship.NewShipper(t.w.Source(), sink, logship.Options{Stream: t.stream, CursorDir: t.dir,
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
