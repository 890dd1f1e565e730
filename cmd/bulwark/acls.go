package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

const aclsUsage = `usage: bulwark acls <command> [flags]

Manages the Kafka ACLs of a running broker through the admin API (CreateAcls, DescribeAcls,
DeleteAcls), with kafka-acls.sh's flags. Needs authorizer.class.name set to Kafka's ACL
authorizer, and a principal allowed ALTER (add, remove) or DESCRIBE (list) on the cluster.

commands:
  add       create an ACL for every principal x host x operation x resource given
  list      list ACLs; resource, principal and pattern flags narrow the list
  remove    delete the ACLs the flags describe (no --operation: every operation)

ACL flags (repeatable):
  --allow-principal P   principal to allow, Type:Name (User:alice)
  --deny-principal P    principal to deny
  --allow-host H        host the allow applies to (default *)
  --deny-host H         host the deny applies to (default *)
  --operation OP        Read, Write, Create, Delete, Alter, Describe, ClusterAction,
                        DescribeConfigs, AlterConfigs, IdempotentWrite, All
  --topic T | --group G | --transactional-id ID | --cluster
  --resource-pattern-type literal|prefixed (add; default literal), or any|match (list, remove)
  --principal P         list: only ACLs of this principal

connection flags: --bootstrap-server, --sasl-mechanism, --sasl-user, --sasl-password-env,
--tls, --tls-ca, --tls-cert, --tls-key, --tls-server-name
`

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// aclFlags are the flags that describe ACLs.
type aclFlags struct {
	allowPrincipals, denyPrincipals, allowHosts, denyHosts, ops listFlag
	topics, groups, txnIDs                                      listFlag
	cluster                                                     bool
	patternType, principal                                      string
}

func (f *aclFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.allowPrincipals, "allow-principal", "principal to allow (repeatable)")
	fs.Var(&f.denyPrincipals, "deny-principal", "principal to deny (repeatable)")
	fs.Var(&f.allowHosts, "allow-host", "host for allow ACLs (default *)")
	fs.Var(&f.denyHosts, "deny-host", "host for deny ACLs (default *)")
	fs.Var(&f.ops, "operation", "operation (repeatable)")
	fs.Var(&f.topics, "topic", "topic (repeatable)")
	fs.Var(&f.groups, "group", "consumer group (repeatable)")
	fs.Var(&f.txnIDs, "transactional-id", "transactional id (repeatable)")
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster resource")
	fs.StringVar(&f.patternType, "resource-pattern-type", "", "literal, prefixed, any or match")
	fs.StringVar(&f.principal, "principal", "", "list: only this principal's ACLs")
}

// resources returns the resource patterns the flags name.
func (f *aclFlags) resources(defaultPattern authz.PatternType) ([]authz.Pattern, error) {
	pt := defaultPattern
	if f.patternType != "" {
		var err error
		if pt, err = authz.ParsePatternType(f.patternType); err != nil {
			return nil, err
		}
	}
	var out []authz.Pattern
	for _, t := range f.topics {
		out = append(out, authz.Pattern{Type: authz.ResourceTopic, Name: t, PatternType: pt})
	}
	for _, g := range f.groups {
		out = append(out, authz.Pattern{Type: authz.ResourceGroup, Name: g, PatternType: pt})
	}
	for _, id := range f.txnIDs {
		out = append(out, authz.Pattern{Type: authz.ResourceTransactionalID, Name: id, PatternType: pt})
	}
	if f.cluster {
		p := pt
		if p == authz.PatternPrefixed {
			return nil, errors.New("the cluster resource is literal")
		}
		out = append(out, authz.Pattern{Type: authz.ResourceCluster, Name: authz.ClusterName, PatternType: p})
	}
	return out, nil
}

// entries returns the (principal, host, operation, permission) combinations the flags name;
// opDefault is used when no --operation is given.
func (f *aclFlags) entries(opDefault authz.Operation) ([]authz.Entry, error) {
	ops := []authz.Operation{}
	for _, o := range f.ops {
		op, err := authz.ParseOperation(o)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		ops = []authz.Operation{opDefault}
	}
	var out []authz.Entry
	add := func(principals, hosts []string, perm authz.Permission) {
		if len(hosts) == 0 {
			hosts = []string{authz.Wildcard}
		}
		for _, p := range principals {
			for _, h := range hosts {
				for _, op := range ops {
					out = append(out, authz.Entry{Principal: p, Host: h, Operation: op, Permission: perm})
				}
			}
		}
	}
	add(f.allowPrincipals, f.allowHosts, authz.Allow)
	add(f.denyPrincipals, f.denyHosts, authz.Deny)
	return out, nil
}

