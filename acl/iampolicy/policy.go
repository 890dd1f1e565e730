package iampolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Document is a parsed, validated policy document.
type Document struct {
	Version    string
	Statements []Statement
}

// Statement is one statement of a document.
type Statement struct {
	Sid        string
	Effect     string // "Allow" or "Deny"
	Actions    []string
	Resources  []string
	Conditions []condition
}

// condition is one (operator, key, values) test; all of a statement's conditions must hold.
type condition struct {
	op     string
	key    string
	values []string
	nets   []*net.IPNet // for IpAddress and NotIpAddress
}

// rawDocument is the JSON shape; Action, Resource and condition values may be a string or a
// list, as in IAM.
type rawDocument struct {
	Version   string          `json:"Version"`
	Statement json.RawMessage `json:"Statement"`
	ID        string          `json:"Id"`
}

type rawStatement struct {
	Sid       string                                `json:"Sid"`
	Effect    string                                `json:"Effect"`
	Action    stringList                            `json:"Action"`
	Resource  stringList                            `json:"Resource"`
	Condition map[string]map[string]json.RawMessage `json:"Condition"`
	// Fields IAM has that this engine does not evaluate: refused rather than ignored.
	NotAction   json.RawMessage `json:"NotAction"`
	NotResource json.RawMessage `json:"NotResource"`
	Principal   json.RawMessage `json:"Principal"`
}

// stringList accepts "x" or ["x", "y"].
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("must be a string or a list of strings")
	}
	*l = many
	return nil
}

// Supported condition operators, by the kind of value they compare.
var (
	stringOps = map[string]bool{"StringEquals": true, "StringNotEquals": true, "StringEqualsIgnoreCase": true,
		"StringNotEqualsIgnoreCase": true, "StringLike": true, "StringNotLike": true, "ArnEquals": true, "ArnLike": true,
		"ArnNotEquals": true, "ArnNotLike": true}
	ipOps   = map[string]bool{"IpAddress": true, "NotIpAddress": true}
	dateOps = map[string]bool{"DateEquals": true, "DateNotEquals": true, "DateLessThan": true, "DateLessThanEquals": true,
		"DateGreaterThan": true, "DateGreaterThanEquals": true}
	// conditionKeys maps each supported key to the operator family it takes.
	conditionKeys = map[string]map[string]bool{"aws:sourceip": ipOps, "aws:principalarn": stringOps,
		"aws:username": stringOps, "aws:currenttime": dateOps}
)

// Parse reads and validates a policy document. Anything it cannot evaluate exactly is an error.
func Parse(data []byte) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var raw rawDocument
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("iam policy: %w", err)
	}
	if raw.Version != "2012-10-17" && raw.Version != "2008-10-17" {
		return nil, fmt.Errorf("iam policy: Version must be \"2012-10-17\" (got %q)", raw.Version)
	}
	var stmts []rawStatement
	if len(raw.Statement) > 0 && raw.Statement[0] == '{' {
		var one rawStatement
		if err := strictUnmarshal(raw.Statement, &one); err != nil {
			return nil, fmt.Errorf("iam policy: Statement: %w", err)
		}
		stmts = []rawStatement{one}
	} else if err := strictUnmarshal(raw.Statement, &stmts); err != nil {
		return nil, fmt.Errorf("iam policy: Statement: %w", err)
	}
	if len(stmts) == 0 {
		return nil, errors.New("iam policy: no statements")
	}
	doc := &Document{Version: raw.Version}
	for i, rs := range stmts {
		st, err := parseStatement(rs)
		if err != nil {
			name := rs.Sid
			if name == "" {
				name = fmt.Sprintf("#%d", i)
			}
			return nil, fmt.Errorf("iam policy: statement %s: %w", name, err)
		}
		doc.Statements = append(doc.Statements, st)
	}
	return doc, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func parseStatement(rs rawStatement) (Statement, error) {
	st := Statement{Sid: rs.Sid, Effect: rs.Effect, Actions: rs.Action, Resources: rs.Resource}
	switch {
	case rs.Effect != "Allow" && rs.Effect != "Deny":
		return st, fmt.Errorf("Effect must be Allow or Deny (got %q)", rs.Effect)
	case rs.NotAction != nil || rs.NotResource != nil:
		return st, errors.New("NotAction and NotResource are not supported")
	case rs.Principal != nil:
		return st, errors.New("Principal belongs in resource policies; an identity policy applies to the principal it is attached to")
	case len(rs.Action) == 0:
		return st, errors.New("no Action")
	case len(rs.Resource) == 0:
		return st, errors.New("no Resource")
	}
	for _, a := range rs.Action {
		svc, _, ok := strings.Cut(a, ":")
		if a != "*" && (!ok || !strings.EqualFold(svc, "kafka-cluster")) {
			return st, fmt.Errorf("action %q is not a kafka-cluster:* action", a)
		}
	}
	for _, r := range rs.Resource {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return st, fmt.Errorf("resource %q is not an ARN or *", r)
		}
	}
	for op, keys := range rs.Condition {
		baseOp := strings.TrimSuffix(op, "IfExists")
		for key, rawVals := range keys {
			family, ok := conditionKeys[strings.ToLower(key)]
			if !ok {
				return st, fmt.Errorf("condition key %q is not supported (aws:SourceIp, aws:PrincipalArn, aws:username, aws:CurrentTime)", key)
			}
			if !family[baseOp] {
				return st, fmt.Errorf("condition operator %q does not apply to %s", op, key)
			}
			var vals stringList
			if err := json.Unmarshal(rawVals, &vals); err != nil {
				return st, fmt.Errorf("condition %s %s: %v", op, key, err)
			}
			c := condition{op: op, key: strings.ToLower(key), values: vals}
			if ipOps[baseOp] {
				for _, v := range vals {
					if !strings.Contains(v, "/") {
						if strings.Contains(v, ":") {
							v += "/128"
						} else {
							v += "/32"
						}
					}
					_, n, err := net.ParseCIDR(v)
					if err != nil {
						return st, fmt.Errorf("condition %s: %q is not an IP address or CIDR", op, v)
					}
					c.nets = append(c.nets, n)
				}
			}
			if dateOps[baseOp] {
				for _, v := range vals {
					if _, err := time.Parse(time.RFC3339, v); err != nil {
						return st, fmt.Errorf("condition %s: %q is not an ISO 8601 time", op, v)
					}
				}
			}
			st.Conditions = append(st.Conditions, c)
		}
	}
	return st, nil
}
