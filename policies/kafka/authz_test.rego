package kafka.authz_test

import data.kafka.authz

req(principal, op, rtype, name) := {
	"action": {"operation": op, "resourcePattern": {"resourceType": rtype, "name": name, "patternType": "LITERAL"}},
	"requestContext": {"principal": {"principalType": "User", "name": principal}},
}

test_superuser_allowed if authz.allow with input as req("admin", "ALTER", "CLUSTER", "kafka-cluster")

test_grant_prefix_read if authz.allow with input as req("orders-app", "READ", "TOPIC", "orders-eu")

test_read_implies_describe if authz.allow with input as req("orders-app", "DESCRIBE", "TOPIC", "orders-eu")

test_other_topic_denied if not authz.allow with input as req("orders-app", "READ", "TOPIC", "payments")

test_ungranted_operation_denied if not authz.allow with input as req("orders-app", "DELETE", "TOPIC", "orders-eu")

test_wildcard_principal if authz.allow with input as req("anyone", "READ", "TOPIC", "public-news")

test_wildcard_principal_not_write if not authz.allow with input as req("anyone", "WRITE", "TOPIC", "public-news")

test_idempotent_write_for_writers if authz.allow with input as req("orders-app", "IDEMPOTENT_WRITE", "CLUSTER", "kafka-cluster")

test_idempotent_write_for_all_grants if {
	authz.allow with input as req("dave", "IDEMPOTENT_WRITE", "CLUSTER", "kafka-cluster")
		with data.kafka.grants as [{"principal": "User:dave", "resourceType": "TOPIC", "name": "x", "operations": ["ALL"]}]
}

test_no_idempotent_write_for_readers if not authz.allow with input as req("anyone", "IDEMPOTENT_WRITE", "CLUSTER", "kafka-cluster")

test_group_grant if authz.allow with input as req("orders-app", "READ", "GROUP", "orders-billing")

test_unknown_principal_denied if not authz.allow with input as req("mallory", "DESCRIBE", "TOPIC", "orders-eu")

test_reason_on_denial if {
	r := authz.reason with input as req("mallory", "READ", "TOPIC", "orders-eu")
	contains(r, "User:mallory")
}

test_grants_from_data if {
	authz.allow with input as req("carol", "WRITE", "TOPIC", "x") with data.kafka.grants as [{"principal": "User:carol", "resourceType": "TOPIC", "name": "x", "operations": ["WRITE"]}]
}
