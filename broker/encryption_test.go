package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/envelope"
	"github.com/bulwark-kafka/bulwark/broker/keys"
	"github.com/bulwark-kafka/bulwark/broker/keys/kmsfake"
)

// grepTree fails the test for every file under dir that contains needle.
func grepTree(t *testing.T, dir string, needle []byte) {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		n++
		if b, _ := os.ReadFile(p); bytes.Contains(b, needle) {
			t.Errorf("%s holds the plaintext %q", p, needle)
		}
		return nil
	})
	if n < 5 {
		t.Fatalf("only %d files under %s: nothing was written?", n, dir)
	}
}

func produceSecrets(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	for i := range n {
		r := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("PLAINTEXT-CANARY-%06d-%s", i, strings.Repeat("z", 200)))}
		if err := cl.ProduceSync(testContext(t), r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
}

// consumeCount consumes topic from the start until want records arrived (or 10 s passed).
func consumeCount(t *testing.T, b *testBroker, topic string, want int) int {
	t.Helper()
	cl := b.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	got := 0
	deadline := time.Now().Add(10 * time.Second)
	for got < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(testContext(t), deadline)
		fs := cl.PollRecords(ctx, 1000)
		cancel()
		for _, r := range fs.Records() {
			if !bytes.HasPrefix(r.Value, []byte("PLAINTEXT-CANARY-")) {
				t.Fatalf("consumed %q", r.Value)
			}
			got++
		}
	}
	return got
}

// TestEncryptedAtRestByDefault: with the embedded defaults every file under log.dirs is
// encrypted: produced plaintext appears in none of them, before and after a restart, and the
// records read back.
func TestEncryptedAtRestByDefault(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	if _, err := b.Admin(t).CreateTopic(testContext(t), 2, 1, map[string]*string{"segment.bytes": ptr("16384")}, "canary"); err != nil {
		t.Fatal(err)
	}
	cl := b.Client(t, kgo.ProducerBatchCompression(kgo.NoCompression()))
	produceSecrets(t, cl, "canary", 300)
	if got := consumeCount(t, b, "canary", 300); got != 300 {
		t.Fatalf("consumed %d of 300", got)
	}
	grepTree(t, dir, []byte("PLAINTEXT-CANARY"))
	b.stop(t)
	b = startTestBroker(t, dir)
	if got := consumeCount(t, b, "canary", 300); got != 300 {
		t.Fatalf("after restart consumed %d of 300", got)
	}
	grepTree(t, dir, []byte("PLAINTEXT-CANARY"))

	// Restarting with another master key is a clear error, not garbage.
	b.stop(t)
	other := filepath.Join(t.TempDir(), "other.keyring")
	if _, err := keys.OpenLocal(other, keys.LocalOptions{Create: true}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1"}}
	cfg.LogDirs = []string{dir}
	cfg.EncryptionKeyringPath = other
	if _, err := New(cfg); !errors.Is(err, keys.ErrWrongKey) {
		t.Fatalf("start with the wrong master key: %v", err)
	}
}

func ptr(s string) *string { return &s }

// TestAWSKMSOutage: with the AWS KMS provider (the real SDK against kmsfake), a produce that
// needs a new data key while KMS is down fails with a retriable error and writes nothing in the
// clear; when KMS returns, producing resumes on its own.
func TestAWSKMSOutage(t *testing.T) {
	fake, err := kmsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop) // after the broker's own cleanup: shutting down seals files
	fake.CreateKey("alias/bulwark")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIATEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	dir := t.TempDir()
	b := startTestBroker(t, dir, withConfig(func(c *config.Config) {
		c.EncryptionProvider = keys.AWSKMSProvider
		c.EncryptionKMSKeyID = "alias/bulwark"
		c.EncryptionAWSRegion = "us-east-1"
		c.EncryptionAWSEndpoint = fake.URL()
		c.EncryptionKMSTimeout = 2 * time.Second
	}))
	if _, err := b.Admin(t).CreateTopic(testContext(t), 1, 1, map[string]*string{"segment.bytes": ptr("4096")}, "kms"); err != nil {
		t.Fatal(err)
	}
	cl := b.Client(t, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(0), kgo.RequestRetries(0))
	produceSecrets(t, cl, "kms", 20)
	if fake.Calls("GenerateDataKey") < 3 {
		t.Fatalf("KMS saw %d GenerateDataKey calls", fake.Calls("GenerateDataKey"))
	}
	fake.Stop()
	var failed error
	for i := 0; i < 40 && failed == nil; i++ {
		r := &kgo.Record{Topic: "kms", Value: []byte(fmt.Sprintf("PLAINTEXT-CANARY-outage-%d-%s", i, strings.Repeat("y", 400)))}
		failed = cl.ProduceSync(testContext(t), r).FirstErr()
	}
	if !errors.Is(failed, kerr.KafkaStorageError) || !kerr.IsRetriable(failed) {
		t.Fatalf("produce during the KMS outage: %v", failed)
	}
	if err := fake.Restart(); err != nil {
		t.Fatal(err)
	}
	produceSecrets(t, cl, "kms", 20)
	grepTree(t, dir, []byte("PLAINTEXT-CANARY"))
	if got := consumeCount(t, b, "kms", 40); got < 40 {
		t.Fatalf("consumed %d", got)
	}
}