// cmdACLs implements `bulwark acls`.
func cmdACLs(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, aclsUsage)
		return 2
	}
	fs := flag.NewFlagSet("acls "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	var af aclFlags
	af.register(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "bulwark acls: unexpected argument %q\n", pos[0])
		return 2
	}
	opts, err := cf.options()
	if err != nil {
		fmt.Fprintln(stderr, "bulwark acls:", err)
		return 2
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark acls:", err)
		return 1
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch args[0] {
	case "add":
		err = addACLs(ctx, cl, &af, stdout)
	case "list":
		err = listACLs(ctx, cl, &af, stdout)
	case "remove":
		err = removeACLs(ctx, cl, &af, stdout)
	default:
		fmt.Fprint(stderr, aclsUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark acls:", err)
		return 1
	}
	return 0
}

func addACLs(ctx context.Context, cl *kgo.Client, af *aclFlags, w io.Writer) error {
	res, err := af.resources(authz.PatternLiteral)
	if err != nil {
		return err
	}
	entries, err := af.entries(authz.OpUnknown)
	if err != nil {
		return err
	}
	if len(res) == 0 || len(entries) == 0 {
		return errors.New("add needs a resource (--topic, --group, --transactional-id or --cluster), a principal and --operation")
	}
	req := kmsg.NewPtrCreateACLsRequest()
	var bindings []authz.Binding
	for _, p := range res {
		for _, e := range entries {
			b := authz.Binding{Pattern: p, Entry: e}
			if err := b.Validate(); err != nil {
				return fmt.Errorf("%s: %v", b, err)
			}
			bindings = append(bindings, b)
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName = kmsg.ACLResourceType(p.Type), p.Name
			c.ResourcePatternType = kmsg.ACLResourcePatternType(p.PatternType)
			c.Principal, c.Host = e.Principal, e.Host
			c.Operation, c.PermissionType = kmsg.ACLOperation(e.Operation), kmsg.ACLPermissionType(e.Permission)
			req.Creations = append(req.Creations, c)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if len(resp.Results) != len(bindings) {
		return fmt.Errorf("the broker answered %d results for %d ACLs", len(resp.Results), len(bindings))
	}
	var errs []error
	for i, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v%s", bindings[i], err, message(r.ErrorMessage)))
			continue
		}
		fmt.Fprintln(w, "added", bindings[i])
	}
	return errors.Join(errs...)
}

func message(m *string) string {
	if m == nil || *m == "" {
		return ""
	}
	return ": " + *m
}

func listACLs(ctx context.Context, cl *kgo.Client, af *aclFlags, w io.Writer) error {
	res, err := af.resources(authz.PatternAny)
	if err != nil {
		return err
	}
	if len(res) == 0 {
		res = []authz.Pattern{{Type: authz.ResourceAny, PatternType: authz.PatternAny}}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tPATTERN\tPRINCIPAL\tHOST\tOPERATION\tPERMISSION")
	for _, p := range res {
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceType(p.Type), kmsg.ACLResourcePatternType(p.PatternType)
		if p.Type != authz.ResourceAny {
			req.ResourceName = kmsg.StringPtr(p.Name)
		}
		if af.principal != "" {
			req.Principal = kmsg.StringPtr(af.principal)
		}
		req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("%v%s", err, message(resp.ErrorMessage))
		}
		for _, r := range resp.Resources {
			for _, a := range r.ACLs {
				fmt.Fprintf(tw, "%s:%s\t%s\t%s\t%s\t%s\t%s\n", authz.ResourceType(r.ResourceType), r.ResourceName,
					authz.PatternType(r.ResourcePatternType), a.Principal, a.Host, authz.Operation(a.Operation), authz.Permission(a.PermissionType))
			}
		}
	}
	return tw.Flush()
}

func removeACLs(ctx context.Context, cl *kgo.Client, af *aclFlags, w io.Writer) error {
	res, err := af.resources(authz.PatternLiteral)
	if err != nil {
		return err
	}
	entries, err := af.entries(authz.OpAny)
	if err != nil {
		return err
	}
	if len(res) == 0 {
		return errors.New("remove needs a resource (--topic, --group, --transactional-id or --cluster)")
	}
	req := kmsg.NewPtrDeleteACLsRequest()
	for _, p := range res {
		if len(entries) == 0 { // every ACL of the resource
			entries = []authz.Entry{{Operation: authz.OpAny, Permission: authz.PermissionAny}}
		}
		for _, e := range entries {
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourceName = kmsg.ACLResourceType(p.Type), kmsg.StringPtr(p.Name)
			f.ResourcePatternType = kmsg.ACLResourcePatternType(p.PatternType)
			if e.Principal != "" {
				f.Principal, f.Host = kmsg.StringPtr(e.Principal), kmsg.StringPtr(e.Host)
			}
			f.Operation, f.PermissionType = kmsg.ACLOperation(e.Operation), kmsg.ACLPermissionType(e.Permission)
			req.Filters = append(req.Filters, f)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			errs = append(errs, fmt.Errorf("%v%s", err, message(r.ErrorMessage)))
			continue
		}
		for _, m := range r.MatchingACLs {
			fmt.Fprintf(w, "removed (principal=%s, host=%s, operation=%s, permission=%s) on %s:%s:%s\n", m.Principal, m.Host,
				authz.Operation(m.Operation), authz.Permission(m.PermissionType), authz.ResourceType(m.ResourceType),
				authz.PatternType(m.ResourcePatternType), m.ResourceName)
		}
	}
	return errors.Join(errs...)
}
