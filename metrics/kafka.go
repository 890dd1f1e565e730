package metrics

import (
	"strconv"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// Kafka's families, named as MSK's JMX exporter names them.
var (
	brokerTopic     = newJMX("kafka_server", "BrokerTopicMetrics", meterAttrs, "name", "topic")
	requestMeter    = newJMX("kafka_network", "RequestMetrics", meterAttrs, "name", "request", "version", "error")
	requestHist     = newJMX("kafka_network", "RequestMetrics", histogramAttrs, "name", "request", "version", "error")
	controllerValue = jmx("kafka_controller", "KafkaController", "Value", "name")
	replicaValue    = jmx("kafka_server", "ReplicaManager", "Value", "name")
	serverValue     = jmx("kafka_server", "KafkaServer", "Value", "name")
	logValue        = jmx("kafka_log", "Log", "Value", "name", "topic", "partition")
	logManagerValue = jmx("kafka_log", "LogManager", "Value", "name")
	groupManager    = jmx("kafka_coordinator_group", "GroupMetadataManager", "Value", "name")
	lagValue        = jmx("kafka_consumer_group", "ConsumerLagMetrics", "Value", "name", "groupId", "topic", "partition")
)

// socketServer is one of Kafka's socket-server-metrics attributes per listener; the JMX exporter
// turns the attribute's dashes into underscores.
func socketServer(attr string) *family {
	f := jmx("kafka_server", "socket_server_metrics", attr, "listener", "networkProcessor")
	return f
}

// groupCoordinator is one of Kafka 4's group-coordinator-metrics.
func groupCoordinator(attr string, labels ...string) *family {
	return jmx("kafka_server", "group_coordinator_metrics", attr, labels...)
}

var (
	connCount        = socketServer("connection_count")
	connCreationRate = socketServer("connection_creation_rate")
	connCreationTot  = socketServer("connection_creation_total")
	connCloseRate    = socketServer("connection_close_rate")
	connCloseTot     = socketServer("connection_close_total")
	authOKTot        = socketServer("successful_authentication_total")
	authOKRate       = socketServer("successful_authentication_rate")
	authFailTot      = socketServer("failed_authentication_total")
	authFailRate     = socketServer("failed_authentication_rate")
	reauthOKTot      = socketServer("successful_reauthentication_total")
	reauthOKRate     = socketServer("successful_reauthentication_rate")
	reauthFailTot    = socketServer("failed_reauthentication_total")
	reauthFailRate   = socketServer("failed_reauthentication_rate")

	gcGroupCount      = groupCoordinator("group_count", "protocol")
	gcConsumerCount   = groupCoordinator("consumer_group_count", "state")
	gcClassicCount    = groupCoordinator("classic_group_count", "state")
	gcOffsetCount     = groupCoordinator("offset_count")
	gcClassicRebal    = groupCoordinator("group_completed_rebalance_count")
	gcConsumerRebal   = groupCoordinator("consumer_group_rebalance_count")
	gcClassicRebalRt  = groupCoordinator("group_completed_rebalance_rate")
	gcConsumerRebalRt = groupCoordinator("consumer_group_rebalance_rate")
)

// topicMeters pairs each BrokerTopicMetrics meter name with its counter.
func topicMeters(t *stats.Topic) [8]struct {
	name string
	c    *atomic.Uint64
} {
	return [8]struct {
		name string
		c    *atomic.Uint64
	}{
		{"MessagesInPerSec", &t.MessagesIn},
		{"BytesInPerSec", &t.BytesIn},
		{"BytesOutPerSec", &t.BytesOut},
		{"BytesRejectedPerSec", &t.BytesRejected},
		{"TotalProduceRequestsPerSec", &t.TotalProduceRequests},
		{"FailedProduceRequestsPerSec", &t.FailedProduceRequests},
		{"TotalFetchRequestsPerSec", &t.TotalFetchRequests},
		{"FailedFetchRequestsPerSec", &t.FailedFetchRequests},
	}
}

// brokerTopicMetrics emits one topic's meters ("" for the all-topics aggregate, which the JMX
// exporter shows without a topic label: an empty label is the same series to Prometheus). With
// onlyBytes, just BytesInPerSec and BytesOutPerSec: what MSK's DEFAULT level has per topic.
func (c *Collector) brokerTopicMetrics(e *emitter, topic string, t *stats.Topic, onlyBytes bool) {
	for _, m := range topicMeters(t) {
		if onlyBytes && m.name != "BytesInPerSec" && m.name != "BytesOutPerSec" {
			continue
		}
		e.meter(brokerTopic, c.rates.read(m.c), m.name, topic)
	}
}

// requestMetrics emits RequestMetrics: at DEFAULT only the total time of Produce and Fetch
// (MSK's ProduceTotalTimeMsMean and its Fetch twin), from PER_BROKER every request type's
// rates, errors and time breakdown.
func (c *Collector) requestMetrics(e *emitter, level Level, b *stats.Broker) {
	b.Requests.Each(func(r *stats.Request) {
		if level < PerBroker {
			if r.Name != "Produce" && r.Name != "Fetch" && r.Name != stats.FetchConsumerName {
				return
			}
			s, n := c.rates.summary(&r.Stages[stats.StageTotal], histogramQuantiles)
			e.histogram(requestHist, n, s, ms, stats.StageNames[stats.StageTotal], r.Name, "", "")
			return
		}
		for v := range r.Versions {
			if r.Versions[v].Load() > 0 {
				e.meter(requestMeter, c.rates.read(&r.Versions[v]), "RequestsPerSec", r.Name, strconv.Itoa(v), "")
			}
		}
		r.EachError(func(code int16, n *atomic.Uint64) {
			e.meter(requestMeter, c.rates.read(n), "ErrorsPerSec", r.Name, "", errorName(code))
		})
		for st := range stats.NumStages {
			s, n := c.rates.summary(&r.Stages[st], histogramQuantiles)
			e.histogram(requestHist, n, s, ms, stats.StageNames[st], r.Name, "", "")
		}
	})
}

// errorName is Kafka's name of an error code (Errors enum), as ErrorsPerSec labels it.
func errorName(code int16) string {
	switch code {
	case 0:
		return "NONE"
	case stats.OtherErrorCode:
		return "UNKNOWN"
	}
	if err, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return err.Message
	}
	return "UNKNOWN_" + strconv.Itoa(int(code))
}

