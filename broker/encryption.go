package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/envelope"
	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/keys"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// KeyHook observes every key-service call (data key generation, unwrapping, rewrapping), for
// metrics and the audit trail.
type KeyHook interface {
	OnKeyCall(keys.Call)
}

// keyObserver logs failed key-service calls and passes every call to the hooks.
type keyObserver struct {
	logger *slog.Logger
	hooks  *hook.Dispatcher
}

func (o keyObserver) OnKeyCall(c keys.Call) {
	if c.Err != nil {
		o.logger.Error("key service call failed", "provider", c.Provider, "op", c.Op, "key_id", c.KeyID,
			"duration", c.Duration, "err", c.Err)
	}
	ev := hook.KeyCall{Time: time.Now(), Provider: c.Provider, Op: c.Op, KeyID: c.KeyID, Context: c.Context, Duration: c.Duration}
	if c.Err != nil {
		ev.Err = c.Err.Error()
	}
	o.hooks.KeyCall(ev)
}

// NewKeyProvider builds the key provider bulwark.encryption.* configures: nil when encryption is
// off. The local keyring is created at first start.
func NewKeyProvider(cfg *config.Config, obs keys.Observer) (keys.Provider, error) {
	if !cfg.EncryptionEnabled {
		return nil, nil
	}
	switch cfg.EncryptionProvider {
	case keys.AWSKMSProvider:
		return keys.NewAWSKMS(context.Background(), keys.AWSKMSOptions{KeyID: cfg.EncryptionKMSKeyID,
			Region: cfg.EncryptionAWSRegion, EndpointURL: cfg.EncryptionAWSEndpoint, Timeout: cfg.EncryptionKMSTimeout, Observer: obs})
	}
	lo := keys.LocalOptions{Create: true, Observer: obs}
	switch {
	case cfg.EncryptionMasterKeyEnv != "":
		v := os.Getenv(cfg.EncryptionMasterKeyEnv)
		if v == "" {
			return nil, fmt.Errorf("broker: bulwark.encryption.local.master.key.env: $%s is empty", cfg.EncryptionMasterKeyEnv)
		}
		return keys.LocalFromKey(v, lo)
	case cfg.EncryptionMasterKeyFile != "":
		fi, err := os.Stat(cfg.EncryptionMasterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker: master key file: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("broker: master key file %s is readable by others (mode %v); chmod 600 it", cfg.EncryptionMasterKeyFile, fi.Mode().Perm())
		}
		b, err := os.ReadFile(cfg.EncryptionMasterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker: master key file: %w", err)
		}
		return keys.LocalFromKey(string(b), lo)
	}
	path := cfg.KeyringPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && hasSealedMetadata(cfg) {
		// Creating a new keyring would only make the old data unreadable with a confusing error.
		return nil, fmt.Errorf("broker: the keyring %s is missing, but %s holds encrypted data: restore the keyring (or point bulwark.encryption.local.keyring at it)", path, cfg.LogDirs[0])
	}
	return keys.OpenLocal(path, lo)
}

// hasSealedMetadata reports whether the metadata directory holds an encrypted file.
func hasSealedMetadata(cfg *config.Config) bool {
	dir := filepath.Join(cfg.LogDirs[0], metadataDirName)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if _, err := envelope.ReadHeader(filepath.Join(dir, e.Name())); err == nil {
			return true
		}
	}
	return false
}

// metaSealing is how the metadata log is sealed (the cluster id is not known before it opens).
func metaSealing(cfg *config.Config, p keys.Provider) *envelope.Config {
	if p == nil {
		return nil
	}
	return &envelope.Config{Provider: p, Timeout: cfg.EncryptionKMSTimeout,
		Context: keys.EncryptionContext{"bulwark:store": "metadata", "bulwark:node": strconv.Itoa(int(cfg.NodeID))}}
}

// partitionSealing is how one partition's segments are sealed: the context names the cluster,
// topic, topic id and partition, so a segment's wrapped key opens for that partition only.
func (c *cluster) partitionSealing(t *topic, index int32) *envelope.Config {
	if c.keys == nil {
		return nil
	}
	return &envelope.Config{Provider: c.keys, Timeout: c.cfg.EncryptionKMSTimeout, Context: t.sealContext,
		Partition: strconv.Itoa(int(index))}
}

// topicSealContext is the encryption context a topic's partitions share (nil with encryption
// off); each partition adds its index (envelope.Config.Partition).
func (c *cluster) topicSealContext(name string, id meta.TopicID) keys.EncryptionContext {
	if c.keys == nil {
		return nil
	}
	return keys.EncryptionContext{"bulwark:cluster": c.store.State().ClusterID, "bulwark:topic": name, "bulwark:topic-id": id.String()}
}

// describeProvider names the provider for the start-up log line.
func describeProvider(cfg *config.Config) string {
	switch {
	case !cfg.EncryptionEnabled:
		return "off"
	case cfg.EncryptionProvider == keys.AWSKMSProvider:
		return "aws-kms " + cfg.EncryptionKMSKeyID
	case cfg.EncryptionMasterKeyEnv != "":
		return "local key from $" + cfg.EncryptionMasterKeyEnv
	case cfg.EncryptionMasterKeyFile != "":
		return "local key file " + cfg.EncryptionMasterKeyFile
	}
	return "local keyring " + cfg.KeyringPath()
}
