package log

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestGroupCommit(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig(), 0)
	// Make each fsync take as long as a real disk's (≈4 ms) even on tmpfs, so that waiters
	// pile up behind it as they do in production.
	l.beforeFsync = func() { time.Sleep(3 * time.Millisecond) }
	const writers, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				res, err := l.Append(testBatch(2, 100, 1), AppendOptions{})
				if err == nil {
					err = l.Sync(context.Background(), res.LastOffset+1)
				}
				if err == nil && l.FlushedOffset() <= res.LastOffset {
					err = errors.New("Sync returned before the offset was durable")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	appends := int64(writers * each)
	if n := l.fsyncs.Load(); n > appends/4 || n == 0 {
		t.Fatalf("%d fsyncs for %d appends: group commit is not sharing fsyncs", n, appends)
	}
	t.Logf("%d fsyncs for %d appends", l.fsyncs.Load(), appends)
}

func TestSyncEdgeCases(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig(), 0)
	ctx := context.Background()
	if err := l.Sync(ctx, 0); err != nil || l.fsyncs.Load() != 0 {
		t.Fatalf("Sync of nothing: %v, %d fsyncs", err, l.fsyncs.Load())
	}
	mustAppend(t, l, testBatch(1, 1, 1), AppendOptions{})
	if err := l.Sync(ctx, 100); err != nil || l.FlushedOffset() != 1 {
		t.Fatalf("Sync beyond the end: %v, flushed %d", err, l.FlushedOffset())
	}
	before := l.fsyncs.Load()
	if err := l.Sync(ctx, 1); err != nil || l.fsyncs.Load() != before {
		t.Fatalf("Sync of durable data: %v, fsynced again", err)
	}
	// A waiter whose context ends gives up with the context's error.
	block := make(chan struct{})
	l.beforeFsync = func() { <-block }
	mustAppend(t, l, testBatch(1, 1, 1), AppendOptions{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Sync(cctx, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync with cancelled context: %v", err)
	}
	close(block)
	if err := l.Sync(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Rolling makes the old segment durable without the flusher.
	l.mu.Lock()
	mustAppendLocked := l.roll(time.Now())
	l.mu.Unlock()
	if mustAppendLocked != nil {
		t.Fatal(mustAppendLocked)
	}
	if l.FlushedOffset() != 2 {
		t.Fatalf("flushed %d after roll", l.FlushedOffset())
	}
}

func TestSyncAfterClose(t *testing.T) {
	l, err := Open(t.TempDir(), testConfig(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	block := make(chan struct{})
	l.beforeFsync = func() { <-block }
	mustAppend(t, l, testBatch(1, 1, 1), AppendOptions{})
	done := make(chan error, 1)
	go func() { done <- l.Sync(context.Background(), 1) }()
	deadline := time.Now().Add(5 * time.Second)
	for l.fsyncs.Load() == 0 && time.Now().Before(deadline) {
		select {
		case block <- struct{}{}: // let the flusher through once it is waiting
		case <-time.After(time.Millisecond):
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Sync: %v", err)
	}
	close(block)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(context.Background(), 1); err != nil {
		t.Fatalf("Sync of durable data after Close: %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// StartSync starts the fsync without waiting: a produce waiting on several partitions starts all
// of them before waiting on any, so the partitions' fsyncs overlap.
func TestStartSyncOverlapsLogs(t *testing.T) {
	const logs = 4
	var running atomicMax
	var ls []*Log
	for range logs {
		l := openTest(t, t.TempDir(), testConfig(), 0)
		l.beforeFsync = func() {
			running.add(1)
			time.Sleep(20 * time.Millisecond)
			running.add(-1)
		}
		ls = append(ls, l)
	}
	ends := make([]int64, logs)
	for i, l := range ls {
		res, err := l.Append(testBatch(2, 100, 1), AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ends[i] = res.LastOffset + 1
	}
	for i, l := range ls {
		l.StartSync(ends[i])
	}
	for i, l := range ls {
		if err := l.Sync(context.Background(), ends[i]); err != nil {
			t.Fatal(err)
		}
		if l.FlushedOffset() < ends[i] {
			t.Fatalf("log %d: flushed %d, want %d", i, l.FlushedOffset(), ends[i])
		}
	}
	// Each fsync sleeps 20 ms; had StartSync not started them, they could not overlap. The
	// check is on overlap, not on time, so a slow machine cannot fail it.
	if running.peakSeen() < 2 {
		t.Fatalf("at most %d fsyncs ran at once; StartSync did not start them side by side", running.peakSeen())
	}
	// A log already durable up to end gets no fsync.
	before := ls[0].fsyncs.Load()
	ls[0].StartSync(ends[0])
	time.Sleep(30 * time.Millisecond)
	if got := ls[0].fsyncs.Load(); got != before {
		t.Fatalf("StartSync on a durable log ran %d fsyncs", got-before)
	}
}

// atomicMax counts concurrent calls and remembers the largest count seen.
type atomicMax struct {
	mu        sync.Mutex
	cur, peak int
}

func (a *atomicMax) add(d int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cur += d
	a.peak = max(a.peak, a.cur)
}

func (a *atomicMax) peakSeen() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.peak
}
