package opa

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// Options configure an Engine.
type Options struct {
	// Query is the boolean decision, data.kafka.authz.allow by default.
	Query string
	// TopicQuery, when set, is the topic policy: a set of violation messages, e.g.
	// data.kafka.topics.deny (see CheckTopic).
	TopicQuery string
	// CacheMax bounds the decision cache (0: no cache); CacheTTL is how long an entry lives.
	CacheMax int
	CacheTTL time.Duration
	// Timeout bounds one remote decision.
	Timeout time.Duration
	// AllowOnError allows when the decision cannot be had (opa.authorizer.allow.on.error).
	AllowOnError bool
	// ReloadCheck is how often the policy (directory or server) is checked for changes.
	ReloadCheck time.Duration
	Logger      *slog.Logger
}

func (o *Options) defaults() {
	if o.Query == "" {
		o.Query = "data.kafka.authz.allow"
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.ReloadCheck <= 0 {
		o.ReloadCheck = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// evaluator answers one input; reason is asked for only when the answer is a denial.
type evaluator interface {
	allow(ctx context.Context, input map[string]any) (bool, error)
	reason(ctx context.Context, input map[string]any) string
	// violations evaluates the topic policy.
	violations(ctx context.Context, input map[string]any) ([]string, error)
	// revision identifies the policy and data the evaluator answers with.
	revision() string
}

// Engine is the OPA authorizer.
type Engine struct {
	opts  Options
	kind  string // "embedded" or "remote"
	cache *cache
	// cur is the evaluator in use with its generation, which counts policy changes and tags
	// cache entries. One pointer, so a decision never pairs an old policy with a new generation.
	cur  atomic.Pointer[current]
	gens atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	// Counters for Stats.
	hits, misses, failures atomic.Uint64
}

// Stats are the engine's decision counters.
type Stats struct {
	// CacheHits and CacheMisses count decisions answered from the cache and evaluated.
	CacheHits, CacheMisses uint64
	// Errors counts decisions OPA could not make (an unreachable server, a timeout, an
	// evaluation error); opa.authorizer.allow.on.error decided those.
	Errors       uint64
	CacheEntries int
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{CacheHits: e.hits.Load(), CacheMisses: e.misses.Load(), Errors: e.failures.Load(), CacheEntries: e.cache.len()}
}

func newEngine(kind string, opts Options) *Engine {
	opts.defaults()
	return &Engine{opts: opts, kind: kind, cache: newCache(opts.CacheMax, opts.CacheTTL), stop: make(chan struct{})}
}

// current is one policy generation.
type current struct {
	ev  evaluator
	gen uint64
}

// swap makes ev the evaluator and drops every cached decision. Decisions still running under the
// old generation cannot refill the cache: put refuses entries of any other generation.
func (e *Engine) swap(ev evaluator) {
	gen := e.gens.Add(1)
	e.cache.reset(gen)
	e.cur.Store(&current{ev: ev, gen: gen})
}

// watch runs check every ReloadCheck until Close.
func (e *Engine) watch(check func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(e.opts.ReloadCheck)
		defer t.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-t.C:
				check()
			}
		}
	}()
}

// Close stops watching for policy changes.
func (e *Engine) Close() {
	e.once.Do(func() { close(e.stop) })
	e.wg.Wait()
}

// Revision identifies the policy in use.
func (e *Engine) Revision() string { return e.cur.Load().ev.revision() }

// CacheLen returns how many decisions are cached.
func (e *Engine) CacheLen() int { return e.cache.len() }

// maxParallel bounds concurrent remote decisions for one request.
const maxParallel = 16

// Authorize implements authz.Authorizer. All of a request's uncached decisions share one
// deadline (bulwark.opa.timeout.ms), and after the first failure the rest are not asked: a
// request naming thousands of topics waits at most the timeout for an unreachable server.
func (e *Engine) Authorize(rc *authz.RequestContext, actions []authz.Action) []authz.Decision {
	out := make([]authz.Decision, len(actions))
	cur := e.cur.Load()
	now := time.Now()
	var ctx context.Context // made at the first cache miss: a fully cached request needs none
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallel)
	for i, a := range actions {
		key := cacheKey(rc, a)
		if c, ok := e.cache.get(cur.gen, key, now); ok {
			e.hits.Add(1)
			out[i] = authz.Decision{Allowed: c.allowed, DecidedBy: c.by, Engine: "opa"}
			continue
		}
		e.misses.Add(1)
		if ctx == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.Background(), e.opts.Timeout)
			defer cancel()
		}
		if e.kind == "embedded" || len(actions) == 1 {
			out[i] = e.decide(ctx, cur, &key, rc, a, &failed)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = e.decide(ctx, cur, &key, rc, a, &failed)
		}()
	}
	wg.Wait()
	return out
}

