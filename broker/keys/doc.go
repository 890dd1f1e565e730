// Package keys is envelope encryption's key side: the Provider interface that generates and
// unwraps per-file data keys under a master key, the local keyring (the default) and AWS KMS.
// Storage packages seal data with the data keys; they never see a master key.
package keys
