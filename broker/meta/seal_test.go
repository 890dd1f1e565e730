package meta

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/envelope"
	"github.com/bulwark-kafka/bulwark/broker/keys"
)

func sealing(t *testing.T) *envelope.Config {
	t.Helper()
	l, err := keys.OpenLocal(filepath.Join(t.TempDir(), "ring"), keys.LocalOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return &envelope.Config{Provider: l, Context: keys.EncryptionContext{"bulwark:store": "metadata"}}
}

func secretRecords() []Record {
	return []Record{
		SetIAMKey{Key: IAMKey{AccessKeyID: "BWIASECRETKEY0000001", Secret: "IAM-SECRET-VALUE", PrincipalARN: "arn:aws:iam::1:user/x", CreatedAt: time.Unix(1, 0)}},
		CreateTopic{Name: "classified-topic-name", ID: NewTopicID(), Partitions: 1},
	}
}

func grepFiles(t *testing.T, dir string, needles ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s contains %q", e.Name(), n)
			}
		}
	}
}

func TestSealedStore(t *testing.T) {
	dir := t.TempDir()
	z := sealing(t)
	s := openT(t, dir, Options{NodeID: 1, Sealing: z})
	want := commitT(t, s, secretRecords()...)
	grepFiles(t, dir, "IAM-SECRET-VALUE", "classified-topic-name")
	s = reopenT(t, s)
	requireSameState(t, s.State(), want)
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	grepFiles(t, dir, "IAM-SECRET-VALUE", "classified-topic-name")
	want = commitT(t, s, DeleteIAMKey{AccessKeyID: "BWIASECRETKEY0000001"})
	s = reopenT(t, s)
	requireSameState(t, s.State(), want)

	// A torn tail is cut off; the state before it survives.
	s.abandon()
	name := filepath.Join(dir, logName(s.base))
	good, _ := os.ReadFile(name)
	_ = os.WriteFile(name, append(bytes.Clone(good), 0, 0, 0, 1, 9, 9), 0o640)
	s = openT(t, dir, Options{NodeID: 1, Sealing: z})
	requireSameState(t, s.State(), want)
	s.abandon()

	// Wrong key and encryption off are clear errors.
	if _, err := Open(dir, Options{NodeID: 1, Sealing: sealing(t)}); !errors.Is(err, keys.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := Open(dir, Options{NodeID: 1}); !errors.Is(err, ErrSealedWithoutKey) {
		t.Fatalf("encryption off: %v", err)
	}
}

func TestSealedStoreTamperingInTheMiddle(t *testing.T) {
	dir := t.TempDir()
	z := sealing(t)
	s := openT(t, dir, Options{NodeID: 1, Sealing: z, SnapshotEvery: -1})
	for range 5 {
		commitT(t, s, CreateTopic{Name: "t" + NewTopicID().String()[:6], ID: NewTopicID(), Partitions: 1})
	}
	s.abandon()
	name := filepath.Join(dir, logName(s.base))
	data, _ := os.ReadFile(name)
	data[envelope.HeaderSize+40] ^= 1 // inside the first sealed record (the bootstrap commit)
	_ = os.WriteFile(name, data, 0o640)
	if _, err := Open(dir, Options{NodeID: 1, Sealing: z}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("tampered record: %v", err)
	}
}

func TestTurningEncryptionOnSealsExistingMetadata(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{NodeID: 1})
	want := commitT(t, s, secretRecords()...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{NodeID: 1, Sealing: sealing(t)})
	requireSameState(t, s.State(), want)
	grepFiles(t, dir, "IAM-SECRET-VALUE", "classified-topic-name")
}
