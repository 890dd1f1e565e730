package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/logship"
)

// brokerLogStream names the broker log's file stream (files broker-<first line>.jsonl).
const brokerLogStream = "broker"

// levels holds the log level in force, per logger: bulwark.log.level for every logger, and
// bulwark.log.level.overrides for named ones (the "component" of a logger: network, log, opa,
// audit, group-coordinator, ...). Both are dynamic; the table is swapped whole.
type levels struct {
	table atomic.Pointer[levelTable]
}

type levelTable struct {
	base      slog.Level
	overrides map[string]slog.Level
}

// set parses the two keys' values; an unparsable level keeps the table as it was.
func (l *levels) set(base string, overrides []string) error {
	t := &levelTable{overrides: map[string]slog.Level{}}
	if err := t.base.UnmarshalText([]byte(base)); err != nil {
		return fmt.Errorf("bulwark.log.level: %w", err)
	}
	for _, o := range overrides {
		name, lv, ok := strings.Cut(o, "=")
		var level slog.Level
		if !ok || name == "" || level.UnmarshalText([]byte(lv)) != nil {
			return fmt.Errorf("bulwark.log.level.overrides: %q is not component=level", o)
		}
		t.overrides[name] = level
	}
	l.table.Store(t)
	return nil
}

func (l *levels) forComponent(c string) slog.Level {
	t := l.table.Load()
	if lv, ok := t.overrides[c]; ok {
		return lv
	}
	return t.base
}

// leveledHandler sends a record to every inner handler when the level of its logger's
// component allows it. Inner handlers accept everything (debug and up).
type leveledHandler struct {
	inner     []slog.Handler
	levels    *levels
	component string
}

func (h *leveledHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.levels.forComponent(h.component)
}

func (h *leveledHandler) Handle(ctx context.Context, r slog.Record) error {
	var first error
	for _, in := range h.inner {
		if err := in.Handle(ctx, r.Clone()); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (h *leveledHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := &leveledHandler{levels: h.levels, component: h.component, inner: make([]slog.Handler, len(h.inner))}
	for _, a := range as {
		if a.Key == "component" {
			out.component = a.Value.String()
		}
	}
	for i, in := range h.inner {
		out.inner[i] = in.WithAttrs(as)
	}
	return out
}

func (h *leveledHandler) WithGroup(name string) slog.Handler {
	out := &leveledHandler{levels: h.levels, component: h.component, inner: make([]slog.Handler, len(h.inner))}
	for i, in := range h.inner {
		out.inner[i] = in.WithGroup(name)
	}
	return out
}

// lineWriter turns the JSON handler's writes (one record each) into lines of the file stream.
type lineWriter struct{ w *audit.Writer }

func (l lineWriter) Write(p []byte) (int, error) {
	if err := l.w.AppendLine(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// brokerLog is the broker's logging: stderr (text on a terminal, JSON otherwise, or as
// --log-format says) and the rotated JSON files beside the data.
type brokerLog struct {
	logger   *slog.Logger
	levels   *levels
	file     *audit.Writer // nil when bulwark.log.dir is "-"
	flagLv   string        // --log-level, which overrides bulwark.log.level when given
	shippers []*logship.Shipper
	// applied is the level settings last applied, so that follow notices a change made between
	// start-up and its first look (a dynamic config altered while the broker was starting).
	applied string
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// brokerLogDir is where the broker log's files go: bulwark.log.dir, or __bulwark_logs in the
// first log directory.
func brokerLogDir(cfg *config.Config) string {
	if cfg.LogDir != "" {
		return cfg.LogDir
	}
	return filepath.Join(cfg.LogDirs[0], "__bulwark_logs")
}

// newBrokerLog builds the logger. format is --log-format (auto, text or json); level is
// --log-level ("" for the configuration's).
func newBrokerLog(cfg *config.Config, stderr io.Writer, format, level string) (*brokerLog, error) {
	bl := &brokerLog{levels: &levels{}, flagLv: level}
	if err := bl.apply(cfg); err != nil {
		return nil, err
	}
	all := &slog.HandlerOptions{Level: slog.LevelDebug}
	var console slog.Handler
	switch {
	case format == "text" || (format == "auto" && isTerminal(stderr)):
		console = slog.NewTextHandler(stderr, all)
	case format == "json" || format == "auto":
		console = slog.NewJSONHandler(stderr, all)
	default:
		return nil, fmt.Errorf("--log-format: want auto, text or json, got %q", format)
	}
	inner := []slog.Handler{console}
	if cfg.LogDir != "-" {
		kp, err := auditKeys(cfg) // the files are encrypted at rest like the rest of log.dirs
		if err != nil {
			return nil, fmt.Errorf("broker log files: %w", err)
		}
		w, err := audit.Open(audit.Options{Dir: brokerLogDir(cfg), Stream: brokerLogStream, Plain: true, Keys: kp, Seal: kp != nil,
			MaxFileBytes: cfg.LogFileMaxBytes, Retention: cfg.LogFileRetention, MaxBytes: cfg.LogSpoolMaxBytes, DropUndelivered: true})
		if err != nil {
			return nil, fmt.Errorf("broker log files: %w", err)
		}
		bl.file = w
		inner = append(inner, slog.NewJSONHandler(lineWriter{w}, all))
	}
	bl.logger = slog.New(&leveledHandler{inner: inner, levels: bl.levels})
	return bl, nil
}

// apply sets the levels from a configuration (the file, or the one in force at runtime).
func (bl *brokerLog) apply(cfg *config.Config) error {
	base := cfg.LogLevel
	if bl.flagLv != "" {
		base = bl.flagLv
	}
	bl.applied = levelKey(cfg)
	return bl.levels.set(base, cfg.LogLevelOverrides)
}

// levelKey is a configuration's level settings as one comparable string.
func levelKey(cfg *config.Config) string {
	return cfg.LogLevel + "|" + strings.Join(cfg.LogLevelOverrides, ",")
}

// follow applies bulwark.log.level and .overrides as they change (SIGHUP, dynamic broker
// configs) until ctx ends.
func (bl *brokerLog) follow(ctx context.Context, live func() *config.Config) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cfg := live()
			if levelKey(cfg) == bl.applied {
				continue
			}
			if err := bl.apply(cfg); err != nil {
				bl.logger.Error("log levels not changed", "err", err)
			} else {
				bl.logger.Info("log levels changed", "level", cfg.LogLevel, "overrides", cfg.LogLevelOverrides)
			}
		}
	}
}

// ship starts shipping the log files as bulwark.logs.broker.* says.
func (bl *brokerLog) ship(cfg *config.Config, clusterID string) error {
	shippers, err := startShippers(cfg, shipTarget{stream: brokerLogStream, dir: brokerLogDir(cfg), w: bl.file,
		ship: cfg.BrokerLogShip, logType: "KafkaBrokerLogs"}, clusterID, bl.logger)
	bl.shippers = shippers
	return err
}

// close flushes and closes the log files, giving the sinks a few seconds for the last lines.
func (bl *brokerLog) close() {
	if bl.file == nil {
		return
	}
	_ = bl.file.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shipFlushTimeout)
	defer cancel()
	for _, s := range bl.shippers {
		s.Flush(ctx, bl.file.Seq())
		_ = s.Close(ctx)
	}
}
