package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const quotasUsage = `usage: bulwark quotas <command> [entity flags] [flags]

Manages client quotas of a running broker through the Kafka admin API (KIP-546), as
kafka-configs --entity-type users/clients/ips does. Changes apply to the next request.

commands:
  describe      list quotas; entity flags narrow the list (--strict: exactly those types)
  alter         change one entity's quotas: --set key=value[,key=value...] and/or
                --delete key[,key...]

entity flags:
  --user NAME | --user-default          a user (the principal's name), or every user
  --client-id NAME | --client-default   a client id, or every client id
  --ip ADDRESS | --ip-default           an IP address, or every IP (not with user or client id)

quota keys: producer_byte_rate, consumer_byte_rate (bytes/s), request_percentage (100 = one
handler thread), controller_mutation_rate (partitions/s) for users and client ids;
connection_creation_rate (connections/s) for IPs.

connection flags (every command): --bootstrap-server, --sasl-mechanism, --sasl-user,
--sasl-password-env, --tls, --tls-ca, --tls-cert, --tls-key, --tls-server-name
`

// entityFlags are the flags that name a quota entity.
type entityFlags struct {
	user, client, ip                  string
	userDefault, clientDef, ipDefault bool
}

func (e *entityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.user, "user", "", "user name")
	fs.BoolVar(&e.userDefault, "user-default", false, "the default user")
	fs.StringVar(&e.client, "client-id", "", "client id")
	fs.BoolVar(&e.clientDef, "client-default", false, "the default client id")
	fs.StringVar(&e.ip, "ip", "", "IP address")
	fs.BoolVar(&e.ipDefault, "ip-default", false, "the default IP")
}

// parts returns the entity the flags name, type by type.
func (e *entityFlags) parts() (kadm.ClientQuotaEntity, error) {
	var out kadm.ClientQuotaEntity
	add := func(typ, name string, def bool) error {
		switch {
		case name != "" && def:
			return fmt.Errorf("--%s and its -default flag are exclusive", typ)
		case def:
			out = append(out, kadm.ClientQuotaEntityComponent{Type: typ})
		case name != "":
			n := name
			out = append(out, kadm.ClientQuotaEntityComponent{Type: typ, Name: &n})
		}
		return nil
	}
	if err := add("user", e.user, e.userDefault); err != nil {
		return nil, err
	}
	if err := add("client-id", e.client, e.clientDef); err != nil {
		return nil, err
	}
	if err := add("ip", e.ip, e.ipDefault); err != nil {
		return nil, err
	}
	return out, nil
}

// cmdQuotas implements `bulwark quotas`.
func cmdQuotas(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, quotasUsage)
		return 2
	}
	fs := flag.NewFlagSet("quotas "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	var ef entityFlags
	ef.register(fs)
	strict := fs.Bool("strict", false, "describe: only entities of exactly the given types")
	set := fs.String("set", "", "alter: key=value pairs to set, comma-separated")
	del := fs.String("delete", "", "alter: keys to remove, comma-separated")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	entity, err := ef.parts()
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark quotas:", err)
		return 2
	}
	opts, err := cf.options()
	if err != nil {
		fmt.Fprintln(stderr, "bulwark quotas:", err)
		return 2
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark quotas:", err)
		return 1
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch args[0] {
	case "describe":
		err = describeQuotas(ctx, adm, entity, *strict, stdout)
	case "alter":
		err = alterQuotas(ctx, adm, entity, *set, *del)
	default:
		fmt.Fprint(stderr, quotasUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark quotas:", err)
		return 1
	}
	return 0
}

func describeQuotas(ctx context.Context, adm *kadm.Client, entity kadm.ClientQuotaEntity, strict bool, w io.Writer) error {
	var filter []kadm.DescribeClientQuotaComponent
	for _, p := range entity {
		c := kadm.DescribeClientQuotaComponent{Type: p.Type, MatchType: 1} // default
		if p.Name != nil {
			c.MatchName, c.MatchType = p.Name, 0
		}
		filter = append(filter, c)
	}
	quotas, err := adm.DescribeClientQuotas(ctx, strict, filter)
	if err != nil {
		return err
	}
	for _, q := range quotas {
		var names, values []string
		for _, p := range q.Entity {
			n := "<default>"
			if p.Name != nil {
				n = *p.Name
			}
			names = append(names, p.Type+"="+n)
		}
		for _, v := range q.Values {
			values = append(values, v.Key+"="+strconv.FormatFloat(v.Value, 'f', -1, 64))
		}
		fmt.Fprintf(w, "%s\t%s\n", strings.Join(names, ","), strings.Join(values, ","))
	}
	return nil
}

func alterQuotas(ctx context.Context, adm *kadm.Client, entity kadm.ClientQuotaEntity, set, del string) error {
	if len(entity) == 0 {
		return errors.New("alter needs an entity (--user, --client-id, --ip or their -default flags)")
	}
	var ops []kadm.AlterClientQuotaOp
	for _, kv := range splitNonEmpty(set) {
		k, v, ok := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			return fmt.Errorf("--set: want key=number, got %q", kv)
		}
		ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Value: f})
	}
	for _, k := range splitNonEmpty(del) {
		ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
	}
	if len(ops) == 0 {
		return errors.New("alter needs --set or --delete")
	}
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: ops}})
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("%v: %w (%s)", r.Entity, r.Err, r.ErrMessage)
		}
	}
	return nil
}

func splitNonEmpty(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
