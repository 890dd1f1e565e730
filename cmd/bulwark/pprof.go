package main

// The profiling endpoint (bulwark.pprof.listen): Go's net/http/pprof handlers, for finding where
// the broker's time goes under load (docs/benchmarks.md). A heap profile holds whatever is in
// memory, secrets included, so the endpoint binds to loopback only and has no other route.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// pprofEndpoint is the bound profiling endpoint; nil when bulwark.pprof.listen is empty.
type pprofEndpoint struct {
	ln  net.Listener
	srv *http.Server
}

// listenPprof binds the endpoint and sets the block and mutex profile rates. It refuses an
// address that is not loopback.
func listenPprof(cfg *config.Config, logger *slog.Logger) (*pprofEndpoint, error) {
	if cfg.PprofListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.PprofListen)
	if err != nil {
		return nil, fmt.Errorf("bulwark.pprof.listen: %w", err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("bulwark.pprof.listen: %s is not a loopback address; profiles expose the broker's memory", cfg.PprofListen)
	}
	runtime.SetBlockProfileRate(int(cfg.PprofBlockProfileRate))
	runtime.SetMutexProfileFraction(int(cfg.PprofMutexProfileFraction))
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	e := &pprofEndpoint{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("profiling endpoint stopped", "err", err)
		}
	}()
	logger.Warn("profiling endpoint on: for performance work only", "addr", ln.Addr().String(),
		"block_profile_rate_ns", cfg.PprofBlockProfileRate, "mutex_profile_fraction", cfg.PprofMutexProfileFraction)
	return e, nil
}

func (e *pprofEndpoint) close() {
	if e == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
}
