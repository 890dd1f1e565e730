// Package acl is the Kafka ACL engine: Apache Kafka's StandardAuthorizer semantics behind the
// authz.Authorizer contract. ACLs are indexed by resource type and name (literal names by map,
// prefixes by the distinct prefix lengths in use), so a decision costs the same with 100,000 ACLs
// as with ten for literal names.
//
// The rules, in order: a matching DENY wins (DENY ALL denies every operation; DENY READ does not
// deny DESCRIBE); else a matching ALLOW allows, where ALL allows everything, READ, WRITE, DELETE and
// ALTER imply DESCRIBE and ALTER_CONFIGS implies DESCRIBE_CONFIGS; else, if no ACL at all names
// the resource (by literal name, "*", or a prefix), allow.everyone.if.no.acl.found decides; else
// deny. A binding matches when its principal is the requester's or "User:*" and its host is the
// client's IP address or "*". super.users are the authz.SuperUsers wrapper's job.
//
// The broker owns the ACLs (its metadata log) and hands the whole set to SetACLs whenever it
// changes; the engine swaps in a new index atomically, so decisions never wait on a change.
package acl
