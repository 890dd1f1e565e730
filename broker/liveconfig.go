package broker

import (
	"sync"
	"sync/atomic"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// liveConfig is the configuration in force: the file as last (re)loaded, with the dynamic
// broker configs of the metadata log (cluster default, then this node's) layered over it.
//
// The layered copy is rebuilt only when the file or the metadata state changes, not on every
// accepted connection. Static keys are read from the file as loaded at start (Server.cfg); a
// SIGHUP changes only dynamic keys (config.Config.Reload).
type liveConfig struct {
	file atomic.Pointer[config.Config]
	node string

	mu      sync.Mutex
	builtOf *config.Config
	builtSt *meta.State
	built   *config.Config
}

func newLiveConfig(file *config.Config, node string) *liveConfig {
	l := &liveConfig{node: node}
	l.file.Store(file)
	return l
}

// effective returns the configuration in force under the metadata state st.
func (l *liveConfig) effective(st *meta.State) *config.Config {
	file := l.file.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.built != nil && l.builtOf == file && l.builtSt == st {
		return l.built
	}
	l.built = file.WithDynamicLayers(st.ClusterBrokerConfigs, st.NodeBrokerConfigs[l.node])
	l.builtOf, l.builtSt = file, st
	return l.built
}
