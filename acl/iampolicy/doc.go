// Package iampolicy is the IAM-style authorization engine: Amazon MSK's IAM access control for
// principals that logged in with AWS_MSK_IAM or the MSK OAUTHBEARER token. Policy documents are
// IAM's JSON grammar (Version, Statement with Sid, Effect, Action, Resource, Condition), attached
// to principal ARNs with `bulwark iam attach-policy` and kept in the metadata log.
//
// A Kafka (operation, resource) maps to MSK's kafka-cluster:* action and resource ARN
// (arn:aws:kafka:<region>:<account>:cluster|topic|group|transactional-id/<cluster name>/<cluster
// uuid>[/<name>]); every request also needs kafka-cluster:Connect on the cluster, as MSK checks
// it. Evaluation is IAM's: an explicit Deny wins, else an Allow allows, else the default is deny.
// "*" and "?" are wildcards in actions (case-insensitive) and resources. Conditions support the
// global keys aws:SourceIp (IpAddress, NotIpAddress), aws:PrincipalArn and aws:username
// (String*, ArnLike/ArnEquals), and aws:CurrentTime (Date*); a document using anything else is
// refused when attached, never ignored.
//
// Idempotent producers need kafka-cluster:WriteDataIdempotently on the cluster, as on MSK: the
// engine does not answer Kafka's "WRITE on any topic" alternative.
package iampolicy
