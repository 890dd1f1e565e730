package metrics

import (
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// ownFamilies are Bulwark's own families, named the Prometheus way.
type ownFamilies struct {
	authAttempts, authzDecisions, refused, throttled, throttleSeconds *family
	opaHits, opaMisses, opaErrors, opaEntries, opaRatio               *family
	fsyncErrors, dirBytes, dirPartitions, transactions                *family
	hookDelivered, hookDropped, hookPanics, hookQueued, level         *family
	fsyncSeconds, groupCommit                                         *family
	openFiles, openFilesBudget, fileOpens, fileEvictions, fileWaits   *family
	fileEvictionSyncs                                                 *family
	auditRecords, shipSent, shipFailed, shipPending                   *family
}

func counterFamily(name, help string, labels ...string) *family {
	return &family{name: name, help: help, labels: labels, kind: prometheus.CounterValue}
}

func gaugeFamily(name, help string, labels ...string) *family {
	return &family{name: name, help: help, labels: labels, kind: prometheus.GaugeValue}
}

func newOwnFamilies() *ownFamilies {
	return &ownFamilies{
		authAttempts:    counterFamily("bulwark_authentication_attempts_total", "Authentication attempts (first and re-authentications) by listener, mechanism and result.", "listener", "mechanism", "result"),
		authzDecisions:  counterFamily("bulwark_authorization_decisions_total", "Authorization decisions by engine (acl, opa, iam, super.users) and result.", "engine", "result"),
		refused:         counterFamily("bulwark_connections_refused_total", "Connections turned away at accept, by listener and reason (allowlist, limit, quota).", "listener", "reason"),
		throttled:       counterFamily("bulwark_quota_throttled_responses_total", "Responses throttled by a client quota, by quota type.", "quota"),
		throttleSeconds: counterFamily("bulwark_quota_throttle_seconds_total", "Throttle time added by client quotas, by quota type.", "quota"),
		opaHits:         counterFamily("bulwark_opa_cache_hits_total", "OPA decisions answered from the decision cache."),
		opaMisses:       counterFamily("bulwark_opa_cache_misses_total", "OPA decisions evaluated (not in the cache)."),
		opaErrors:       counterFamily("bulwark_opa_errors_total", "OPA decisions that could not be made (opa.authorizer.allow.on.error decided them)."),
		opaEntries:      gaugeFamily("bulwark_opa_cache_entries", "Decisions held in the OPA decision cache."),
		opaRatio:        gaugeFamily("bulwark_opa_cache_hit_ratio", "Share of OPA decisions answered from the cache since start (0 before any decision)."),
		fsyncErrors:     counterFamily("bulwark_log_fsync_errors_total", "Failed fsyncs of partition logs (each stops its log accepting writes)."),
		fsyncSeconds:    &family{name: "bulwark_log_fsync_duration_seconds", help: "Time each fsync of a partition log took.", kind: prometheus.UntypedValue},
		groupCommit:     &family{name: "bulwark_log_group_commit_appends", help: "Appends made durable by each fsync (group commit size).", kind: prometheus.UntypedValue},
		openFiles:       gaugeFamily("bulwark_log_open_files", "Partition log files open now (idle partitions hold none; see bulwark_log_open_files_budget)."),
		openFilesBudget: gaugeFamily("bulwark_log_open_files_budget", "Most partition log files kept open at once: the open-file limit less a reserve for connections."),
		fileOpens:       counterFamily("bulwark_log_file_opens_total", "Partition log files opened, reopens of files closed while idle included."),
		fileEvictions:   counterFamily("bulwark_log_file_evictions_total", "Idle partition log files closed to stay within the budget."),
		fileWaits:       counterFamily("bulwark_log_file_open_waits_total", "Opens that waited because every file within the budget was in use."),
		fileEvictionSyncs: counterFamily("bulwark_log_file_eviction_fsyncs_total",
			"Fsyncs run to close a partition log file with unsynced writes (so that no writeback error is lost with its descriptor)."),
		dirBytes:      gaugeFamily("bulwark_log_dir_bytes", "Bytes of partition logs in each log directory.", "dir"),
		dirPartitions: gaugeFamily("bulwark_log_dir_partitions", "Partitions in each log directory.", "dir"),
		transactions:  gaugeFamily("bulwark_transactions", "Transactional ids by transaction state.", "state"),
		hookDelivered: counterFamily("bulwark_hook_events_delivered_total", "Broker events delivered to each observer (audit, metrics).", "hook"),
		hookDropped:   counterFamily("bulwark_hook_events_dropped_total", "Broker events an observer lost (full queue, or back-pressure timed out).", "hook"),
		hookPanics:    counterFamily("bulwark_hook_panics_total", "Panics recovered in an observer.", "hook"),
		hookQueued:    gaugeFamily("bulwark_hook_queue_length", "Events waiting in each observer's queue.", "hook"),
		level:         gaugeFamily("bulwark_metrics_level", "The monitoring level in force (bulwark.metrics.level): 1 for the level named.", "level"),
		auditRecords:  counterFamily("bulwark_audit_records_total", "Records written to the audit trail (its last sequence number)."),
		shipSent:      counterFamily("bulwark_logship_sent_total", "Records delivered to a sink, by stream and sink.", "stream", "sink"),
		shipFailed:    counterFamily("bulwark_logship_failures_total", "Delivery attempts that failed (retried until they succeed), by stream and sink.", "stream", "sink"),
		shipPending:   gaugeFamily("bulwark_logship_pending_records", "Records of a stream a sink has yet to receive: the backlog the stream's files hold for it.", "stream", "sink"),
	}
}

// ownMetrics emits Bulwark's families; they are few series, so every level has them.
func (c *Collector) ownMetrics(e *emitter, level Level, b *stats.Broker, topics scrapeTopics) {
	f := c.own
	e.emit(f.level, 1, level.String())
	for _, l := range b.Listeners() {
		l.Mechanisms.Each(func(mech string, failed, ok uint64) {
			e.emit(f.authAttempts, float64(ok), l.Name, mech, "success")
			e.emit(f.authAttempts, float64(failed), l.Name, mech, "failure")
		})
		for r, name := range stats.RefusalNames {
			e.emit(f.refused, float64(l.Refused[r].Load()), l.Name, name)
		}
	}
	b.Authorization.Each(func(engine string, denied, allowed uint64) {
		e.emit(f.authzDecisions, float64(allowed), engine, "allow")
		e.emit(f.authzDecisions, float64(denied), engine, "deny")
	})
	for q, name := range stats.QuotaTypeNames {
		e.emit(f.throttled, float64(b.Throttles.Count[q].Load()), name)
		e.emit(f.throttleSeconds, float64(b.Throttles.Micros[q].Load())/1e6, name)
	}
	if c.opts.OPA != nil {
		s := c.opts.OPA()
		e.emit(f.opaHits, float64(s.CacheHits))
		e.emit(f.opaMisses, float64(s.CacheMisses))
		e.emit(f.opaErrors, float64(s.Errors))
		e.emit(f.opaEntries, float64(s.CacheEntries))
		ratio := 0.0
		if n := s.CacheHits + s.CacheMisses; n > 0 {
			ratio = float64(s.CacheHits) / float64(n)
		}
		e.emit(f.opaRatio, ratio)
	}
	e.emit(f.fsyncErrors, float64(b.Storage.FsyncErrors.Load()))
	c.nativeHistogram(e, f.fsyncSeconds, &b.Storage.Fsync, fsyncBoundsMicros, 1e-6)
	c.nativeHistogram(e, f.groupCommit, &b.Storage.GroupCommit, groupCommitBounds, 1)
	of := c.src.OpenFiles()
	e.emit(f.openFiles, float64(of.Open))
	e.emit(f.openFilesBudget, float64(of.Budget))
	e.emit(f.fileOpens, float64(of.Opens))
	e.emit(f.fileEvictions, float64(of.Evictions))
	e.emit(f.fileWaits, float64(of.Waits))
	e.emit(f.fileEvictionSyncs, float64(of.Syncs))
	for _, d := range c.src.LogDirs() {
		clean := filepath.Clean(d) // the partitions' directories are clean ("./data" is "data")
		e.emit(f.dirBytes, float64(topics.dirBytes[clean]), d)
		e.emit(f.dirPartitions, float64(topics.dirParts[clean]), d)
	}
	byState := c.src.TransactionsByState()
	for _, s := range []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort"} {
		e.emit(f.transactions, float64(byState[s]), s)
	}
	if c.opts.AuditRecords != nil {
		e.emit(f.auditRecords, float64(c.opts.AuditRecords()))
	}
	if c.opts.Shipping != nil {
		for _, s := range c.opts.Shipping() {
			e.emit(f.shipSent, float64(s.Sent), s.Stream, s.Sink)
			e.emit(f.shipFailed, float64(s.Failed), s.Stream, s.Sink)
			e.emit(f.shipPending, float64(s.Pending), s.Stream, s.Sink)
		}
	}
	if c.opts.Hooks != nil {
		for _, h := range c.opts.Hooks() {
			e.emit(f.hookDelivered, float64(h.Delivered), h.Name)
			e.emit(f.hookDropped, float64(h.Dropped), h.Name)
			e.emit(f.hookPanics, float64(h.Panics), h.Name)
			e.emit(f.hookQueued, float64(h.Queued), h.Name)
		}
	}
}

