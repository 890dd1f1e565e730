// Package authz is the authorization contract the broker and its engines share: the request
// context an authorization decision sees (typed principal, listener, client address, request id),
// the (operation, resource) actions a request is checked for, the decision with what made it,
// and Kafka's ACL data model (bindings and filters with Kafka's matching rules).
//
// It is a leaf: the broker asks an Authorizer and never imports an engine; the engines (acl/ for
// Kafka ACLs, acl/opa for Open Policy Agent, acl/iam for IAM-style policies) implement it, and
// cmd/bulwark wires one in. Wire codes are Kafka's (AclOperation, AclPermissionType,
// ResourceType, PatternType), so values move between the protocol and an engine unchanged.
package authz
