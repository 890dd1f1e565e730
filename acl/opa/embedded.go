package opa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
)

// embedded evaluates prepared queries compiled from a policy directory.
type embedded struct {
	allowQ, reasonQ rego.PreparedEvalQuery
	hasReason       bool
	topicQ          *rego.PreparedEvalQuery
	rev             string
}

func (m *embedded) violations(ctx context.Context, in map[string]any) ([]string, error) {
	if m.topicQ == nil {
		return nil, nil
	}
	rs, err := m.topicQ.Eval(ctx, rego.EvalInput(in))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil // undefined: no violation
	}
	return violationList(rs[0].Expressions[0].Value)
}

func (m *embedded) allow(ctx context.Context, in map[string]any) (bool, error) {
	rs, err := m.allowQ.Eval(ctx, rego.EvalInput(in))
	if err != nil {
		return false, err
	}
	// An undefined decision is a denial (the plugin's default-deny).
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return false, nil
	}
	b, ok := rs[0].Expressions[0].Value.(bool)
	if !ok {
		return false, fmt.Errorf("decision is %T, not a boolean", rs[0].Expressions[0].Value)
	}
	return b, nil
}

func (m *embedded) reason(ctx context.Context, in map[string]any) string {
	if !m.hasReason {
		return ""
	}
	rs, err := m.reasonQ.Eval(ctx, rego.EvalInput(in))
	if err != nil || len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return ""
	}
	return reasonText(rs[0].Expressions[0].Value)
}

func (m *embedded) revision() string { return m.rev }

// NewEmbedded compiles the policy directory and starts watching it.
func NewEmbedded(dir string, opts Options) (*Engine, error) {
	e := newEngine("embedded", opts)
	rev, err := dirRevision(dir)
	if err != nil {
		return nil, err
	}
	ev, err := compile(dir, e.opts.Query, e.opts.TopicQuery, rev)
	if err != nil {
		return nil, err
	}
	e.swap(ev)
	e.opts.Logger.Info("OPA policy loaded", "dir", dir, "revision", rev)
	e.watch(func() {
		next, err := dirRevision(dir)
		if err != nil {
			e.opts.Logger.Error("OPA policy directory unreadable; keeping the policy in use", "dir", dir, "err", err)
			return
		}
		if next == e.Revision() {
			return
		}
		ev, err := compile(dir, e.opts.Query, e.opts.TopicQuery, next)
		if err != nil {
			e.opts.Logger.Error("OPA policy change does not compile; keeping the policy in use", "dir", dir, "revision", next, "err", err)
			return
		}
		e.swap(ev)
		e.opts.Logger.Info("OPA policy reloaded; decision cache dropped", "dir", dir, "revision", next)
	})
	return e, nil
}

// skipTests leaves `opa test` files out of the policy.
var skipTests = loader.GlobExcludeName("*_test.rego", 0)

// compile loads the directory's policies and data into prepared queries.
func compile(dir, query, topicQuery, rev string) (*embedded, error) {
	ctx := context.Background()
	allowQ, err := rego.New(rego.Query(query), rego.Load([]string{dir}, skipTests)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("opa: compile %s: %w", dir, err)
	}
	m := &embedded{allowQ: allowQ, rev: rev}
	if rq := reasonQuery(query); rq != "" {
		if q, err := rego.New(rego.Query(rq), rego.Load([]string{dir}, skipTests)).PrepareForEval(ctx); err == nil {
			m.reasonQ, m.hasReason = q, true
		}
	}
	if topicQuery != "" {
		q, err := rego.New(rego.Query(topicQuery), rego.Load([]string{dir}, skipTests)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("opa: compile topic policy %s: %w", topicQuery, err)
		}
		m.topicQ = &q
	}
	return m, nil
}

// dirRevision hashes the names, sizes, modification times and contents of the policy and data
// files under dir, so any change (an edit, a new file, a removed one) gives a new revision.
func dirRevision(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".rego") || strings.HasSuffix(path, ".json") ||
			strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("opa: policy directory: %w", err)
	}
	if len(files) == 0 {
		return "", errors.New("opa: no .rego files in " + dir)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
