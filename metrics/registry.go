package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// NewRegistry returns a registry holding the broker's collector, the extra collectors (the key
// metrics), and the Go runtime and process collectors (open files, memory, CPU), every series
// labelled with the cluster id and broker id so one Prometheus can watch many brokers and
// clusters.
func NewRegistry(src stats.Source, c *Collector, extra ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c) // labels its own series (identity)
	labelled := prometheus.WrapRegistererWith(identity(src), reg)
	labelled.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	labelled.MustRegister(extra...)
	return reg
}

// identity is the labels every series carries: the cluster id and the broker id.
func identity(src stats.Source) prometheus.Labels {
	return prometheus.Labels{"cluster_id": src.ClusterID(), "broker_id": strconv.Itoa(int(src.BrokerID()))}
}