// TestRotateAndRewrap: after rotation new files use the new master key version, rewrap moves
// every existing file's data key to it (headers only), and everything still reads back.
func TestRotateAndRewrap(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	if _, err := b.Admin(t).CreateTopic(testContext(t), 1, 1, map[string]*string{"segment.bytes": ptr("8192")}, "rot"); err != nil {
		t.Fatal(err)
	}
	produceSecrets(t, b.Client(t, kgo.ProducerBatchCompression(kgo.NoCompression())), "rot", 100)
	b.stop(t)
	cfg := b.cfg
	if v, err := RotateLocalKey(cfg); err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	before, err := InspectKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Versions) != 2 || !before.Versions[1].Current || len(before.Files) != 1 {
		t.Fatalf("after rotate: %+v", before)
	}
	n, err := RewrapDataDir(context.Background(), cfg)
	if err != nil || n == 0 {
		t.Fatalf("rewrap: %d %v", n, err)
	}
	after, _ := InspectKeys(cfg)
	for id := range after.Files {
		if !strings.HasPrefix(id, "local:2:") {
			t.Fatalf("after rewrap a file is still under %s", id)
		}
	}
	b = startTestBroker(t, dir)
	if got := consumeCount(t, b, "rot", 100); got != 100 {
		t.Fatalf("after rewrap consumed %d of 100", got)
	}
	// The running broker holds the directory: the offline commands refuse.
	if _, err := RewrapDataDir(context.Background(), cfg); !errors.Is(err, ErrDataDirLocked) {
		t.Fatalf("rewrap on a running broker: %v", err)
	}
}

// TestDeleteTopicShredsDataKeys: deleting a topic destroys its segments' data keys, so a copy of
// the file's blocks (a hard link stands in for a backup or a disk image) can no longer be opened.
func TestDeleteTopicShredsDataKeys(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	adm := b.Admin(t)
	if _, err := adm.CreateTopic(testContext(t), 1, 1, nil, "doomed"); err != nil {
		t.Fatal(err)
	}
	produceSecrets(t, b.Client(t, kgo.ProducerBatchCompression(kgo.NoCompression())), "doomed", 10)
	seg := filepath.Join(dir, "doomed-0", "00000000000000000000.log")
	keep := filepath.Join(t.TempDir(), "copy.log")
	if err := os.Link(seg, keep); err != nil {
		t.Fatal(err)
	}
	if h, err := envelope.ReadHeader(keep); err != nil || h.Wrapped.Provider != keys.LocalProvider {
		t.Fatalf("segment header before delete: %+v %v", h, err)
	}
	if _, err := adm.DeleteTopics(testContext(t), "doomed"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := envelope.ReadHeader(keep); errors.Is(err, envelope.ErrNotSealed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted topic's segment still carries its wrapped data key")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
