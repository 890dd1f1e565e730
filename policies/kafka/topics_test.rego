package kafka.topics_test

import data.kafka.topics

change(name, partitions, rf, configs) := {
	"operation": "CreateTopics",
	"topic": {"name": name, "numPartitions": partitions, "replicationFactor": rf, "configs": configs},
}

test_good_topic_allowed if count(topics.deny) == 0 with input as change("orders-eu", 6, 1, {"retention.ms": "86400000"})

test_bad_name if {
	msgs := topics.deny with input as change("Orders!", 1, 1, {})
	some msg in msgs
	contains(msg, "does not match")
}

test_too_many_partitions if {
	msgs := topics.deny with input as change("orders", 1000, 1, {})
	some msg in msgs
	contains(msg, "partitions")
}

test_infinite_retention_refused if {
	msgs := topics.deny with input as change("orders", 1, 1, {"retention.ms": "-1"})
	some msg in msgs
	contains(msg, "retention.ms")
}

test_long_retention_refused if {
	msgs := topics.deny with input as change("orders", 1, 1, {"retention.ms": "99999999999"})
	count(msgs) == 1
}

test_no_retention_override_allowed if count(topics.deny) == 0 with input as change("orders", 1, 1, {})
