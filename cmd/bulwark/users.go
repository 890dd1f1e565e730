package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const usersUsage = `usage: bulwark users <command> [flags]

Manages SCRAM users of a running broker through the Kafka admin API (KIP-554), so a change is
usable by the very next login.

commands:
  set USER      create the user or change its password; the password is read from the first
                line of standard input (or from $BULWARK_USER_PASSWORD)
                --mechanism SCRAM-SHA-256|SCRAM-SHA-512|both (default both), --iterations N
  delete USER   delete the user's credentials (--mechanism as above)
  list          list users with their mechanisms and iteration counts

connection flags (every command): --bootstrap-server, --sasl-mechanism, --sasl-user,
--sasl-password-env, --tls, --tls-ca, --tls-cert, --tls-key, --tls-server-name
`

// cmdUsers implements `bulwark users`.
func cmdUsers(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	fs := flag.NewFlagSet("users "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	mechanism := fs.String("mechanism", "both", "SCRAM-SHA-256, SCRAM-SHA-512 or both")
	iterations := fs.Int("iterations", 8192, "SCRAM iterations, 4096..16384")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	mechs, err := scramMechanisms(*mechanism)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark users:", err)
		return 2
	}
	opts, err := cf.options()
	if err != nil {
		fmt.Fprintln(stderr, "bulwark users:", err)
		return 2
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark users:", err)
		return 1
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	switch {
	case args[0] == "list" && len(pos) == 0:
		err = listUsers(ctx, adm, stdout)
	case args[0] == "set" && len(pos) == 1:
		err = setUser(ctx, adm, pos[0], mechs, int32(*iterations), stdin)
	case args[0] == "delete" && len(pos) == 1:
		err = deleteUser(ctx, adm, pos[0], mechs)
	default:
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark users:", err)
		return 1
	}
	return 0
}

func scramMechanisms(s string) ([]kadm.ScramMechanism, error) {
	switch strings.ToUpper(s) {
	case "BOTH":
		return []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512}, nil
	case "SCRAM-SHA-256":
		return []kadm.ScramMechanism{kadm.ScramSha256}, nil
	case "SCRAM-SHA-512":
		return []kadm.ScramMechanism{kadm.ScramSha512}, nil
	}
	return nil, fmt.Errorf("unknown mechanism %q", s)
}

func readPassword(stdin io.Reader) (string, error) {
	if p := os.Getenv("BULWARK_USER_PASSWORD"); p != "" {
		return p, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input (or in $BULWARK_USER_PASSWORD)")
	}
	return line, nil
}

func setUser(ctx context.Context, adm *kadm.Client, user string, mechs []kadm.ScramMechanism, iterations int32, stdin io.Reader) error {
	pass, err := readPassword(stdin)
	if err != nil {
		return err
	}
	var ups []kadm.UpsertSCRAM
	for _, m := range mechs {
		ups = append(ups, kadm.UpsertSCRAM{User: user, Mechanism: m, Iterations: iterations, Password: pass})
	}
	res, err := adm.AlterUserSCRAMs(ctx, nil, ups)
	if err != nil {
		return err
	}
	return res.Error()
}

func deleteUser(ctx context.Context, adm *kadm.Client, user string, mechs []kadm.ScramMechanism) error {
	var dels []kadm.DeleteSCRAM
	for _, m := range mechs {
		dels = append(dels, kadm.DeleteSCRAM{User: user, Mechanism: m})
	}
	res, err := adm.AlterUserSCRAMs(ctx, dels, nil)
	if err != nil {
		return err
	}
	return res.Error()
}

func listUsers(ctx context.Context, adm *kadm.Client, stdout io.Writer) error {
	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		return err
	}
	users := make([]string, 0, len(described))
	for u := range described {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		d := described[u]
		if d.Err != nil {
			return fmt.Errorf("%s: %w", u, d.Err)
		}
		var parts []string
		for _, ci := range d.CredInfos {
			parts = append(parts, fmt.Sprintf("%s(%d)", ci.Mechanism, ci.Iterations))
		}
		fmt.Fprintf(stdout, "%s\t%s\n", u, strings.Join(parts, ","))
	}
	return nil
}
