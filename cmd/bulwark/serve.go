package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/logship"
)

// cmdServe runs the broker until SIGTERM or SIGINT, then drains: in-flight requests are
// answered and every log is synced before the process exits. SIGHUP re-reads the configuration
// file and applies the keys that may change at runtime.
func cmdServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "server.properties file (Kafka syntax and key names)")
	logLevel := fs.String("log-level", "", "broker log level: debug, info, warn, error (default: bulwark.log.level)")
	logFormat := fs.String("log-format", "auto", "stderr log format: text, json, or auto (text on a terminal, JSON otherwise)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	cfg := config.Default()
	if *path != "" {
		if cfg, err = config.Load(*path); err != nil {
			fmt.Fprintln(stderr, "bulwark: invalid configuration:", err)
			return 1
		}
	}
	blog, err := newBrokerLog(cfg, stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		return 2
	}
	defer blog.close()
	logger := blog.logger
	// Before anything is logged as listening: a SIGTERM that arrives during start-up must drain,
	// not kill the process with the default action.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	opts := []broker.Option{broker.WithLogger(logger)}
	mw, metricOpts, err := newMetricsWiring(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		return 1
	}
	defer mw.close()
	opts = append(opts, metricOpts...)
	pp, err := listenPprof(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		return 1
	}
	defer pp.close()
	aw, auditOpts, err := newAuditWiring(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		return 1
	}
	defer aw.close() // runs after the broker has drained its hooks
	opts = append(opts, auditOpts...)
	az, err := newAuthorizer(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		return 1
	}
	if az != nil {
		defer az.close()
		opts = append(opts, broker.WithAuthorizer(az.Authorizer))
		if az.topicPolicy != nil {
			opts = append(opts, broker.WithTopicPolicy(az.topicPolicy))
		}
	}
	srv, err := broker.New(cfg, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		return 1
	}
	if err := startServing(srv, cfg, aw, blog, mw, az); err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		_ = srv.Shutdown(context.Background())
		return 1
	}
	followCtx, stopFollow := context.WithCancel(context.Background())
	defer stopFollow()
	go blog.follow(followCtx, srv.LiveConfig)
	for {
		got := <-sig
		if got == syscall.SIGHUP {
			if *path == "" {
				logger.Warn("SIGHUP: no configuration file (--config) to reload")
				continue
			}
			_ = srv.ReloadFile(*path) // logs and records the outcome itself
			continue
		}
		logger.Info("shutting down", "signal", got.String(), "timeout", cfg.ShutdownTimeout)
		aw.stopTopic()
		return shutdown(srv, cfg.ShutdownTimeout, logger)
	}
}

// startServing starts the listeners, then what observes the running broker: the audit trail's
// lifecycle records and shippers, the broker log's shippers, and the metrics.
func startServing(srv *broker.Server, cfg *config.Config, aw *auditWiring, blog *brokerLog, mw *metricsWiring, az *engine) error {
	if err := srv.Start(); err != nil {
		return err
	}
	if err := aw.start(srv); err != nil {
		return err
	}
	if err := blog.ship(cfg, srv.ClusterID()); err != nil {
		return err
	}
	streams := map[*audit.Writer][]*logship.Shipper{}
	if aw.trail != nil {
		streams[aw.trail] = aw.shippers
	}
	if blog.file != nil {
		streams[blog.file] = blog.shippers
	}
	return mw.start(srv, az, aw.trail, shippingStats(streams), blog.logger)
}

// shutdownGrace is how long past bulwark.shutdown.timeout.ms the process waits for the drain to
// return before it exits anyway.
const shutdownGrace = 2 * time.Second

// shutdown drains the broker within timeout. The drain answers what it can and then closes
// connections and syncs logs; if something still holds it (a stuck disk, a hook that never
// returns), the process exits anyway once the deadline and a short grace have passed, so SIGTERM
// always ends the broker in bounded time. Acknowledged data is on disk already.
func shutdown(srv *broker.Server, timeout time.Duration, logger *slog.Logger) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			logger.Error("shutdown", "err", err)
			return 1
		}
		logger.Info("stopped")
		return 0
	case <-time.After(timeout + shutdownGrace):
		logger.Error("shutdown did not finish within bulwark.shutdown.timeout.ms; exiting anyway", "timeout", timeout)
		return 1
	}
}