// Native histogram bounds. The recorded values are whole units, so "at most b" is "below b+1";
// each bound is one below a power of two, which is a stats bucket edge, and the cumulative counts
// are exact: fsyncs from 63 µs to about 4 s, group commits from 1 to 4,095 appends.
var (
	fsyncBoundsMicros = powersOfTwoLessOne(6, 22)
	groupCommitBounds = powersOfTwoLessOne(1, 12)
)

func powersOfTwoLessOne(from, to int) []uint64 {
	var out []uint64
	for k := from; k <= to; k++ {
		out = append(out, 1<<k-1)
	}
	return out
}

// nativeHistogram emits a stats histogram as a Prometheus histogram with the given upper bounds
// (in the histogram's units; scale converts them and the sum to the metric's).
func (c *Collector) nativeHistogram(e *emitter, f *family, h *stats.Histogram, bounds []uint64, scale float64) {
	var s stats.HistogramSnapshot
	h.Snapshot(&s)
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	next := 0
	for _, ub := range bounds {
		// The buckets below the one holding ub+1 hold exactly the values up to ub.
		for ; next < stats.BucketIndex(ub+1); next++ {
			cum += s.Buckets[next]
		}
		buckets[float64(ub)*scale] = cum
	}
	var total uint64
	for _, n := range s.Buckets {
		total += n
	}
	desc := e.descs.get(f.name, f.help, nil)
	e.ch <- prometheus.MustNewConstHistogram(desc, total, float64(s.Sum)*scale, buckets)
}
