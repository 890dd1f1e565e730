package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/envelope"
	"github.com/bulwark-kafka/bulwark/broker/keys"
)

// KeyReport describes the keys protecting a data directory: which master key wraps how many
// files' data keys.
type KeyReport struct {
	Provider string
	// Versions are the local keyring's master key versions (empty for AWS KMS).
	Versions []keys.VersionInfo
	// Files counts sealed files by the key id wrapping their data key; Plaintext counts files
	// under log.dirs that are not sealed.
	Files     map[string]int
	Plaintext int
}

// offlineKeys takes the data directory lock (the broker must be stopped) and builds the
// configured key provider.
func offlineKeys(cfg *config.Config) (keys.Provider, *dirLock, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if !cfg.EncryptionEnabled {
		return nil, nil, errors.New("broker: encryption is off (bulwark.encryption.enabled=false)")
	}
	lock, err := lockDataDir(cfg.LogDirs[0])
	if err != nil {
		return nil, nil, err
	}
	kp, err := NewKeyProvider(cfg, nil)
	if err != nil {
		_ = lock.Close()
		return nil, nil, err
	}
	return kp, lock, nil
}

// walkSealed calls fn for every file under the log directories, with its header if sealed.
func walkSealed(cfg *config.Config, fn func(path string, h envelope.Header, sealed bool) error) error {
	for _, d := range cfg.LogDirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || e.Name() == lockFileName {
				return err
			}
			h, herr := envelope.ReadHeader(p)
			switch {
			case herr == nil:
				return fn(p, h, true)
			case errors.Is(herr, envelope.ErrNotSealed):
				return fn(p, h, false)
			}
			return fmt.Errorf("%s: %w", p, herr)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// InspectKeys reports the keys protecting a stopped broker's data directory.
func InspectKeys(cfg *config.Config) (KeyReport, error) {
	kp, lock, err := offlineKeys(cfg)
	if err != nil {
		return KeyReport{}, err
	}
	defer lock.Close()
	r := KeyReport{Provider: describeProvider(cfg), Files: map[string]int{}}
	if l, ok := kp.(*keys.Local); ok {
		r.Versions = l.Versions()
	}
	err = walkSealed(cfg, func(_ string, h envelope.Header, sealed bool) error {
		if sealed {
			r.Files[h.Wrapped.KeyID]++
		} else {
			r.Plaintext++
		}
		return nil
	})
	return r, err
}

// RotateLocalKey adds a master key version to the local keyring; files created from the next
// start use it. Existing files keep theirs until RewrapDataDir.
func RotateLocalKey(cfg *config.Config) (int, error) {
	kp, lock, err := offlineKeys(cfg)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	l, ok := kp.(*keys.Local)
	if !ok || cfg.EncryptionMasterKeyEnv != "" || cfg.EncryptionMasterKeyFile != "" {
		return 0, errors.New("broker: only a local keyring file rotates here; rotate an AWS KMS key in AWS (or configure a new key id) and a supplied master key by replacing it, then run bulwark keys rewrap")
	}
	return l.Rotate()
}

// RewrapDataDir re-wraps the data key of every sealed file under log.dirs with the provider's
// current master key, rewriting only file headers; it returns how many files changed.
func RewrapDataDir(ctx context.Context, cfg *config.Config) (int, error) {
	kp, lock, err := offlineKeys(cfg)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	rw, ok := kp.(keys.Rewrapper)
	if !ok {
		return 0, errors.New("broker: the key provider cannot rewrap")
	}
	var paths []string
	if err := walkSealed(cfg, func(p string, _ envelope.Header, sealed bool) error {
		if sealed {
			paths = append(paths, p)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	sort.Strings(paths)
	for i, p := range paths {
		if err := envelope.Rewrap(ctx, p, rw); err != nil {
			return i, err
		}
	}
	return len(paths), nil
}
