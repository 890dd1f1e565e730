package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
)

const authzUsage = `usage: bulwark authz explain --config FILE --principal P --operation OP <resource> [flags]

Prints the decision the configured authorizer (authorizer.class.name, super.users,
bulwark.authorizer.iam.enabled) makes for one principal, host, operation and resource, and the
ACL, policy rule or IAM statement that made it -- the same "decided by" the broker logs with a
denial's request id.

ACLs and IAM policies come from the broker's data directory (the broker must be stopped), or,
with --bootstrap-server, ACLs from a running broker (DescribeAcls; IAM policies are not served
by any API). OPA policies are evaluated as configured (policy directory or server).

flags:
  --config FILE          the broker's server.properties (default: the embedded defaults)
  --principal P          Type:Name, e.g. User:alice or User:arn:aws:iam::123456789012:user/app
  --host H               client IP address (default 127.0.0.1)
  --operation OP         Read, Write, Create, Delete, Alter, Describe, ClusterAction,
                         DescribeConfigs, AlterConfigs, IdempotentWrite
  --topic T | --group G | --transactional-id ID | --cluster
  --mechanism M          SASL mechanism of the login (AWS_MSK_IAM or OAUTHBEARER selects IAM
                         policies when bulwark.authorizer.iam.enabled=true)
  --listener L, --client-id C   as the request would carry them (OPA policies may read them)
  --bootstrap-server, --sasl-*, --tls*   read ACLs from a running broker instead
`

// cmdAuthz implements `bulwark authz`.
func cmdAuthz(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "explain" {
		fmt.Fprint(stderr, authzUsage)
		return 2
	}
	fs := flag.NewFlagSet("authz explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "server.properties")
	principal := fs.String("principal", "", "principal")
	host := fs.String("host", "127.0.0.1", "client address")
	opName := fs.String("operation", "", "operation")
	topic := fs.String("topic", "", "topic")
	group := fs.String("group", "", "group")
	txn := fs.String("transactional-id", "", "transactional id")
	cluster := fs.Bool("cluster", false, "the cluster")
	mechanism := fs.String("mechanism", "", "SASL mechanism")
	listener := fs.String("listener", "", "listener name")
	clientID := fs.String("client-id", "", "client id")
	var cf clientFlags
	cf.register(fs)
	cf.bootstrap = ""
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	online := false
	fs.Visit(func(f *flag.Flag) { online = online || f.Name == "bootstrap-server" })
	p, ok := authz.PrincipalOf(*principal)
	op, opErr := authz.ParseOperation(*opName)
	var res []authz.Resource
	for _, r := range []authz.Resource{authz.Topic(*topic), authz.Group(*group), authz.TransactionalID(*txn)} {
		if r.Name != "" {
			res = append(res, r)
		}
	}
	if *cluster {
		res = append(res, authz.Cluster)
	}
	switch {
	case len(pos) > 0:
		err = fmt.Errorf("unexpected argument %q", pos[0])
	case !ok:
		err = fmt.Errorf("--principal %q is not Type:Name", *principal)
	case opErr != nil:
		err = opErr
	case len(res) != 1:
		err = errors.New("name exactly one resource: --topic, --group, --transactional-id or --cluster")
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark authz explain:", err)
		return 2
	}
	cfg := config.Default()
	if *cfgFile != "" {
		if cfg, err = config.Load(*cfgFile); err != nil {
			fmt.Fprintf(stderr, "bulwark authz explain: %s: %v\n", *cfgFile, err)
			return 1
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	az, err := newAuthorizer(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark authz explain:", err)
		return 1
	}
	if az == nil {
		fmt.Fprintln(stdout, "decision: ALLOWED\nengine: none\ndecided by: authorizer.class.name is not set: every principal may do everything")
		return 0
	}
	defer az.close()
	if online {
		err = loadACLsOnline(&cf, az.Authorizer)
	} else {
		err = loadFromDataDir(cfg, az.Authorizer)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark authz explain:", err)
		return 1
	}
	rc := &authz.RequestContext{Principal: p, Mechanism: *mechanism, Listener: *listener, ClientAddr: *host,
		ClientID: *clientID, ClientSoftwareName: "bulwark-authz-explain", ClientSoftwareVersion: version,
		SecurityProtocol: cfg.SecurityProtocolMap[*listener], RequestID: "explain"}
	d := authz.Explain(az.Authorizer, rc, authz.Action{Operation: op, Resource: res[0], ReferenceCount: 1, LogIfAllowed: true, LogIfDenied: true})
	verdict := "DENIED"
	if d.Allowed {
		verdict = "ALLOWED"
	}
	fmt.Fprintf(stdout, "decision: %s\nprincipal: %s\nhost: %s\noperation: %s\nresource: %s\nengine: %s\ndecided by: %s\n",
		verdict, p, *host, op, res[0], d.Engine, d.DecidedBy)
	return 0
}

// loadFromDataDir hands the stopped broker's ACLs and IAM policies to the engines.
func loadFromDataDir(cfg *config.Config, a authz.Authorizer) error {
	store, err := broker.OpenMetadata(cfg)
	if err != nil {
		return fmt.Errorf("%w (is the broker running? use --bootstrap-server)", err)
	}
	defer store.Close()
	st := store.State()
	if s, ok := authz.Find[authz.ACLStore](a); ok {
		s.SetACLs(st.ACLList())
	}
	if s, ok := authz.Find[authz.PolicyStore](a); ok {
		s.SetIAMPolicies(st.ClusterID, st.IAMPolicies)
	}
	return nil
}

// loadACLsOnline reads every ACL from a running broker with DescribeAcls.
func loadACLsOnline(cf *clientFlags, a authz.Authorizer) error {
	s, ok := authz.Find[authz.ACLStore](a)
	if !ok {
		return nil
	}
	opts, err := cf.options()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("DescribeAcls: %v%s", err, message(resp.ErrorMessage))
	}
	var bs []authz.Binding
	for _, r := range resp.Resources {
		for _, e := range r.ACLs {
			bs = append(bs, authz.Binding{
				Pattern: authz.Pattern{Type: authz.ResourceType(r.ResourceType), Name: r.ResourceName, PatternType: authz.PatternType(r.ResourcePatternType)},
				Entry: authz.Entry{Principal: e.Principal, Host: e.Host, Operation: authz.Operation(e.Operation),
					Permission: authz.Permission(e.PermissionType)}})
		}
	}
	s.SetACLs(bs)
	return nil
}
