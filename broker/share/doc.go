// Package share is the broker's share-group coordinator (KIP-932, "queues for Kafka"): share
// groups and their members (ShareGroupHeartbeat, ShareGroupDescribe), the share partitions that
// hand records out to them (ShareFetch, ShareAcknowledge), and the share-group offset admin APIs
// (DescribeShareGroupOffsets, AlterShareGroupOffsets, DeleteShareGroupOffsets).
//
// # Share partitions
//
// A share partition is one topic partition as one share group consumes it. Its share-partition
// start offset (SPSO) is the first offset not yet finished with; the records from there up to
// the end of what has been handed out (SPEO) are in flight, each in one of Kafka's states:
// Available, Acquired (by one member, under an acquisition lock of
// share.record.lock.duration.ms), Acknowledged or Archived. Every acquisition counts a delivery;
// a record released or whose lock expires becomes Available again, unless it has reached
// group.share.delivery.count.limit deliveries, when it is Archived. The SPSO moves past
// Acknowledged and Archived records, and at most group.share.partition.max.record.locks records
// are in flight, so a partition's state is bounded.
//
// # Durability
//
// The coordinator keeps its state in the broker's coordinator journal (package coordlog), beside
// the group and transaction coordinators (docs/format/coordinator.md): one entry per share
// partition (the SPSO and the in-flight records' states and delivery counts, as ranges) and one
// per share group (its epoch and members). An acknowledgement is answered only once the
// partition's new state is durable, so an acknowledged record is never delivered again, across
// a crash too. Acquisitions are not written (as in Kafka): after a crash, records that were
// acquired are Available again with the delivery count of their last durable state.
//
// # Concurrency
//
// One mutex guards the groups, members, sessions and the map of share partitions; each share
// partition has its own mutex, taken after the coordinator's, which also covers the log reads
// that acquisition makes, so fetches of different partitions proceed in parallel. Waiting for
// records (long polls) and for journal writes happens without either lock.
package share
