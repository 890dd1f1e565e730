package main

import (
	"context"

	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/stats"
	"github.com/bulwark-kafka/bulwark/metrics"
	"github.com/bulwark-kafka/bulwark/metrics/node"
)

// metricsWiring is what the metrics need before the broker exists (its counters and the key
// metrics' hook) and what they start once it runs.
type metricsWiring struct {
	cfg      *config.Config
	counters *stats.Broker
	keys     *metrics.KeyMetrics
}

// newMetricsWiring returns the broker options that make it count, or nothing when
// bulwark.metrics.listen is empty. A broken web configuration fails here, before the broker
// opens its storage.
func newMetricsWiring(cfg *config.Config) (*metricsWiring, []broker.Option, error) {
	if err := metrics.ValidateWebConfig(cfg.MetricsWebConfigFile); err != nil {
		return nil, nil, err
	}
	w := &metricsWiring{cfg: cfg}
	if cfg.MetricsListen == "" {
		return w, nil, nil
	}
	w.counters = stats.NewBroker(broker.APIName)
	w.keys = metrics.NewKeyMetrics()
	return w, []broker.Option{
		broker.WithStats(w.counters),
		broker.WithHook(hook.Registration{Name: "metrics", Overflow: hook.OverflowDrop, Key: w.keys}),
	}, nil
}

// start serves the broker's metrics and the host metrics on their listeners; the returned
// function stops both.
func (w *metricsWiring) start(srv *broker.Server, az *engine, logger *slog.Logger) (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	var endpoints []*metrics.Endpoint
	stop := func() {
		cancel()
		sctx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		for _, e := range endpoints {
			_ = e.Close(sctx)
		}
	}
	labels := prometheus.Labels{"cluster_id": srv.ClusterID(), "broker_id": strconv.Itoa(int(srv.BrokerID()))}
	if w.counters != nil {
		opts := metrics.Options{
			Level: func() metrics.Level {
				l, err := metrics.ParseLevel(srv.LiveConfig().MetricsLevel)
				if err != nil {
					return metrics.Default // the key's check admits only valid names
				}
				return l
			},
			Hooks:  srv.HookStats,
			Logger: logger,
		}
		if az != nil && az.opa != nil {
			opts.OPA = func() metrics.OPAStats {
				s := az.opa.Stats()
				return metrics.OPAStats{CacheHits: s.CacheHits, CacheMisses: s.CacheMisses, Errors: s.Errors, CacheEntries: s.CacheEntries}
			}
		}
		c := metrics.New(srv, opts)
		go c.Run(ctx)
		e, err := metrics.Serve(w.cfg.MetricsListen, metrics.NewRegistry(srv, c, w.keys), w.cfg.MetricsWebConfigFile, logger)
		if err != nil {
			stop()
			return nil, fmt.Errorf("bulwark.metrics.listen: %w", err)
		}
		endpoints = append(endpoints, e)
		logger.Info("metrics endpoint", "addr", e.Addr().String(), "level", srv.LiveConfig().MetricsLevel, "tls_auth", w.cfg.MetricsWebConfigFile != "")
	}
	if w.cfg.MetricsNodeListen != "" {
		reg := prometheus.NewRegistry()
		prometheus.WrapRegistererWith(labels, reg).MustRegister(node.New(w.cfg.LogDirs, logger.With("component", "node-metrics")))
		e, err := metrics.Serve(w.cfg.MetricsNodeListen, reg, w.cfg.MetricsWebConfigFile, logger)
		if err != nil {
			stop()
			return nil, fmt.Errorf("bulwark.metrics.node.listen: %w", err)
		}
		endpoints = append(endpoints, e)
		logger.Info("host metrics endpoint", "addr", e.Addr().String())
	}
	return stop, nil
}
