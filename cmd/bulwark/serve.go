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

	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
)

// cmdServe runs the broker until SIGTERM or SIGINT, then drains: in-flight requests are
// answered and every log is synced before the process exits.
func cmdServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "server.properties file (Kafka syntax and key names)")
	logLevel := fs.String("log-level", "info", "broker log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "broker log format: text or json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		return 2
	}
	cfg := config.Default()
	if *path != "" {
		if cfg, err = config.Load(*path); err != nil {
			fmt.Fprintln(stderr, "bulwark: invalid configuration:", err)
			return 1
		}
	}
	// Before anything is logged as listening: a SIGTERM that arrives during start-up must drain,
	// not kill the process with the default action.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	srv, err := broker.New(cfg, broker.WithLogger(logger))
	if err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(stderr, "bulwark:", err)
		_ = srv.Shutdown(context.Background())
		return 1
	}
	got := <-sig
	logger.Info("shutting down", "signal", got.String(), "timeout", cfg.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}
