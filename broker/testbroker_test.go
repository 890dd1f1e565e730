package broker

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// testBroker is a real broker listening on 127.0.0.1:0 with its data in a temporary directory.
type testBroker struct {
	*Server
	Addr string
	Dir  string
	cfg  *config.Config
	// shutdownMayFail is set by tests that leave a connection stuck on purpose.
	shutdownMayFail bool
}

// testSetup is what a test broker starts from.
type testSetup struct {
	cfg  *config.Config
	opts []Option
}

// testOption adjusts a test broker's set-up before it starts.
type testOption func(*testSetup)

// withConfig changes the configuration before the broker starts.
func withConfig(fn func(*config.Config)) testOption {
	return func(ts *testSetup) { fn(ts.cfg) }
}

// withOptions passes server options (hooks, mechanisms) to New.
func withOptions(opts ...Option) testOption {
	return func(ts *testSetup) { ts.opts = append(ts.opts, opts...) }
}

// newTestBroker starts a broker for one test and stops it when the test ends.
func newTestBroker(t testing.TB, opts ...testOption) *testBroker {
	t.Helper()
	return startTestBroker(t, t.TempDir(), opts...)
}

// startTestBroker starts a broker on an existing data directory (for restart tests).
func startTestBroker(t testing.TB, dir string, opts ...testOption) *testBroker {
	t.Helper()
	cfg := config.Default()
	cfg.Listeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 0}}
	cfg.AdvertisedListeners = nil
	cfg.LogDirs = []string{dir}
	ts := &testSetup{cfg: cfg}
	for _, o := range opts {
		o(ts)
	}
	level := slog.LevelWarn
	if os.Getenv("BULWARK_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	s, err := New(cfg, append([]Option{WithLogger(logger)}, ts.opts...)...)
	if err != nil {
		t.Fatalf("new broker: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("start broker: %v", err)
	}
	tb := &testBroker{Server: s, Addr: s.Addr().String(), Dir: dir, cfg: cfg}
	t.Cleanup(func() { tb.stop(t) })
	return tb
}

// stop drains the broker; calling it twice is harmless.
func (tb *testBroker) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tb.Shutdown(ctx); err != nil && !tb.shutdownMayFail {
		t.Errorf("shutdown: %v", err)
	}
}

// Client returns a franz-go client for the broker, closed when the test ends.
func (tb *testBroker) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(tb.Addr), kgo.RetryTimeout(10 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns a kadm client for the broker.
func (tb *testBroker) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(tb.Client(t))
}

// testContext is a context bounded so a hung broker fails the test instead of the suite.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// listenerAddr returns the bound address of the named listener.
func (tb *testBroker) listenerAddr(t testing.TB, name string) string {
	t.Helper()
	for _, l := range tb.listeners {
		if l.cfg.Name == name {
			return l.ln.Addr().String()
		}
	}
	t.Fatalf("no listener %s", name)
	return ""
}
