package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// Endpoint is one HTTP listener serving a registry at /metrics, with TLS and basic
// authentication from an exporter-toolkit web configuration file (the --web.config.file of
// Prometheus's own exporters) when one is given.
type Endpoint struct {
	ln        net.Listener
	webConfig string
	srv       *http.Server // set by Serve
	done      chan error
}

// ValidateWebConfig checks an exporter-toolkit web configuration file, so a broken one fails
// start-up rather than the first scrape.
func ValidateWebConfig(path string) error {
	if path == "" {
		return nil
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("metrics: web configuration %s: %w", path, err)
	}
	return nil
}

// maxScrapeTime bounds one scrape, so a stuck client cannot hold a connection for ever.
const maxScrapeTime = 60 * time.Second

// Listen binds addr for an endpoint (before the broker opens its storage, so a port in use
// fails start-up at once) and checks the web configuration file. Serve starts answering.
func Listen(addr, webConfigFile string) (*Endpoint, error) {
	if err := ValidateWebConfig(webConfigFile); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	return &Endpoint{ln: ln, webConfig: webConfigFile, done: make(chan error, 1)}, nil
}

// Serve answers scrapes of the gatherer's metrics at /metrics until Close. A failure of the
// server is logged when it happens.
func (e *Endpoint) Serve(g prometheus.Gatherer, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       maxScrapeTime,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		_, _ = fmt.Fprintln(w, "Bulwark metrics: /metrics")
	})
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: maxScrapeTime + 5*time.Second}
	if e.webConfig == "" && !isLoopback(e.ln.Addr()) {
		logger.Warn("metrics endpoint is reachable beyond this host without TLS or authentication (bulwark.metrics.web.config.file)",
			"addr", e.ln.Addr().String())
	}
	systemd := false
	addr := e.ln.Addr().String()
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: &systemd, WebConfigFile: &e.webConfig}
	go func() {
		err := web.Serve(e.ln, e.srv, flags, logger)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics endpoint stopped", "addr", addr, "err", err)
		}
		e.done <- err
	}()
}

// isLoopback reports whether a listener address is on loopback only.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// Addr is the address the endpoint listens on.
func (e *Endpoint) Addr() net.Addr { return e.ln.Addr() }

// Close stops the endpoint (or releases the port of one never served), letting scrapes in
// progress finish until ctx ends.
func (e *Endpoint) Close(ctx context.Context) error {
	if e.srv == nil {
		return e.ln.Close()
	}
	err := e.srv.Shutdown(ctx)
	if serveErr := <-e.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
