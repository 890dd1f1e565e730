package share

import (
	"bytes"
	"testing"
)

// FuzzRestore feeds arbitrary journal entries to Restore: it never panics, a refused entry
// leaves no state, and an accepted share-partition state encodes back to a value that restores
// to the same state.
func FuzzRestore(f *testing.F) {
	f.Add([]byte(`sharepart/["g","t",0]`), []byte(`{"version":1,"start":5,"runs":[[5,7,2,1],[8,8,0,3]]}`))
	f.Add([]byte(`sharegroup/["g"]`), []byte(`{"epoch":3,"members":[{"id":"m","client_id":"c","client_host":"h","topics":["t"],"epoch":3}]}`))
	f.Add([]byte(`sharepart/["g","t",1]`), []byte(`{"version":1,"start":0,"runs":[[0,9223372036854775806,0,0]]}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		c := New(Config{}, nil)
		if err := c.Restore(key, value); err != nil {
			if len(c.parts) != 0 || len(c.groups) != 0 {
				t.Fatalf("a refused entry left state: %d partitions, %d groups", len(c.parts), len(c.groups))
			}
			return
		}
		for k, p := range c.parts {
			enc := p.encodeLocked()
			q := &partition{group: k.group, topic: k.topic, index: k.partition}
			if err := q.restore(enc, c.cfg.PartitionMaxLocks); err != nil {
				t.Fatalf("re-restoring %s: %v", enc, err)
			}
			if again := q.encodeLocked(); !bytes.Equal(enc, again) {
				t.Fatalf("state changed across a round trip: %s then %s", enc, again)
			}
		}
	})
}
