package config

import "time"

// ShipConfig is where one log stream (the broker log; the audit trail has its own fields) is
// shipped, shaped like MSK's LoggingInfo: CloudWatchLogs.LogGroup, Firehose.DeliveryStream,
// S3.Bucket and Prefix.
type ShipConfig struct {
	CloudWatchLogGroup string        // bulwark.logs.<stream>.cloudwatch.log.group
	CloudWatchStream   string        // bulwark.logs.<stream>.cloudwatch.log.stream
	FirehoseStream     string        // bulwark.logs.<stream>.firehose.delivery.stream
	S3Bucket           string        // bulwark.logs.<stream>.s3.bucket
	S3Prefix           string        // bulwark.logs.<stream>.s3.prefix
	S3RollBytes        int64         // bulwark.logs.<stream>.s3.roll.bytes
	S3RollAfter        time.Duration // bulwark.logs.<stream>.s3.roll.ms
	// The audit trail's record schema per sink (cloudtrail or ocsf); the broker log has none.
	CloudWatchFormat, FirehoseFormat, S3Format string // bulwark.logs.audit.<sink>.format
}

// Any reports whether the stream is shipped anywhere.
func (s ShipConfig) Any() bool {
	return s.CloudWatchLogGroup != "" || s.FirehoseStream != "" || s.S3Bucket != ""
}

// AuditShip returns the audit trail's shipping configuration.
func (c *Config) AuditShip() ShipConfig {
	return ShipConfig{CloudWatchLogGroup: c.AuditCloudWatchLogGroup, CloudWatchStream: c.AuditCloudWatchStream,
		FirehoseStream: c.AuditFirehoseStream, S3Bucket: c.AuditS3Bucket, S3Prefix: c.AuditS3Prefix,
		S3RollBytes: c.AuditS3RollBytes, S3RollAfter: c.AuditS3RollAfter,
		CloudWatchFormat: c.AuditCloudWatchFormat, FirehoseFormat: c.AuditFirehoseFormat, S3Format: c.AuditS3Format}
}
