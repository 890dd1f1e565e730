package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/stats"
	"github.com/bulwark-kafka/bulwark/logship"
	"github.com/bulwark-kafka/bulwark/metrics"
	"github.com/bulwark-kafka/bulwark/metrics/node"
)

// metricsWiring is what the metrics need before the broker exists (their bound ports, the
// broker's counters and the key metrics' hook) and what they start once it runs.
type metricsWiring struct {
	cfg       *config.Config
	counters  *stats.Broker
	keys      *metrics.KeyMetrics
	brokerEP  *metrics.Endpoint // nil when bulwark.metrics.listen is empty
	nodeEP    *metrics.Endpoint // nil when bulwark.metrics.node.listen is empty
	cancelRun context.CancelFunc
	// emf is the stream of CloudWatch metric records and its shippers (nil when not published).
	emf         *audit.Writer
	emfShippers []*logship.Shipper
}

// newMetricsWiring binds the metrics endpoints and returns the broker options that make it
// count. It runs before the broker opens its storage, so a port in use or a broken web
// configuration fails start-up at once. close releases whatever it bound.
func newMetricsWiring(cfg *config.Config) (*metricsWiring, []broker.Option, error) {
	w := &metricsWiring{cfg: cfg}
	var err error
	if cfg.MetricsListen != "" {
		if w.brokerEP, err = metrics.Listen(cfg.MetricsListen, cfg.MetricsWebConfigFile); err != nil {
			return nil, nil, fmt.Errorf("bulwark.metrics.listen: %w", err)
		}
	}
	if cfg.MetricsNodeListen != "" {
		if w.nodeEP, err = metrics.Listen(cfg.MetricsNodeListen, cfg.MetricsWebConfigFile); err != nil {
			w.close()
			return nil, nil, fmt.Errorf("bulwark.metrics.node.listen: %w", err)
		}
	}
	if w.brokerEP == nil {
		return w, nil, nil
	}
	w.counters = stats.NewBroker(broker.APIName)
	w.keys = metrics.NewKeyMetrics()
	return w, []broker.Option{
		broker.WithStats(w.counters),
		broker.WithHook(hook.Registration{Name: "metrics", Overflow: hook.OverflowDrop, Key: w.keys}),
	}, nil
}

// start serves the broker's metrics and the host metrics on the bound ports.
func (w *metricsWiring) start(srv *broker.Server, az *engine, trail *audit.Writer, shipping func() []metrics.ShippingStats, logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancelRun = cancel
	identity := prometheus.Labels{"cluster_id": srv.ClusterID(), "broker_id": strconv.Itoa(int(srv.BrokerID()))}
	if w.brokerEP != nil {
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
		if trail != nil {
			opts.AuditRecords = trail.Seq
		}
		opts.Shipping = shipping
		if az != nil && az.opa != nil {
			opts.OPA = func() metrics.OPAStats {
				s := az.opa.Stats()
				return metrics.OPAStats{CacheHits: s.CacheHits, CacheMisses: s.CacheMisses, Errors: s.Errors, CacheEntries: s.CacheEntries}
			}
		}
		c := metrics.New(srv, opts)
		go c.Run(ctx)
		w.brokerEP.Serve(metrics.NewRegistry(srv, c, w.keys), logger)
		logger.Info("metrics endpoint", "addr", w.brokerEP.Addr().String(), "level", srv.LiveConfig().MetricsLevel,
			"tls_auth", w.cfg.MetricsWebConfigFile != "")
	}
	if err := w.startEMF(ctx, srv, logger); err != nil {
		return err
	}
	if w.nodeEP != nil {
		reg := prometheus.NewRegistry()
		prometheus.WrapRegistererWith(identity, reg).MustRegister(node.New(w.cfg.LogDirs, logger.With("component", "node-metrics")))
		w.nodeEP.Serve(reg, logger)
		logger.Info("host metrics endpoint", "addr", w.nodeEP.Addr().String())
	}
	return nil
}

// startEMF publishes CloudWatch Embedded Metric Format records when
// bulwark.metrics.cloudwatch.log.group is set: a collector at the CloudWatch level of its own,
// records written to a stream of files beside the data, shipped like the logs.
func (w *metricsWiring) startEMF(ctx context.Context, srv *broker.Server, logger *slog.Logger) error {
	cfg := w.cfg
	if cfg.MetricsCloudWatchLogGroup == "" || w.counters == nil {
		return nil
	}
	level, err := metrics.ParseLevel(cfg.MetricsCloudWatchLevel)
	if err != nil {
		return err
	}
	c := metrics.New(srv, metrics.Options{Level: func() metrics.Level { return level }, Logger: logger})
	go c.Run(ctx)
	dir := filepath.Join(cfg.LogDirs[0], "__bulwark_emf")
	kp, err := auditKeys(cfg)
	if err != nil {
		return fmt.Errorf("bulwark.metrics.cloudwatch.log.group: %w", err)
	}
	stream, err := audit.Open(audit.Options{Dir: dir, Stream: "emf", Plain: true, Keys: kp, Seal: kp != nil, Retention: 24 * time.Hour, Logger: logger})
	if err != nil {
		return fmt.Errorf("bulwark.metrics.cloudwatch.log.group: %w", err)
	}
	w.emf = stream
	cluster := cfg.ClusterName
	if cluster == "" {
		cluster = srv.ClusterID()
	}
	emf := metrics.NewEMF(metrics.NewRegistry(srv, c), metrics.EMFOptions{Namespace: cfg.MetricsCloudWatchNS, ClusterName: cluster,
		BrokerID: strconv.Itoa(int(srv.BrokerID())), Level: level, Interval: cfg.MetricsCloudWatchInterval, Write: stream.AppendLine, Logger: logger})
	go emf.Run(ctx)
	w.emfShippers, err = startShippers(cfg, shipTarget{stream: "emf", dir: dir, w: stream,
		ship: config.ShipConfig{CloudWatchLogGroup: cfg.MetricsCloudWatchLogGroup, CloudWatchStream: cfg.MetricsCloudWatchStream}}, srv.ClusterID(), logger)
	if err != nil {
		return err
	}
	logger.Info("CloudWatch metrics", "log_group", cfg.MetricsCloudWatchLogGroup, "level", level.String(), "namespace", cfg.MetricsCloudWatchNS)
	return nil
}

// close stops both endpoints (or releases ports never served) and the rate ticker.
func (w *metricsWiring) close() {
	if w.cancelRun != nil {
		w.cancelRun()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, e := range []*metrics.Endpoint{w.brokerEP, w.nodeEP} {
		if e != nil {
			_ = e.Close(ctx)
		}
	}
	if w.emf != nil {
		_ = w.emf.Close()
		for _, s := range w.emfShippers {
			s.Flush(ctx, w.emf.Seq())
			_ = s.Close(ctx)
		}
	}
}

// shippingStats reports the shippers of every stream, with how far each is behind its stream.
func shippingStats(streams map[*audit.Writer][]*logship.Shipper) func() []metrics.ShippingStats {
	return func() []metrics.ShippingStats {
		var out []metrics.ShippingStats
		for w, shippers := range streams {
			durable := w.DurableSeq()
			for _, s := range shippers {
				st := s.Stats()
				out = append(out, metrics.ShippingStats{Stream: st.Stream, Sink: st.Sink, Sent: st.Sent, Failed: st.Failed,
					Pending: durable - min(st.Position, durable)})
			}
		}
		return out
	}
}
