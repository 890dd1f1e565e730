package broker

// Admin APIs: the handler-table rows and the helpers the NN_name.go admin handlers share.
//
// Every admin handler answers protocol problems with Kafka error codes (and, where the version
// has the field, an error message that never carries internal detail) and passes topic changes
// through the cluster's admin operations (cluster_admin.go), which commit to the metadata log
// before anything in memory changes. Request timeouts are ignored: on a single node every change
// is complete when the handler returns.

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// adminEntries returns the handler-table rows for the admin APIs. Version floors follow Kafka 4.0
// (KIP-896); DescribeConfigs also serves v0, which Kafka 4.0 dropped, because it costs nothing.
func (s *Server) adminEntries() []*apiEntry {
	return []*apiEntry{
		{key: 19, min: 2, max: 7, handle: s.handleCreateTopics},
		{key: 20, min: 1, max: 6, handle: s.handleDeleteTopics},
		{key: 21, min: 0, max: 2, handle: s.handleDeleteRecords},
		{key: 23, min: 2, max: 4, handle: s.handleOffsetForLeaderEpoch},
		{key: 32, min: 0, max: 4, handle: s.handleDescribeConfigs},
		{key: 33, min: 0, max: 2, handle: s.handleAlterConfigs},
		{key: 35, min: 1, max: 4, handle: s.handleDescribeLogDirs},
		{key: 48, min: 0, max: 1, handle: s.handleDescribeClientQuotas},
		{key: 49, min: 0, max: 1, handle: s.handleAlterClientQuotas},
		{key: 37, min: 0, max: 3, handle: s.handleCreatePartitions},
		{key: 44, min: 0, max: 1, handle: s.handleIncrementalAlterConfigs},
		{key: 50, min: 0, max: 0, handle: s.handleDescribeUserScramCredentials},
		{key: 51, min: 0, max: 0, handle: s.handleAlterUserScramCredentials},
		{key: 60, min: 0, max: 2, handle: s.handleDescribeCluster},
		{key: 75, min: 0, max: 0, handle: s.handleDescribeTopicPartitions},
	}
}

// maxNewPartitionsPerRequest bounds the partitions one CreateTopics or CreatePartitions request
// may add, as Kafka bounds a controller operation to 10000 records (POLICY_VIOLATION, "unable to
// perform excessively large batch operation"). Every partition costs a directory and open files,
// so one request must not be able to ask for millions.
const maxNewPartitionsPerRequest = 10000

// partitionBudget is what remains of maxNewPartitionsPerRequest in one request.
type partitionBudget int32

// take claims n partitions, or fails with POLICY_VIOLATION when the request would exceed the
// bound.
func (b *partitionBudget) take(n int32) error {
	if n > int32(*b) {
		return newAPIError(kerr.PolicyViolation, "unable to perform excessively large batch operation: at most %d new partitions per request", maxNewPartitionsPerRequest)
	}
	*b -= partitionBudget(n)
	return nil
}

// configView is the broker configuration with both dynamic layers of st applied (the cluster
// default set and this node's own set), so DescribeConfigs reports each value's true source.
func (s *Server) configView(st *meta.State) *config.Config {
	return s.cluster.live.effective(st)
}

// nodeName is this broker's id as a config resource name.
func (s *Server) nodeName() string { return strconv.Itoa(int(s.cfg.NodeID)) }

// brokerConfigSet validates a BROKER resource name for an alter request, which must be empty (the
// cluster default) or this node's id, as Kafka's ConfigAdminManager requires, and returns the
// name of the dynamic config set it means in canonical form ("01" is node 1's set, stored as "1").
func (s *Server) brokerConfigSet(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if err := s.checkNodeName(name); err != nil {
		return "", err
	}
	return s.nodeName(), nil
}

// checkNodeName requires name to be this node's id.
func (s *Server) checkNodeName(name string) error {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return newAPIError(kerr.InvalidRequest, "broker id must be an integer, but it is: %s", name)
	}
	if int32(id) != s.cfg.NodeID {
		return newAPIError(kerr.InvalidRequest, "unexpected broker id, expected %d, but received %s", s.cfg.NodeID, name)
	}
	return nil
}

// resourceKey identifies a config resource within one request, for duplicate detection.
type resourceKey struct {
	typ  kmsg.ConfigResourceType
	name string
}

// duplicateResources returns the resources that appear more than once in a request: Kafka
// rejects every copy of them with INVALID_REQUEST.
func duplicateResources(keys []resourceKey) map[resourceKey]bool {
	seen := make(map[resourceKey]int, len(keys))
	for _, k := range keys {
		seen[k]++
	}
	dups := make(map[resourceKey]bool)
	for k, n := range seen {
		if n > 1 {
			dups[k] = true
		}
	}
	return dups
}

// duplicateNames returns the names that appear more than once.
func duplicateNames(names []string) map[string]bool {
	seen := make(map[string]int, len(names))
	for _, n := range names {
		seen[n]++
	}
	dups := make(map[string]bool)
	for n, c := range seen {
		if c > 1 {
			dups[n] = true
		}
	}
	return dups
}

// validateReplicas applies Kafka's checks on one manually assigned replica list
// (ReplicationControlManager.validateManualPartitionAssignment) to this single-node cluster:
// the list must be exactly [this node].
func (s *Server) validateReplicas(replicas []int32) error {
	if len(replicas) == 0 {
		return newAPIError(kerr.InvalidReplicaAssignment, "the manual partition assignment includes an empty replica list")
	}
	seen := make(map[int32]bool, len(replicas))
	for _, r := range replicas {
		if r != s.cfg.NodeID {
			return newAPIError(kerr.InvalidReplicaAssignment,
				"the manual partition assignment includes broker %d, but no such broker is registered", r)
		}
		if seen[r] {
			return newAPIError(kerr.InvalidReplicaAssignment,
				"the manual partition assignment includes the broker %d more than once", r)
		}
		seen[r] = true
	}
	return nil
}
