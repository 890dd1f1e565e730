package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// KeyMetrics counts key-service calls (the local keyring or AWS KMS): how many, how long, how
// many failed. They arrive as hook events; there are a few per segment, never per record.
type KeyMetrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

var _ hook.KeyHook = (*KeyMetrics)(nil)

var _ prometheus.Collector = (*KeyMetrics)(nil)

// NewKeyMetrics makes the key-service families; register the result with NewRegistry.
func NewKeyMetrics() *KeyMetrics {
	k := &KeyMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_kms_requests_total",
			Help: "Key-service calls (GenerateDataKey, Decrypt, Rewrap) by provider, operation and result (ok or error).",
		}, []string{"provider", "operation", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bulwark_kms_request_duration_seconds",
			Help:    "Time each key-service call took, by provider and operation.",
			Buckets: []float64{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"provider", "operation"}),
	}
	return k
}

// Describe implements prometheus.Collector.
func (k *KeyMetrics) Describe(ch chan<- *prometheus.Desc) {
	k.calls.Describe(ch)
	k.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (k *KeyMetrics) Collect(ch chan<- prometheus.Metric) {
	k.calls.Collect(ch)
	k.duration.Collect(ch)
}

// OnKeyCall implements hook.KeyHook.
func (k *KeyMetrics) OnKeyCall(ev hook.KeyCall) {
	result := "ok"
	if ev.Err != "" {
		result = "error"
	}
	k.calls.WithLabelValues(ev.Provider, ev.Op, result).Inc()
	k.duration.WithLabelValues(ev.Provider, ev.Op).Observe(ev.Duration.Seconds())
}
