package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/bulwark-kafka/bulwark/acl/iampolicy"
	"github.com/bulwark-kafka/bulwark/audit"
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
  attach-policy --principal-arn ARN --name NAME --policy-file FILE
                      attach (or replace) an IAM-style policy document on a principal; judged
                      when bulwark.authorizer.iam.enabled=true (the document is checked first)
  detach-policy --principal-arn ARN --name NAME
                      remove a policy from a principal
  list-policies [--principal-arn ARN]
                      list attached policies; --principal-arn also prints the documents
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
	policyName := fs.String("name", "", "policy name (attach-policy, detach-policy)")
	policyFile := fs.String("policy-file", "", "JSON policy document (attach-policy)")
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
	case args[0] == "attach-policy" && len(pos) == 0 && *arn != "" && *policyName != "" && *policyFile != "":
		err = attachPolicy(store, *arn, *policyName, *policyFile)
	case args[0] == "detach-policy" && len(pos) == 0 && *arn != "" && *policyName != "":
		_, err = store.Commit(meta.DeleteIAMPolicy{PrincipalARN: *arn, Name: *policyName})
	case args[0] == "list-policies" && len(pos) == 0:
		listPolicies(store, *arn, stdout)
	default:
		fmt.Fprint(stderr, iamUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark iam:", err)
		return 1
	}
	if args[0] != "list" && args[0] != "list-policies" {
		// A change made on the stopped broker's data directory is an admin operation too.
		data := map[string]any{"offline": true, "principalArn": *arn, "policyName": *policyName}
		if len(pos) == 1 {
			data["accessKeyId"] = pos[0]
		}
		if err := auditOffline(cfg, &audit.Record{EventName: "IAM" + iamEventName(args[0]), EventType: "KafkaApiCall",
			EventCategory: "Management", UserIdentity: localOperator(), AdditionalEventData: data}); err != nil {
			fmt.Fprintln(stderr, "bulwark iam: the change is made, but its audit record was not written:", err)
			return 1
		}
	}
	return 0
}

// iamEventName turns a subcommand into an event name suffix: create-key → CreateKey.
func iamEventName(cmd string) string {
	var b strings.Builder
	for _, part := range strings.Split(cmd, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
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

// attachPolicy checks a policy document with the IAM engine's own parser, then stores it.
func attachPolicy(store *broker.MetadataStore, arn, name, file string) error {
	doc, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if len(doc) > meta.MaxIAMPolicyBytes {
		return fmt.Errorf("%s: %d bytes; a policy document is at most %d", file, len(doc), meta.MaxIAMPolicyBytes)
	}
	if _, err := iampolicy.Parse(doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	_, err = store.Commit(meta.SetIAMPolicy{PrincipalARN: arn, Name: name, Document: compact.Bytes()})
	return err
}

func listPolicies(store *broker.MetadataStore, arn string, stdout io.Writer) {
	pols := store.State().IAMPolicies
	arns := make([]string, 0, len(pols))
	for a := range pols {
		if arn == "" || a == arn {
			arns = append(arns, a)
		}
	}
	sort.Strings(arns)
	for _, a := range arns {
		names := make([]string, 0, len(pols[a]))
		for n := range pols[a] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if arn != "" {
				fmt.Fprintf(stdout, "%s\t%s\t%s\n", a, n, pols[a][n])
			} else {
				fmt.Fprintf(stdout, "%s\t%s\n", a, n)
			}
		}
	}
}
