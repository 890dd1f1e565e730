package iampolicy

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// Options name the cluster in ARNs.
type Options struct {
	Region      string // bulwark.iam.region
	Account     string // bulwark.iam.account.id
	ClusterName string // bulwark.cluster.name
	// Now is the clock for aws:CurrentTime; nil means time.Now.
	Now func() time.Time
}

// Engine is the IAM-style authorizer.
type Engine struct {
	opts  Options
	state atomic.Pointer[policyState]
}

// policyState is one immutable set of attached policies.
type policyState struct {
	clusterUUID string
	byPrincipal map[string][]attached
	// broken names principals with an attached document that does not parse: they are denied
	// everything (a lost Deny must not turn into an Allow).
	broken map[string]string
}

type attached struct {
	name string
	doc  *Document
}

// New returns an engine with no policies: every IAM principal is denied.
func New(opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{opts: opts}
	e.state.Store(&policyState{})
	return e
}

// SetIAMPolicies implements authz.PolicyStore: principal ARN -> policy name -> document.
func (e *Engine) SetIAMPolicies(clusterID string, policies map[string]map[string]json.RawMessage) {
	st := &policyState{clusterUUID: clusterID, byPrincipal: map[string][]attached{}, broken: map[string]string{}}
	for arn, docs := range policies {
		names := make([]string, 0, len(docs))
		for n := range docs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			d, err := Parse(docs[n])
			if err != nil {
				st.broken[arn] = fmt.Sprintf("attached policy %q cannot be evaluated: %v", n, err)
				continue
			}
			st.byPrincipal[arn] = append(st.byPrincipal[arn], attached{name: n, doc: d})
		}
	}
	e.state.Store(st)
}

// Action returns the kafka-cluster action a Kafka operation on a resource type needs (MSK's
// table); ok is false where MSK has none (CLUSTER_ACTION: broker-to-broker only).
func Action(op authz.Operation, rt authz.ResourceType) (string, bool) {
	var a string
	switch rt {
	case authz.ResourceCluster:
		a = map[authz.Operation]string{authz.OpDescribe: "DescribeCluster", authz.OpAlter: "AlterCluster",
			authz.OpDescribeConfigs: "DescribeClusterDynamicConfiguration", authz.OpAlterConfigs: "AlterClusterDynamicConfiguration",
			authz.OpIdempotentWrite: "WriteDataIdempotently"}[op]
		// CREATE on the cluster has no action of its own: MSK's CreateTopic names the topic, so
		// the broker's per-topic check decides (a Deny on some topic names must hold).
	case authz.ResourceTopic:
		a = map[authz.Operation]string{authz.OpCreate: "CreateTopic", authz.OpDescribe: "DescribeTopic", authz.OpAlter: "AlterTopic",
			authz.OpDelete: "DeleteTopic", authz.OpDescribeConfigs: "DescribeTopicDynamicConfiguration",
			authz.OpAlterConfigs: "AlterTopicDynamicConfiguration", authz.OpRead: "ReadData", authz.OpWrite: "WriteData"}[op]
	case authz.ResourceGroup:
		a = map[authz.Operation]string{authz.OpDescribe: "DescribeGroup", authz.OpRead: "AlterGroup", authz.OpDelete: "DeleteGroup"}[op]
	case authz.ResourceTransactionalID:
		a = map[authz.Operation]string{authz.OpDescribe: "DescribeTransactionalId", authz.OpWrite: "AlterTransactionalId"}[op]
	}
	if a == "" {
		return "", false
	}
	return "kafka-cluster:" + a, true
}

// ARN returns the resource ARN of a Kafka resource.
func (e *Engine) ARN(clusterUUID string, r authz.Resource) string {
	prefix := "arn:aws:kafka:" + e.opts.Region + ":" + e.opts.Account + ":"
	tail := e.opts.ClusterName + "/" + clusterUUID
	switch r.Type {
	case authz.ResourceTopic:
		return prefix + "topic/" + tail + "/" + r.Name
	case authz.ResourceGroup:
		return prefix + "group/" + tail + "/" + r.Name
	case authz.ResourceTransactionalID:
		return prefix + "transactional-id/" + tail + "/" + r.Name
	}
	return prefix + "cluster/" + tail
}

// Authorize implements authz.Authorizer.
func (e *Engine) Authorize(rc *authz.RequestContext, actions []authz.Action) []authz.Decision {
	st := e.state.Load()
	out := make([]authz.Decision, len(actions))
	for i, a := range actions {
		out[i] = e.decide(st, rc, a)
	}
	return out
}

// Explain implements authz.Explainer.
func (e *Engine) Explain(rc *authz.RequestContext, a authz.Action) authz.Decision {
	return e.decide(e.state.Load(), rc, a)
}

func deny(why string) authz.Decision {
	return authz.Decision{Allowed: false, DecidedBy: why, Engine: "iam"}
}

