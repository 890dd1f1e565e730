package config

import "time"

// shareDefs are the share-group keys (KIP-932), with Kafka 4.2's names and defaults.
func shareDefs() []*Def {
	return []*Def{
		def("group.share.record.lock.duration.ms", TypeInt, "30000", "How long a share consumer holds the records it fetched before they can go to another; the default of the group config share.record.lock.duration.ms.",
			check(atLeast(1000)), setMs(func(c *Config) *time.Duration { return &c.ShareRecordLockDuration })),
		def("group.share.min.record.lock.duration.ms", TypeInt, "15000", "Smallest share.record.lock.duration.ms a group may set.",
			check(atLeast(1000)), setMs(func(c *Config) *time.Duration { return &c.ShareMinRecordLockDuration })),
		def("group.share.max.record.lock.duration.ms", TypeInt, "60000", "Largest share.record.lock.duration.ms a group may set.",
			check(atLeast(1000)), setMs(func(c *Config) *time.Duration { return &c.ShareMaxRecordLockDuration })),
		def("group.share.delivery.count.limit", TypeInt, "5", "Deliveries of a record to share consumers before it is archived (given up on).",
			check(between(2, 10)), setI32(func(c *Config) *int32 { return &c.ShareDeliveryCountLimit })),
		def("group.share.partition.max.record.locks", TypeInt, "2000", "Records of one share partition in flight (acquired or awaiting their turn) at most.",
			check(between(100, 10000)), setI32(func(c *Config) *int32 { return &c.SharePartitionMaxRecordLocks })),
		def("group.share.session.timeout.ms", TypeInt, "45000", "Session timeout of share-group members; the default of the group config share.session.timeout.ms.",
			check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.ShareSessionTimeout })),
		def("group.share.heartbeat.interval.ms", TypeInt, "5000", "Heartbeat interval given to share-group members; the default of the group config share.heartbeat.interval.ms.",
			check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.ShareHeartbeatInterval })),
		def("group.share.max.size", TypeInt, "200", "Most members of a share group.",
			check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.ShareMaxSize })),
		def("group.share.max.share.sessions", TypeInt, "2000", "Share sessions (one per member fetching) the broker keeps at most.",
			check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.ShareMaxSessions })),
	}
}
