package broker

import (
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// ReloadFile re-reads the configuration file (what SIGHUP does): every changed key that Kafka
// treats as dynamic takes effect at once (allowlists and connection limits for the next
// connection, log settings for every topic that inherits them); a changed static key is logged as
// needing a restart and keeps its value. A file that no longer parses changes nothing. Every
// reload is logged and emitted as a ConfigChange event under one request id.
func (s *Server) ReloadFile(path string) error {
	id := newRequestID()
	next, err := config.Load(path)
	if err != nil {
		s.logger.Error("configuration reload refused; nothing changed", "request_id", id, "path", path, "err", err)
		s.hooks.ConfigChange(hook.ConfigChange{Time: s.now(), RequestID: id, Source: "SIGHUP", Err: err.Error()})
		return err
	}
	s.reload(id, next)
	return nil
}

// reload applies next's dynamic keys over the file configuration in force.
func (s *Server) reload(id string, next *config.Config) (applied, needRestart []string) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	live := s.cluster.live
	out, applied, needRestart := live.file.Load().Reload(next)
	live.file.Store(out)
	if len(applied) > 0 {
		// Topics inherit broker-level log settings, so their effective configs are resolved again.
		s.cluster.reconfigureAll()
	}
	s.logger.Info("configuration reloaded", "request_id", id, "applied", applied, "need_restart", needRestart)
	if len(needRestart) > 0 {
		s.logger.Warn("configuration reload: these keys cannot change at runtime and keep their value until a restart",
			"request_id", id, "keys", needRestart)
	}
	s.hooks.ConfigChange(hook.ConfigChange{Time: s.now(), RequestID: id, Source: "SIGHUP", Changed: applied, NeedRestart: needRestart})
	return applied, needRestart
}

// brokerConfigChanged records a dynamic broker config change made through the admin API.
func (c *conn) brokerConfigChanged(api string, keys []string) {
	c.srv.hooks.ConfigChange(hook.ConfigChange{Time: c.srv.now(), RequestID: newRequestID(), Source: api,
		Principal: c.principal(), Changed: keys})
}
