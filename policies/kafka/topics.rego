# Topic rules, checked on CreateTopics, CreatePartitions and topic config changes when
# bulwark.opa.topic.policy.enabled=true: each message in deny refuses the change
# (POLICY_VIOLATION). Limits come from data.kafka.topic_limits.
package kafka.topics

limits := data.kafka.topic_limits

topic := input.topic

deny contains msg if {
	not regex.match(limits.name_pattern, topic.name)
	msg := sprintf("topic name %q does not match %s", [topic.name, limits.name_pattern])
}

deny contains msg if {
	topic.numPartitions > limits.max_partitions
	msg := sprintf("%d partitions is more than the %d allowed", [topic.numPartitions, limits.max_partitions])
}

deny contains msg if {
	topic.replicationFactor < limits.min_replication_factor
	msg := sprintf("replication factor %d is below the %d required", [topic.replicationFactor, limits.min_replication_factor])
}

deny contains msg if {
	retention := to_number(topic.configs["retention.ms"])
	retention_out_of_bounds(retention)
	msg := sprintf("retention.ms %v is outside 1..%d", [topic.configs["retention.ms"], limits.max_retention_ms])
}

retention_out_of_bounds(r) if r > limits.max_retention_ms

retention_out_of_bounds(r) if r < 0

retention_out_of_bounds(r) if r == 0
