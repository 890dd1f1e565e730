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
	ln   net.Listener
	srv  *http.Server
	done chan error
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

// Serve listens on addr and serves the gatherer's metrics at /metrics until Close.
func Serve(addr string, g prometheus.Gatherer, webConfigFile string, logger *slog.Logger) (*Endpoint, error) {
	if err := ValidateWebConfig(webConfigFile); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
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
	e := &Endpoint{ln: ln, done: make(chan error, 1),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: maxScrapeTime + 5*time.Second}}
	systemd := false
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: &systemd, WebConfigFile: &webConfigFile}
	go func() { e.done <- web.Serve(ln, e.srv, flags, logger) }()
	return e, nil
}

// Addr is the address the endpoint listens on.
func (e *Endpoint) Addr() net.Addr { return e.ln.Addr() }

// Close stops the endpoint, letting scrapes in progress finish until ctx ends.
func (e *Endpoint) Close(ctx context.Context) error {
	err := e.srv.Shutdown(ctx)
	if serveErr := <-e.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
