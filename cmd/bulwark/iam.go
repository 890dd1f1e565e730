package main

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

const iamUsage = `usage: bulwark iam <command> [--config FILE] [flags]

Manages the IAM-style access keys that AWS_MSK_IAM and OAUTHBEARER logins are verified against.
Kafka has no API for them, so these commands work on the broker's data directory directly and
need the broker stopped (they refuse to run while it holds the directory).

commands:
  create-key --principal-arn ARN [--expires-in DURATION]
                      create a key; prints the access key id and the secret (shown only once)
  list                list keys: id, principal ARN, created, expiry (never secrets)
  delete-key ID       delete a key
`

// cmdIAM implements `bulwark iam`.
func cmdIAM(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, iamUsage)
		return 2
	}
	fs := flag.NewFlagSet("iam "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "server.properties of the broker (default: the embedded defaults)")
	arn := fs.String("principal-arn", "", "principal the key authenticates as (create-key)")
	expiresIn := fs.Duration("expires-in", 0, "key lifetime, e.g. 720h (0: no expiry)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	cfg := config.Default()
	if *cfgFile != "" {
		var err error
		if cfg, err = config.Load(*cfgFile); err != nil {
			fmt.Fprintf(stderr, "bulwark iam: %s: %v\n", *cfgFile, err)
			return 1
		}
	}
	store, err := broker.OpenMetadata(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark iam:", err)
		return 1
	}
	defer store.Close()

	switch {
	case args[0] == "create-key" && len(pos) == 0 && *arn != "":
		err = createIAMKey(store, *arn, *expiresIn, stdout)
	case args[0] == "list" && len(pos) == 0:
		listIAMKeys(store, stdout)
	case args[0] == "delete-key" && len(pos) == 1:
		_, err = store.Commit(meta.DeleteIAMKey{AccessKeyID: pos[0]})
	default:
		fmt.Fprint(stderr, iamUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark iam:", err)
		return 1
	}
	return 0
}

// newAccessKeyID returns an id shaped like AWS's: a 4-letter prefix and 16 characters of A-Z2-7.
func newAccessKeyID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "BWIA" + string(b)
}

func newSecret() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func createIAMKey(store *broker.MetadataStore, arn string, expiresIn time.Duration, stdout io.Writer) error {
	now := time.Now().UTC()
	key := meta.IAMKey{AccessKeyID: newAccessKeyID(), Secret: newSecret(), PrincipalARN: arn, CreatedAt: now}
	if expiresIn > 0 {
		key.Expiry = now.Add(expiresIn)
	}
	if _, err := store.Commit(meta.SetIAMKey{Key: key}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "access_key_id=%s\nsecret_access_key=%s\nprincipal=%s\n", key.AccessKeyID, key.Secret, arn)
	if !key.Expiry.IsZero() {
		fmt.Fprintf(stdout, "expires=%s\n", key.Expiry.Format(time.RFC3339))
	}
	return nil
}

func listIAMKeys(store *broker.MetadataStore, stdout io.Writer) {
	keys := store.State().IAMKeys
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		k := keys[id]
		exp := "never"
		if !k.Expiry.IsZero() {
			exp = k.Expiry.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%s\t%s\tcreated=%s\texpires=%s\n", id, k.PrincipalARN, k.CreatedAt.Format(time.RFC3339), exp)
	}
}