// socketServerMetrics emits the per-listener connection and authentication metrics. A broker
// without network processor threads reports each listener as processor 0.
func (c *Collector) socketServerMetrics(e *emitter, level Level, b *stats.Broker) {
	for _, l := range b.Listeners() {
		lv := []string{l.Name, "0"}
		// As Kafka's Selector: authentications count first logins (and connections on listeners
		// without authentication), re-authentications have their own.
		e.emit(connCount, float64(l.Open.Load()), lv...)
		e.emit(authOKTot, float64(l.AuthSucceeded.Load()), lv...)
		e.emit(authFailTot, float64(l.AuthFailed.Load()), lv...)
		if level < PerBroker {
			continue
		}
		for _, m := range []struct {
			total, rate *family
			c           *atomic.Uint64
		}{
			{connCreationTot, connCreationRate, &l.Created},
			{connCloseTot, connCloseRate, &l.Closed},
			{nil, authOKRate, &l.AuthSucceeded},
			{nil, authFailRate, &l.AuthFailed},
			{reauthOKTot, reauthOKRate, &l.ReauthSucceeded},
			{reauthFailTot, reauthFailRate, &l.ReauthFailed},
		} {
			v := c.rates.read(m.c)
			if m.total != nil {
				e.emit(m.total, float64(v.Count), lv...)
			}
			e.emit(m.rate, v.OneMinute, lv...)
		}
	}
}

// groupCoordinatorMetrics emits the group counts Kafka 4's group coordinator reports (and the
// older GroupMetadataManager gauges dashboards still use).
func (c *Collector) groupCoordinatorMetrics(e *emitter, groups []stats.GroupView) {
	byProtocol := map[string]int{"classic": 0, "consumer": 0}
	classic := map[string]int{"PreparingRebalance": 0, "CompletingRebalance": 0, "Stable": 0, "Dead": 0, "Empty": 0}
	consumer := map[string]int{"Empty": 0, "Assigning": 0, "Reconciling": 0, "Stable": 0, "Dead": 0}
	offsets := 0
	for _, g := range groups {
		byProtocol[g.Type]++
		if g.Type == "consumer" {
			consumer[g.State]++
		} else {
			classic[g.State]++
		}
		offsets += len(g.Offsets)
	}
	for p, n := range byProtocol {
		e.emit(gcGroupCount, float64(n), p)
	}
	for s, n := range classic {
		e.emit(gcClassicCount, float64(n), s)
	}
	for s, n := range consumer {
		e.emit(gcConsumerCount, float64(n), s)
	}
	e.emit(gcOffsetCount, float64(offsets))
	cl, co := c.src.Rebalances()
	e.emit(gcClassicRebal, float64(cl))
	e.emit(gcConsumerRebal, float64(co))
	c.rebalances[0].Store(cl)
	c.rebalances[1].Store(co)
	e.emit(gcClassicRebalRt, c.rates.read(&c.rebalances[0]).OneMinute)
	e.emit(gcConsumerRebalRt, c.rates.read(&c.rebalances[1]).OneMinute)

	e.emit(groupManager, float64(len(groups)), "NumGroups")
	e.emit(groupManager, float64(offsets), "NumOffsets")
	for _, s := range []string{"Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead"} {
		e.emit(groupManager, float64(classic[s]+consumer[s]), "NumGroups"+s)
	}
}
