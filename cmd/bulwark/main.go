package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code: 0 success, 1 failure, 2 usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stderr)
	case "config":
		return cmdConfig(args[1:], stdout, stderr)
	case "bench":
		return cmdBench(args[1:], stdout, stderr)
	case "users":
		return cmdUsers(args[1:], os.Stdin, stdout, stderr)
	case "acls":
		return cmdACLs(args[1:], stdout, stderr)
	case "authz":
		return cmdAuthz(args[1:], stdout, stderr)
	case "quotas":
		return cmdQuotas(args[1:], stdout, stderr)
	case "iam":
		return cmdIAM(args[1:], stdout, stderr)
	case "keys":
		return cmdKeys(args[1:], stdout, stderr)
	case "audit":
		return cmdAudit(args[1:], stdout, stderr)
	case "logs":
		return cmdLogs(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "bulwark", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "bulwark: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: bulwark <command> [flags]

commands:
  serve [--config FILE]   run the broker; without --config it uses the embedded defaults
                          (127.0.0.1:9092, data under ./data); SIGHUP reloads FILE
  config check FILE       validate a server.properties file and exit
  bench [flags]           load generator: throughput and latency (bulwark bench -h)
  users set|delete|list   SCRAM users of a running broker (bulwark users for flags)
  quotas describe|alter   client quotas of a running broker (bulwark quotas for flags)
  acls add|list|remove    Kafka ACLs of a running broker, kafka-acls.sh's flags (bulwark acls)
  authz explain           the decision for a principal, host, operation and resource, and what
                          made it (bulwark authz for flags)
  iam create-key|list|delete-key|attach-policy|detach-policy|list-policies
                          IAM-style access keys, on a stopped broker's data directory
  keys inspect|rotate|rewrap
                          master keys of encryption at rest, on a stopped broker's data directory
  audit verify|query      check the tamper-evident audit trail, or search it (bulwark audit)
  logs [--tail N]         print the broker log files (encrypted at rest) as JSON lines
  version                 print the version
`)
}
