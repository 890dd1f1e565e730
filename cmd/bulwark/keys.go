package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
)

const keysUsage = `usage: bulwark keys <command> [--config FILE]

Manages the master keys of encryption at rest. They work on a stopped broker's data directory
(they refuse to run while a broker holds it).

commands:
  inspect   the provider, the local keyring's versions (with fingerprints, never keys), and how
            many files each master key protects
  rotate    add a new local master key version; files created after the next start use it
  rewrap    re-wrap every file's data key under the current master key (headers only, no data
            is rewritten); run it after rotate, or after pointing the AWS KMS key id elsewhere
`

// cmdKeys implements `bulwark keys`.
func cmdKeys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "server.properties of the broker (default: the embedded defaults)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil || len(pos) != 0 {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	cfg := config.Default()
	if *cfgFile != "" {
		if cfg, err = config.Load(*cfgFile); err != nil {
			fmt.Fprintf(stderr, "bulwark keys: %s: %v\n", *cfgFile, err)
			return 1
		}
	}
	switch args[0] {
	case "inspect":
		err = inspectKeys(cfg, stdout)
	case "rotate":
		var v int
		if v, err = broker.RotateLocalKey(cfg); err == nil {
			fmt.Fprintf(stdout, "master key version %d is now current; run bulwark keys rewrap to move existing files to it\n", v)
		}
	case "rewrap":
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		var n int
		n, err = broker.RewrapDataDir(ctx, cfg)
		fmt.Fprintf(stdout, "rewrapped %d files\n", n)
	default:
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark keys:", err)
		return 1
	}
	if args[0] == "rotate" || args[0] == "rewrap" {
		name := map[string]string{"rotate": "KeyRotate", "rewrap": "KeyRewrap"}[args[0]]
		if err := auditOffline(cfg, &audit.Record{EventName: name, EventType: "KeyOperation", EventCategory: "Management",
			UserIdentity: localOperator(), AdditionalEventData: map[string]any{"offline": true, "provider": cfg.EncryptionProvider}}); err != nil {
			fmt.Fprintln(stderr, "bulwark keys: done, but its audit record was not written:", err)
			return 1
		}
	}
	return 0
}

func inspectKeys(cfg *config.Config, stdout io.Writer) error {
	r, err := broker.InspectKeys(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "provider: %s\n", r.Provider)
	for _, v := range r.Versions {
		cur := ""
		if v.Current {
			cur = " (current)"
		}
		fmt.Fprintf(stdout, "version %d fingerprint %s created %s%s\n", v.Version, v.Fingerprint, v.Created.Format(time.RFC3339), cur)
	}
	ids := make([]string, 0, len(r.Files))
	for id := range r.Files {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(stdout, "files under %s: %d\n", id, r.Files[id])
	}
	fmt.Fprintf(stdout, "files not sealed (offset indexes, checkpoints, markers: no record data): %d\n", r.Plaintext)
	return nil
}
