package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// lockFileName is the file in the first log directory that a running broker (or an offline tool
// such as `bulwark iam`) holds an exclusive lock on, so two processes never write the same
// metadata log.
const lockFileName = ".lock"

// ErrDataDirLocked means another process holds the data directory.
var ErrDataDirLocked = errors.New("broker: data directory is in use by another process (is a broker running on it?)")

// dirLock is an exclusive lock on a data directory, released by Close.
type dirLock struct{ f *os.File }

// lockDataDir takes the data directory's lock, creating the directory if needed.
func lockDataDir(dir string) (*dirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("broker: data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("broker: lock file: %w", err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrDataDirLocked, dir, err)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) Close() error {
	if l == nil {
		return nil
	}
	return l.f.Close() // closing the descriptor releases the lock
}

// MetadataStore is the metadata log opened by an offline tool, holding the data directory's lock
// until Close.
type MetadataStore struct {
	*meta.Store
	lock *dirLock
}

// OpenMetadata opens the broker's metadata log for an offline tool (`bulwark iam`): it fails
// with ErrDataDirLocked while a broker is running on the same directory.
func OpenMetadata(cfg *config.Config) (*MetadataStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lock, err := lockDataDir(cfg.LogDirs[0])
	if err != nil {
		return nil, err
	}
	kp, err := NewKeyProvider(cfg, nil)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	st, err := meta.Open(filepath.Join(cfg.LogDirs[0], metadataDirName), meta.Options{NodeID: cfg.NodeID, Sealing: metaSealing(cfg, kp)})
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	return &MetadataStore{Store: st, lock: lock}, nil
}

// Close closes the store and releases the directory.
func (m *MetadataStore) Close() error {
	return errors.Join(m.Store.Close(), m.lock.Close())
}
