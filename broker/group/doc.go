// Package group is Bulwark's group coordinator: consumer groups (the classic JoinGroup/SyncGroup
// protocol and the KIP-848 consumer protocol), committed offsets, and transactional offset
// commits. It follows Apache Kafka's group coordinator (group-coordinator/.../GroupMetadataManager,
// ClassicGroup, ConsumerGroup, OffsetMetadataManager): the same states, timers, validation order
// and error codes.
//
// # Durability
//
// State that must survive a restart — committed offsets, pending transactional offsets, and each
// group's membership, generation and assignments — is written to a coordlog journal under the
// keys in persist.go. A request that changes it is answered only once its journal write is
// durable. At start the broker replays the journal into Restore; classic members restored this
// way get a fresh session timeout and must heartbeat (or rejoin) like after a Kafka coordinator
// failover.
//
// # Concurrency
//
// One mutex (Coordinator.mu) guards every group. Handlers hold it only while they change memory
// and append to the journal; waiting for a rebalance or for the journal's fsync happens outside
// it. Timers (session expiry, join and sync deadlines) run their callbacks under the same mutex
// and check, before acting, that the state they were armed for still holds.
package group
