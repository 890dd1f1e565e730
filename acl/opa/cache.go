package opa

import (
	"sync"
	"time"
)

// cache holds decisions of one policy generation. It is bounded: when full, an arbitrary entry
// (Go's map order) makes room, so memory stays bounded without bookkeeping on the hot path.
type cache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	gen     uint64
	entries map[[32]byte]cached
}

// maxDecidedBy bounds the "decided by" text kept per entry (a policy's reason may quote names
// of any length).
const maxDecidedBy = 512

type cached struct {
	allowed bool
	by      string
	expires time.Time
}

func newCache(max int, ttl time.Duration) *cache {
	return &cache{max: max, ttl: ttl, entries: map[[32]byte]cached{}}
}

// get returns a live entry of generation gen.
func (c *cache) get(gen uint64, key [32]byte, now time.Time) (cached, bool) {
	if c.max <= 0 {
		return cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return cached{}, false
	}
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		return cached{}, false
	}
	return e, true
}

// put stores a decision made under generation gen; one made under an older policy is dropped.
func (c *cache) put(gen uint64, key [32]byte, e cached, now time.Time) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	e.expires = now.Add(c.ttl)
	if len(e.by) > maxDecidedBy {
		e.by = e.by[:maxDecidedBy] + "…"
	}
	c.entries[key] = e
}

// reset drops every entry and moves to generation gen.
func (c *cache) reset(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen = gen
	clear(c.entries)
}

// len returns the number of entries.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