func (e *Engine) decide(st *policyState, rc *authz.RequestContext, a authz.Action) authz.Decision {
	arn := rc.Principal.Name
	if why, bad := st.broken[arn]; bad {
		return deny(why)
	}
	action, ok := Action(a.Operation, a.Resource.Type)
	if !ok {
		return deny(fmt.Sprintf("no IAM action corresponds to %s on %s", a.Operation, a.Resource.Type))
	}
	addr := rc.ClientAddr
	if i := strings.IndexByte(addr, '%'); i >= 0 {
		addr = addr[:i] // an IPv6 zone (fe80::1%eth0) is not part of the address
	}
	ctx := evalContext{principalARN: arn, sourceIP: net.ParseIP(addr), now: e.opts.Now()}
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		ctx.username = arn[i+1:]
	}
	clusterARN := e.ARN(st.clusterUUID, authz.Cluster)
	if d := e.evaluate(st, arn, "kafka-cluster:Connect", clusterARN, ctx); !d.Allowed {
		return d
	}
	return e.evaluate(st, arn, action, e.ARN(st.clusterUUID, a.Resource), ctx)
}

// evalContext carries the values conditions read.
type evalContext struct {
	principalARN, username string
	sourceIP               net.IP
	now                    time.Time
}

// evaluate applies IAM's rules for one action on one resource ARN.
func (e *Engine) evaluate(st *policyState, principal, action, resource string, ctx evalContext) authz.Decision {
	var allow string
	for _, at := range st.byPrincipal[principal] {
		for i, s := range at.doc.Statements {
			if !s.matches(action, resource, ctx) {
				continue
			}
			sid := s.Sid
			if sid == "" {
				sid = fmt.Sprintf("#%d", i)
			}
			by := fmt.Sprintf("IAM policy %q statement %s (%s %s on %s)", at.name, sid, s.Effect, action, resource)
			if s.Effect == "Deny" {
				return deny(by)
			}
			if allow == "" {
				allow = by
			}
		}
	}
	if allow != "" {
		return authz.Decision{Allowed: true, DecidedBy: allow, Engine: "iam"}
	}
	return deny(fmt.Sprintf("no IAM statement allows %s on %s (default deny)", action, resource))
}

func (s *Statement) matches(action, resource string, ctx evalContext) bool {
	hit := false
	for _, a := range s.Actions {
		if glob(strings.ToLower(a), strings.ToLower(action)) {
			hit = true
			break
		}
	}
	if !hit {
		return false
	}
	hit = false
	for _, r := range s.Resources {
		if glob(r, resource) {
			hit = true
			break
		}
	}
	if !hit {
		return false
	}
	for _, c := range s.Conditions {
		if !c.holds(ctx) {
			return false
		}
	}
	return true
}

// holds evaluates one condition: true when any value matches (IAM's OR within a key), negated
// for the Not operators.
func (c condition) holds(ctx evalContext) bool {
	op := strings.TrimSuffix(c.op, "IfExists")
	switch c.key {
	case "aws:sourceip":
		in := false
		for _, n := range c.nets {
			if ctx.sourceIP != nil && n.Contains(ctx.sourceIP) {
				in = true
			}
		}
		if op == "NotIpAddress" {
			return !in // with no address, a negated operator holds, as in AWS
		}
		return in
	case "aws:currenttime":
		if op == "DateNotEquals" { // true only when the time differs from every value
			for _, v := range c.values {
				t, _ := time.Parse(time.RFC3339, v)
				if ctx.now.Equal(t) {
					return false
				}
			}
			return true
		}
		for _, v := range c.values {
			t, _ := time.Parse(time.RFC3339, v)
			var ok bool
			switch op {
			case "DateEquals":
				ok = ctx.now.Equal(t)
			case "DateNotEquals":
				ok = !ctx.now.Equal(t)
			case "DateLessThan":
				ok = ctx.now.Before(t)
			case "DateLessThanEquals":
				ok = !ctx.now.After(t)
			case "DateGreaterThan":
				ok = ctx.now.After(t)
			case "DateGreaterThanEquals":
				ok = !ctx.now.Before(t)
			}
			if ok {
				return true
			}
		}
		return false
	}
	val := ctx.principalARN
	if c.key == "aws:username" {
		val = ctx.username
	}
	negate := strings.Contains(op, "Not")
	base := strings.Replace(op, "Not", "", 1)
	any := false
	for _, v := range c.values {
		var ok bool
		switch base {
		case "StringEquals", "ArnEquals":
			ok = v == val
		case "StringEqualsIgnoreCase":
			ok = strings.EqualFold(v, val)
		case "StringLike", "ArnLike":
			ok = glob(v, val)
		}
		if ok {
			any = true
			break
		}
	}
	return any != negate
}

// glob matches IAM wildcards: * any run of characters, ? one character.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
