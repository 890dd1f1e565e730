package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// The exactly-once chain: records flow from "in" through transformers (franz-go
// GroupTransactSession: consume, produce, commit offsets in one transaction) into "out", while
// transformers join and leave the group; optionally the broker is SIGKILLed and restarted in
// the middle. A read_committed consumer then checks that every input record appears in the
// output exactly once.

const (
	eosInputs     = 3000
	eosPartitions = 4
)

// fixedPortListener picks a free port so the broker keeps its address across restarts (the
// clients keep running through the kill).
func fixedPortListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return "PLAINTEXT://127.0.0.1:" + strconv.Itoa(port)
}

// transformer is one member of the EOS group.
type transformer struct {
	name    string
	sess    *kgo.GroupTransactSession
	cancel  context.CancelFunc
	done    chan struct{}
	commits atomic.Int64
}

func startTransformer(t *testing.T, addr, name string, extra ...kgo.Opt) *transformer {
	t.Helper()
	sess, err := kgo.NewGroupTransactSession(append([]kgo.Opt{
		kgo.SeedBrokers(addr), kgo.ClientID(name),
		kgo.TransactionalID("eos-" + name), kgo.TransactionTimeout(20 * time.Second),
		kgo.ConsumerGroup("eos"), kgo.ConsumeTopics("in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.SessionTimeout(10 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.RequestRetries(100), kgo.RetryTimeout(60 * time.Second),
	}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := &transformer{name: name, sess: sess, cancel: cancel, done: make(chan struct{})}
	go tr.run(ctx)
	return tr
}

func (tr *transformer) run(ctx context.Context) {
	defer close(tr.done)
	for ctx.Err() == nil {
		fs := tr.sess.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		if err := tr.sess.Begin(); err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var produceErr error
		var mu sync.Mutex
		fs.EachRecord(func(r *kgo.Record) {
			out := &kgo.Record{Topic: "out", Key: r.Key, Value: append([]byte("out:"), r.Value...)}
			tr.sess.Produce(ctx, out, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					produceErr = err
					mu.Unlock()
				}
			})
		})
		end := kgo.TryCommit
		mu.Lock()
		if produceErr != nil {
			end = kgo.TryAbort
		}
		mu.Unlock()
		endCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		committed, err := tr.sess.End(endCtx, end)
		cancel()
		if err == nil && committed {
			tr.commits.Add(1)
		}
	}
}

func (tr *transformer) stop() {
	tr.cancel()
	<-tr.done
	tr.sess.Close()
}

// produceInputs writes eosInputs records in batches over a few seconds (so transformers join,
// leave and the broker is killed while inputs still arrive) and reports the first error.
func produceInputs(t *testing.T, addr string) <-chan error {
	t.Helper()
	cl := newClient(t, addr, kgo.RequestRetries(100), kgo.RetryTimeout(60*time.Second))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		const batch = 100
		for start := 0; start < eosInputs; start += batch {
			var recs []*kgo.Record
			for i := start; i < start+batch && i < eosInputs; i++ {
				recs = append(recs, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "k%05d", i), Value: fmt.Appendf(nil, "in-%05d", i)})
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				done <- fmt.Errorf("produce inputs from %d: %w", start, err)
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
		done <- nil
	}()
	return done
}

// readOutputs reads "out" with read_committed until every input has appeared or the deadline
// passes, and returns how often each value appeared.
func readOutputs(t *testing.T, addr string, deadline time.Duration) map[string]int {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics("out"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	seen := map[string]int{}
	total := 0
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for len(seen) < eosInputs && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Logf("fetch %s/%d: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; total++ })
	}
	// Drain a little longer so late duplicates would be seen too.
	quiet, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	for quiet.Err() == nil {
		fs := cl.PollFetches(quiet)
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; total++ })
	}
	t.Logf("read %d committed output records, %d distinct", total, len(seen))
	return seen
}

func checkExactlyOnce(t *testing.T, seen map[string]int) {
	t.Helper()
	missing, dup := 0, 0
	for i := range eosInputs {
		switch n := seen[fmt.Sprintf("out:in-%05d", i)]; {
		case n == 0:
			missing++
		case n > 1:
			dup++
		}
	}
	if missing > 0 || dup > 0 || len(seen) != eosInputs {
		t.Fatalf("exactly-once violated: %d inputs missing, %d duplicated, %d distinct outputs (want %d)", missing, dup, len(seen), eosInputs)
	}
}

func runEOSChain(t *testing.T, kill bool, clientOpts ...kgo.Opt) {
	b := startBroker(t, map[string]string{
		"listeners":                        fixedPortListener(t),
		"group.initial.rebalance.delay.ms": "0",
		"transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
	})
	addr := b.Addr()
	createTopic(t, addr, "in", eosPartitions, nil)
	createTopic(t, addr, "out", eosPartitions, nil)
	inputs := produceInputs(t, addr)

	w1 := startTransformer(t, addr, "w1", clientOpts...)
	waitFor(t, 30*time.Second, "w1 to commit a transaction", func() bool { return w1.commits.Load() > 0 })
	w2 := startTransformer(t, addr, "w2", clientOpts...)
	waitFor(t, 30*time.Second, "w2 to commit a transaction", func() bool { return w2.commits.Load() > 0 })
	if kill {
		b.kill(t)
		time.Sleep(500 * time.Millisecond)
		b.restart(t)
		if b.Addr() != addr {
			t.Fatalf("broker came back on %s, not %s", b.Addr(), addr)
		}
	}
	w1.stop() // leaves the group: w2 and w3 take over its partitions
	w3 := startTransformer(t, addr, "w3", clientOpts...)
	defer w3.stop()
	defer w2.stop()
	if err := <-inputs; err != nil {
		t.Fatal(err)
	}
	seen := readOutputs(t, addr, 120*time.Second)
	checkExactlyOnce(t, seen)
	t.Logf("transactions committed: w1 %d, w2 %d, w3 %d", w1.commits.Load(), w2.commits.Load(), w3.commits.Load())
}

// TestExactlyOnceChain runs the chain with transactions v2 (KIP-890 part 2, what franz-go uses
// against this broker by default) and with clients capped at Kafka 3.9's versions
// (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn without epoch bumps).
func TestExactlyOnceChain(t *testing.T) {
	t.Run("tv2", func(t *testing.T) { runEOSChain(t, false) })
	t.Run("kafka-3.9-clients", func(t *testing.T) { runEOSChain(t, false, kgo.MaxVersions(kversion.V3_9_0())) })
}

func TestExactlyOnceChainSurvivesSIGKILL(t *testing.T) { runEOSChain(t, true) }
