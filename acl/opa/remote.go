package opa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponse bounds what is read of an OPA server's answer.
const maxResponse = 4 << 20

// remote asks an OPA server's REST API.
type remote struct {
	client    *http.Client
	decision  string // the allow rule's URL
	reasonURL string
	topicURL  string
	rev       string
}

func (r *remote) violations(ctx context.Context, in map[string]any) ([]string, error) {
	if r.topicURL == "" {
		return nil, nil
	}
	res, defined, err := r.post(ctx, r.topicURL, in)
	if err != nil || !defined {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(res, &v); err != nil {
		return nil, err
	}
	return violationList(v)
}

func (r *remote) post(ctx context.Context, u string, in map[string]any) (json.RawMessage, bool, error) {
	body, err := json.Marshal(map[string]any{"input": in})
	if err != nil {
		return nil, false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("OPA server answered %s: %.200s", resp.Status, data)
	}
	// An undefined decision is 200 with no "result" key.
	var out struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, false, fmt.Errorf("OPA server answer is not JSON: %v", err)
	}
	return out.Result, out.Result != nil, nil
}

func (r *remote) allow(ctx context.Context, in map[string]any) (bool, error) {
	res, defined, err := r.post(ctx, r.decision, in)
	if err != nil || !defined {
		return false, err
	}
	var b bool
	if err := json.Unmarshal(res, &b); err != nil {
		return false, fmt.Errorf("decision is %.100s, not a boolean", res)
	}
	return b, nil
}

func (r *remote) reason(ctx context.Context, in map[string]any) string {
	if r.reasonURL == "" {
		return ""
	}
	res, defined, err := r.post(ctx, r.reasonURL, in)
	if err != nil || !defined {
		return ""
	}
	var v any
	_ = json.Unmarshal(res, &v)
	return reasonText(v)
}

func (r *remote) revision() string { return r.rev }

// NewRemote uses the OPA server decision URL (…/v1/data/kafka/authz/allow). It checks the
// server's policies and data every ReloadCheck and drops the cache when they change; the server
// need not be up at start (decisions fail, closed, until it is).
func NewRemote(decisionURL string, opts Options) (*Engine, error) {
	u, err := url.Parse(decisionURL)
	if err != nil || u.Host == "" || !strings.Contains(u.Path, "/v1/data") {
		return nil, fmt.Errorf("opa: %q is not an OPA decision URL (http://host:port/v1/data/<package path>/<rule>)", decisionURL)
	}
	e := newEngine("remote", opts)
	client := &http.Client{Timeout: e.opts.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: maxParallel}}
	r := &remote{client: client, decision: decisionURL}
	if i := strings.LastIndexByte(decisionURL, '/'); i > 0 {
		r.reasonURL = decisionURL[:i] + "/reason"
	}
	base := u.Scheme + "://" + u.Host
	if e.opts.TopicQuery != "" {
		r.topicURL = base + "/v1/data/" + strings.ReplaceAll(strings.TrimPrefix(e.opts.TopicQuery, "data."), ".", "/")
	}
	r.rev = serverRevision(client, base)
	e.swap(r)
	e.watch(func() {
		next := serverRevision(client, base)
		if next == "" || next == e.Revision() {
			return // unreachable: keep what we have (decisions fail closed on their own)
		}
		cp := *r
		cp.rev = next
		e.swap(&cp)
		e.opts.Logger.Info("OPA server policy or data changed; decision cache dropped", "server", base, "revision", next)
	})
	return e, nil
}

// serverRevision hashes the server's policies and data ("" when unreachable): OPA's REST API
// has no change counter outside bundle mode.
func serverRevision(client *http.Client, base string) string {
	h := sha256.New()
	for _, path := range []string{"/v1/policies", "/v1/data"} {
		resp, err := client.Get(base + path)
		if err != nil {
			return ""
		}
		_, err = io.Copy(h, io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return ""
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