// Explain implements authz.Explainer; it always evaluates (never the cache).
func (e *Engine) Explain(rc *authz.RequestContext, a authz.Action) authz.Decision {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
	defer cancel()
	return e.decide(ctx, e.cur.Load(), nil, rc, a, new(atomic.Pointer[error]))
}

// decide evaluates one action; failed carries the first failure of the request, after which
// nothing more is asked.
func (e *Engine) decide(ctx context.Context, cur *current, key *[32]byte, rc *authz.RequestContext, a authz.Action, failed *atomic.Pointer[error]) authz.Decision {
	ev := cur.ev
	if errp := failed.Load(); errp != nil {
		e.failures.Add(1)
		by := fmt.Sprintf("OPA (%s) not asked after an earlier failure in this request (%v); opa.authorizer.allow.on.error=%v", e.kind, *errp, e.opts.AllowOnError)
		return authz.Decision{Allowed: e.opts.AllowOnError, DecidedBy: by, Engine: "opa"}
	}
	in := input(rc, a)
	allowed, err := ev.allow(ctx, in)
	if err != nil {
		e.failures.Add(1)
		failed.CompareAndSwap(nil, &err)
		by := fmt.Sprintf("OPA (%s) could not decide: %v; opa.authorizer.allow.on.error=%v", e.kind, err, e.opts.AllowOnError)
		return authz.Decision{Allowed: e.opts.AllowOnError, DecidedBy: by, Engine: "opa"}
	}
	by := fmt.Sprintf("OPA %s=%v (policy revision %s)", e.opts.Query, allowed, ev.revision())
	if !allowed {
		if r := ev.reason(ctx, in); r != "" {
			by += ": " + r
		}
	}
	if key != nil {
		e.cache.put(cur.gen, *key, cached{allowed: allowed, by: by}, time.Now())
	}
	return authz.Decision{Allowed: allowed, DecidedBy: by, Engine: "opa"}
}

// reasonQuery is the sibling rule of the decision that may explain a denial:
// data.kafka.authz.allow -> data.kafka.authz.reason.
func reasonQuery(query string) string {
	if i := strings.LastIndexByte(query, '.'); i > 0 {
		return query[:i] + ".reason"
	}
	return ""
}

// reasonText renders a reason value: a string, or a set/array of strings.
func reasonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, 0, len(x))
		for _, p := range x {
			parts = append(parts, fmt.Sprint(p))
		}
		return strings.Join(parts, "; ")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// CheckTopic implements authz.TopicPolicy: the topic policy's violation messages for a change.
// Its input is {"operation", "topic": {"name", "numPartitions", "replicationFactor", "configs"},
// "validateOnly", "requestContext"} with requestContext as in authorization decisions.
func (e *Engine) CheckTopic(rc *authz.RequestContext, c authz.TopicChange) ([]string, error) {
	if e.opts.TopicQuery == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
	defer cancel()
	configs := map[string]any{}
	for k, v := range c.Configs {
		configs[k] = v
	}
	in := map[string]any{
		"operation":      c.API,
		"validateOnly":   c.ValidateOnly,
		"topic":          map[string]any{"name": c.Topic, "numPartitions": c.Partitions, "replicationFactor": c.ReplicationFactor, "configs": configs},
		"requestContext": input(rc, authz.Action{})["requestContext"],
	}
	return e.cur.Load().ev.violations(ctx, in)
}

// violationList reads a set or array of messages.
func violationList(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, m := range x {
			out = append(out, fmt.Sprint(m))
		}
		sort.Strings(out)
		return out, nil
	}
	return nil, fmt.Errorf("topic policy answered %T, not a set of messages", v)
}
