# The default Bulwark/Kafka authorization policy: deny unless a super user or a grant allows.
package kafka.authz

default allow := false

principal := sprintf("%s:%s", [input.requestContext.principal.principalType, input.requestContext.principal.name])

operation := input.action.operation

resource := input.action.resourcePattern

allow if principal in data.kafka.superusers

allow if some grant in matching_grants

# Producers need IDEMPOTENT_WRITE on the cluster when they may WRITE some topic (KIP-679).
allow if {
	resource.resourceType == "CLUSTER"
	operation == "IDEMPOTENT_WRITE"
	some grant in data.kafka.grants
	grant_principal(grant)
	grant.resourceType == "TOPIC"
	some op in grant.operations
	op in {"WRITE", "ALL"}
}

matching_grants contains grant if {
	some grant in data.kafka.grants
	grant_principal(grant)
	grant.resourceType == resource.resourceType
	name_matches(grant.name, resource.name)
	some op in grant.operations
	implies(op, operation)
}

grant_principal(grant) if grant.principal == principal

grant_principal(grant) if grant.principal == "*"

name_matches(pattern, name) if {
	endswith(pattern, "*")
	startswith(name, trim_suffix(pattern, "*"))
}

name_matches(pattern, name) if {
	not endswith(pattern, "*")
	pattern == name
}

implies(op, op)

implies("ALL", _)

implies(op, "DESCRIBE") if op in {"READ", "WRITE", "DELETE", "ALTER"}

implies("ALTER_CONFIGS", "DESCRIBE_CONFIGS")

reason := sprintf("no grant gives %s %s on %s %s", [principal, operation, resource.resourceType, resource.name]) if not allow
