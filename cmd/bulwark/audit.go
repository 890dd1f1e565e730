package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"path/filepath"
	"time"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/keys"
	"github.com/bulwark-kafka/bulwark/logship"
)

// auditStream is the name of the broker's audit stream (file prefix, event id prefix).
const auditStream = "audit"

// auditLogType is the audit trail's folder in the S3 sink's MSK-style key layout.
const auditLogType = "BulwarkAuditLogs"

// auditDir is where the trail's files live: bulwark.audit.dir, or __bulwark_audit in the first
// log directory ("beside the data").
func auditDir(cfg *config.Config) string {
	if cfg.AuditDir != "" {
		return cfg.AuditDir
	}
	return filepath.Join(cfg.LogDirs[0], "__bulwark_audit")
}

// auditKeys is the key provider that signs (and verifies) checkpoints: the one encryption at
// rest uses, or nil when that is off.
func auditKeys(cfg *config.Config) (keys.Provider, error) {
	return broker.NewKeyProvider(cfg, nil)
}

// allowMode maps bulwark.audit.authorization.allows.
func allowMode(v string) audit.AllowMode {
	switch v {
	case "management":
		return audit.AllowsManagement
	case "all":
		return audit.AllowsAll
	}
	return audit.AllowsNone
}

// openAudit opens the broker's audit stream as configured (nil when bulwark.audit.enabled is
// false).
func openAudit(cfg *config.Config, logger *slog.Logger) (*audit.Writer, error) {
	if !cfg.AuditEnabled {
		return nil, nil
	}
	kp, err := auditKeys(cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if kp == nil {
		logger.Warn("audit checkpoints are unsigned: encryption at rest is off, so there is no key to sign them with")
	}
	w, err := audit.Open(audit.Options{Dir: auditDir(cfg), Stream: auditStream, Keys: kp, Seal: kp != nil,
		CheckpointRecords: cfg.AuditCheckpointRecords, CheckpointInterval: cfg.AuditCheckpointInterval,
		MaxFileBytes: cfg.AuditFileMaxBytes, Retention: cfg.AuditRetention, Logger: logger.With("component", "audit"),
		MaxBytes: cfg.AuditSpoolMaxBytes, DropUndelivered: cfg.AuditSpoolFullPolicy == "drop"})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// auditOffline appends one record to the trail of a stopped broker (key rotation, IAM policy
// changes made on the data directory). It does nothing when the trail is off.
func auditOffline(cfg *config.Config, r *audit.Record) error {
	w, err := openAudit(cfg, slog.New(slog.DiscardHandler))
	if err != nil || w == nil {
		return err
	}
	if err := w.Append(r); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// localOperator is the identity of a command run on the broker's host against its data
// directory: the operating-system user.
func localOperator() *audit.UserIdentity {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return &audit.UserIdentity{Type: "LocalOperator", Principal: "OS:" + name}
}

const auditUsage = `usage: bulwark audit <command> [flags]

commands:
  verify   check the trail: reports the first missing, edited or reordered record, checkpoints
           whose signature does not verify, and a tail not covered by a final checkpoint
           (--live accepts an open tail, for a running broker)
  query    print the records that match --since, --until (RFC 3339), --principal, --event
           (name or type), --resource and --outcome (success or failure)

flags: --config FILE (the broker's server.properties; the trail's directory and key provider
come from it) or --dir DIR (a trail's directory; signatures then need --config for the keys)

verify reads the trail's files unless told to read it where it was delivered:
  --topic __bulwark_audit  the broker's audit topic, through --bootstrap-server and the usual
                           --tls*/--sasl* connection flags (as a principal allowed to READ it)
  --s3 s3://bucket/prefix  the objects the S3 sink wrote (--broker-id picks a broker's; give the
                           prefix down to the cluster when several share a bucket, as in
                           s3://b/p/AWSLogs/<account>/BulwarkAuditLogs/<region>/<cluster>)
Records a sink received twice (at-least-once delivery) are counted and dropped; a topic whose
oldest records its retention removed is checked from where it starts.
`

// cmdAudit implements `bulwark audit`.
func cmdAudit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "server.properties of the broker (default: the embedded defaults)")
	dir := fs.String("dir", "", "the trail's directory (default: from the configuration)")
	live := fs.Bool("live", false, "verify: the broker is running, so the trail has no final checkpoint yet")
	allowUnsigned := fs.Bool("allow-unsigned", false, "verify: accept a trail whose checkpoints are unsigned (written with encryption at rest off)")
	asJSON := fs.Bool("json", false, "verify: print the report as JSON")
	since := fs.String("since", "", "query: records at or after this time (RFC 3339)")
	until := fs.String("until", "", "query: records before this time (RFC 3339)")
	var f audit.Filter
	fs.StringVar(&f.Principal, "principal", "", "query: principal (User:alice) or IAM ARN")
	fs.StringVar(&f.Event, "event", "", "query: event name (CreateTopics, Authenticate) or type (Authorization)")
	fs.StringVar(&f.Resource, "resource", "", "query: resource name (topic, group, transactional id)")
	fs.StringVar(&f.Outcome, "outcome", "", "query: success or failure")
	limit := fs.Int("limit", 0, "query: at most this many records (0: all)")
	topic := fs.String("topic", "", "verify: the trail as read back from this topic (__bulwark_audit) of the broker at --bootstrap-server")
	s3URL := fs.String("s3", "", "verify: the trail as shipped to S3, s3://bucket/prefix (bulwark.aws.* from --config)")
	brokerID := fs.Int("broker-id", -1, "verify --s3: whose objects to read (default: node.id from --config)")
	var cf clientFlags
	cf.register(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil || len(pos) != 0 {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	cfg := config.Default()
	if *cfgFile != "" {
		if cfg, err = config.Load(*cfgFile); err != nil {
			fmt.Fprintf(stderr, "bulwark audit: %s: %v\n", *cfgFile, err)
			return 1
		}
	}
	d := *dir
	if d == "" {
		d = auditDir(cfg)
	}
	switch args[0] {
	case "verify":
		src := verifySource{dir: d, topic: *topic, s3: *s3URL, brokerID: cfg.NodeID, client: &cf}
		if *brokerID >= 0 {
			src.brokerID = int32(*brokerID)
		}
		return auditVerify(cfg, src, *live, *allowUnsigned, *asJSON, stdout, stderr)
	case "query":
		for _, tv := range []struct {
			s string
			t *time.Time
		}{{*since, &f.Since}, {*until, &f.Until}} {
			if tv.s == "" {
				continue
			}
			if *tv.t, err = time.Parse(time.RFC3339, tv.s); err != nil {
				fmt.Fprintf(stderr, "bulwark audit query: %v\n", err)
				return 2
			}
		}
		kp, err := verifyKeys(cfg)
		if err != nil {
			fmt.Fprintln(stderr, "bulwark audit query:", err)
			return 1
		}
		if _, err := audit.Query(d, auditStream, kp, f, *limit, stdout); err != nil {
			fmt.Fprintln(stderr, "bulwark audit query:", err)
			return 1
		}
		return 0
	}
	fmt.Fprint(stderr, auditUsage)
	return 2
}

// shipFlushTimeout is how long a clean stop waits for the sinks to take the trail's last
// records; what they do not take in time goes after the next start.
const shipFlushTimeout = 5 * time.Second

// auditWiring is the audit trail of `bulwark serve`: its writer, the auditor the broker's hooks
// feed, and the shippers delivering it to sinks.
type auditWiring struct {
	cfg      *config.Config
	logger   *slog.Logger
	trail    *audit.Writer
	auditor  *audit.Auditor
	shippers []*logship.Shipper
	// toTopic delivers the trail to the __bulwark_audit topic (nil when bulwark.audit.topic.enabled
	// is false). It stops before the broker does; what it has not delivered goes after the next start.
	toTopic  *logship.Shipper
	started  bool
	stopGaps context.CancelFunc
}

// gapCheck is how often lost audit events are looked for.
const gapCheck = 5 * time.Second

// watchGaps records an AuditGap whenever the broker had to drop audit events (the trail's queue
// stayed full past the back-pressure timeout), so a reviewer sees how many are missing and when.
func (aw *auditWiring) watchGaps(ctx context.Context, stats func() []hook.Stats) {
	t := time.NewTicker(gapCheck)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, st := range stats() {
			if st.Name != "audit" || st.Dropped <= seen {
				continue
			}
			aw.auditor.Gap(st.Dropped-seen, "the broker dropped audit events: the trail's queue stayed full past the back-pressure timeout")
			seen = st.Dropped
		}
	}
}

// newAuditWiring opens the trail (before the broker, so its lock and key provider are checked
// first) and returns the hook registration for the broker; nothing when the trail is off.
func newAuditWiring(cfg *config.Config, logger *slog.Logger) (*auditWiring, []broker.Option, error) {
	aw := &auditWiring{cfg: cfg, logger: logger}
	trail, err := openAudit(cfg, logger)
	if err != nil || trail == nil {
		return aw, nil, err
	}
	aw.trail = trail
	aw.auditor = audit.NewAuditor(trail, audit.AuditorOptions{Allows: allowMode(cfg.AuditAllows), Logger: logger.With("component", "audit")})
	return aw, []broker.Option{broker.WithHook(aw.auditor.Registration()), broker.WithAdmissionGate(aw.gate)}, nil
}

// gate refuses the audited admin APIs and SASL logins while the trail cannot be written (a full
// disk, a failed fsync) or, under bulwark.audit.spool.full.policy=refuse, while it is over its
// disk budget with a sink behind: an admin operation or a login without its record is what the
// trail exists to prevent.
func (aw *auditWiring) gate(apiKey int16) error {
	if !audit.IsAdminAPI(apiKey) && apiKey != apiKeySaslHandshake && apiKey != apiKeySaslAuthenticate {
		return nil
	}
	if err := aw.trail.Err(); err != nil {
		return fmt.Errorf("the audit trail cannot be written (%v); admin requests and logins are refused until it can", err)
	}
	if aw.trail.Full() {
		return errors.New("the audit trail is over its disk budget (bulwark.audit.spool.max.bytes) and a sink is behind; admin requests and logins are refused until it catches up (bulwark.audit.spool.full.policy=refuse)")
	}
	return nil
}

// The SASL APIs: a login is an audited operation.
const (
	apiKeySaslHandshake    = 17
	apiKeySaslAuthenticate = 36
)

// start records the broker's start and starts the shippers (they need the cluster id).
func (aw *auditWiring) start(srv *broker.Server) error {
	if aw.trail == nil {
		return nil
	}
	aw.started = true
	aw.auditor.Lifecycle("BrokerStart", map[string]any{"version": version, "clusterId": srv.ClusterID(), "brokerId": srv.BrokerID()})
	ctx, cancel := context.WithCancel(context.Background())
	aw.stopGaps = cancel
	go aw.watchGaps(ctx, srv.HookStats)
	aw.logger.Info("audit trail", "dir", auditDir(aw.cfg), "allows", aw.cfg.AuditAllows, "topic", aw.cfg.AuditTopicEnabled)
	var extra []shipSink
	if aw.cfg.AuditTopicEnabled {
		if err := srv.EnsureAuditTopic(); err != nil {
			return err
		}
		extra = append(extra, shipSink{topicSink{srv}, aw.cfg.AuditTopicFormat})
	}
	shippers, err := startShippers(aw.cfg, shipTarget{stream: auditStream, dir: auditDir(aw.cfg), w: aw.trail,
		ship: aw.cfg.AuditShip(), logType: auditLogType, extra: extra}, srv.ClusterID(), aw.logger)
	aw.shippers = shippers
	if err == nil && len(extra) > 0 {
		aw.toTopic = shippers[0]
	}
	return err
}

// stopTopic stops delivery to the audit topic before the broker closes its logs.
func (aw *auditWiring) stopTopic() {
	if aw.toTopic != nil {
		_ = aw.toTopic.Close(context.Background())
	}
}

// close records the stop, writes the final checkpoint and gives the sinks a few seconds for
// the last records.
func (aw *auditWiring) close() {
	if aw.trail == nil {
		return
	}
	if aw.stopGaps != nil {
		aw.stopGaps()
	}
	aw.stopTopic()
	if aw.started {
		aw.auditor.Lifecycle("BrokerStop", nil)
	} else {
		aw.auditor.Lifecycle("BrokerStartFailed", nil)
	}
	aw.auditor.Close()
	if err := aw.trail.Close(); err != nil {
		aw.logger.Error("audit trail not closed cleanly", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shipFlushTimeout)
	defer cancel()
	for _, s := range aw.shippers {
		if s == aw.toTopic {
			continue // stopped with the broker
		}
		if !s.Flush(ctx, aw.trail.Seq()) {
			aw.logger.Warn("audit records not yet shipped; they go after the next start", "sink", s.Stats().Sink,
				"delivered_up_to", s.Position(), "last", aw.trail.Seq())
		}
		_ = s.Close(ctx)
	}
}
