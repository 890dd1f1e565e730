// Package iam verifies IAM-style signed logins as Amazon MSK clients make them: the AWS_MSK_IAM
// SASL mechanism (a JSON payload of SigV4 presigned-URL parameters, as franz-go's pkg/sasl/aws
// and the aws-msk-iam-auth Java library send) and OAUTHBEARER carrying an MSK IAM token (a
// base64url presigned URL, as aws-msk-iam-sasl-signer-go mints it).
//
// Verify checks algorithm, action, signed headers, credential scope (date, region, service
// kafka-cluster), clock skew, signature and key expiry, the host, and the signature in constant
// time, against keys from the Lookup callback. Every refusal carries a precise reason for logs and
// audit; clients learn only that authentication failed. A Verifier and its mechanisms are safe
// for concurrent use.
package iam
