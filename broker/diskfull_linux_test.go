//go:build linux

package broker

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// smallFileSystem mounts a tmpfs of size bytes on a fresh directory for the test. It needs
// root (CI runs as root); elsewhere the test is skipped, except under CI, where that is a failure.
func smallFileSystem(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount a %s tmpfs for the disk-full test: %v", size, err)
		}
		t.Skipf("cannot mount a tmpfs here (%v); CI runs this as root", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	return dir
}

// bigBatch is a plain batch of n records of size bytes, each value starting with its tag.
func bigBatch(n, size int, tag string) ([]byte, [][]byte) {
	recs := make([]record.Record, n)
	vals := make([][]byte, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		copy(v, tag)
		vals[i] = v
		recs[i] = record.Record{Value: v}
	}
	return record.BuildBatch(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: time.Now().UnixMilli()}, recs), vals
}

// fillUntilRefused produces batches of n records of 16 KiB to partition 0 of topic until the
// broker has refused enough of them with KAFKA_STORAGE_ERROR (or maxBatches were sent), noting
// every acknowledged value by offset. It returns the offset after the last acknowledged record
// and the number refused.
func fillUntilRefused(t *testing.T, cl *kgo.Client, topic string, n, enough, maxBatches int, acked map[int64][]byte) (last int64, refused int) {
	t.Helper()
	for i := 0; i < maxBatches && refused < enough; i++ {
		batch, vals := bigBatch(n, 16<<10, string(rune('A'+i%26)))
		r := produceRaw(t, cl, topic, batch, nil)
		switch r.ErrorCode {
		case 0:
			for j, v := range vals {
				acked[r.BaseOffset+int64(j)] = v
			}
			last = r.BaseOffset + int64(len(vals))
		case kerr.KafkaStorageError.Code:
			refused++
		default:
			t.Fatalf("produce %d: %v", i, kerr.ErrorForCode(r.ErrorCode))
		}
	}
	return last, refused
}

// TestDiskFills fills a 48 MiB file system with an 8 MiB minimum: producers get the retriable KAFKA_STORAGE_ERROR
// once free space falls under the minimum, consumers and offset commits keep working, every
// acknowledged record reads back, and DeleteRecords frees space so that producing resumes by
// itself.
func TestDiskFills(t *testing.T) {
	dir := smallFileSystem(t, "48m")
	b := startTestBroker(t, dir, withConfig(func(c *config.Config) {
		c.LogDirsMinFreeBytes = 8 << 20
	}))
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "fill", 1, map[string]*string{
		"segment.bytes": kadm.StringPtr("1048576"), "file.delete.delay.ms": kadm.StringPtr("0")})
	cl := b.Client(t)

	acked := map[int64][]byte{} // offset -> value
	last, refused := fillUntilRefused(t, cl, "fill", 16, 5, 400, acked)
	if refused == 0 {
		t.Fatalf("48 MiB never filled: %d records acknowledged", len(acked))
	}
	t.Logf("%d records acknowledged before the file system filled", len(acked))
	if _, usable, err := diskSpace(dir); err != nil || usable < 4<<20 {
		t.Errorf("the guard let the file system fill to %d free bytes (%v)", usable, err)
	}

	// Everything acknowledged reads back; a group can commit.
	readBack := func(from int64) {
		t.Helper()
		c := b.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"fill": {0: kgo.NewOffset().At(from)}}),
			kgo.FetchMaxPartitionBytes(4<<20))
		seen := 0
		for want := int(last - from); seen < want; {
			fs := c.PollFetches(testContext(t))
			if err := fs.Err0(); err != nil {
				t.Fatalf("fetch: %v", err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if v, ok := acked[r.Offset]; ok && r.Offset < last {
					if !bytes.Equal(v, r.Value) {
						t.Fatalf("offset %d reads back different bytes", r.Offset)
					}
					seen++
				}
			})
		}
	}
	readBack(0)
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "fill", Partition: 0, At: last})
	if err := adm.CommitAllOffsets(testContext(t), "g", offsets); err != nil {
		t.Fatalf("offset commit on a full disk: %v", err)
	}

	// Freeing space: DeleteRecords removes the old segments at once (file.delete.delay.ms=0),
	// and the next regular check lets produce through.
	cut := last - 16*8
	del, err := adm.DeleteRecords(testContext(t), kadm.Offsets{"fill": {0: {Topic: "fill", Partition: 0, At: cut}}})
	if err != nil || del.Error() != nil {
		t.Fatalf("DeleteRecords on a full disk: %v %v", err, del.Error())
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		batch, vals := bigBatch(16, 16<<10, "again")
		r := produceRaw(t, cl, "fill", batch, nil)
		if r.ErrorCode == 0 {
			for j, v := range vals {
				acked[r.BaseOffset+int64(j)] = v
			}
			last = r.BaseOffset + int64(len(vals))
			break
		}
		if r.ErrorCode != kerr.KafkaStorageError.Code || time.Now().After(deadline) {
			t.Fatalf("produce after DeleteRecords: %v", kerr.ErrorForCode(r.ErrorCode))
		}
		time.Sleep(100 * time.Millisecond)
	}
	readBack(cut)
}

// TestWriteHitsENOSPC turns the guard off so that appends run into ENOSPC for real: the failed
// write is cut back off the segment, producers get KAFKA_STORAGE_ERROR, every acknowledged
// record reads back, and once space is freed the same log takes appends again.
func TestWriteHitsENOSPC(t *testing.T) {
	dir := smallFileSystem(t, "32m")
	b := startTestBroker(t, dir, withConfig(func(c *config.Config) { c.LogDirsMinFreeBytes = 0 }))
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "enospc", 1, map[string]*string{
		"segment.bytes": kadm.StringPtr("1048576"), "file.delete.delay.ms": kadm.StringPtr("0")})
	cl := b.Client(t)
	acked := map[int64][]byte{}
	last, failed := fillUntilRefused(t, cl, "enospc", 8, 3, 300, acked)
	if failed == 0 {
		t.Fatal("the file system never filled")
	}
	check := func() {
		t.Helper()
		c := b.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"enospc": {0: kgo.NewOffset().AtStart()}}))
		start := last
		for off := range acked {
			start = min(start, off)
		}
		for seen := int64(0); seen < last-start; {
			fs := c.PollFetches(testContext(t))
			if err := fs.Err0(); err != nil {
				t.Fatalf("fetch: %v", err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if v, ok := acked[r.Offset]; ok {
					if !bytes.Equal(v, r.Value) {
						t.Fatalf("offset %d reads back different bytes", r.Offset)
					}
					seen++
				} else if r.Offset < last {
					t.Fatalf("offset %d was never acknowledged", r.Offset)
				}
			})
		}
	}
	check()
	cut := last - 8*4
	if del, err := adm.DeleteRecords(testContext(t), kadm.Offsets{"enospc": {0: {Topic: "enospc", Partition: 0, At: cut}}}); err != nil || del.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, del.Error())
	}
	for off := range acked {
		if off < cut {
			delete(acked, off)
		}
	}
	batch, vals := bigBatch(8, 16<<10, "after")
	r := produceRaw(t, cl, "enospc", batch, nil)
	if r.ErrorCode != 0 {
		t.Fatalf("produce after freeing space: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r.BaseOffset != last {
		t.Fatalf("appended at %d, want %d: a failed write took offsets", r.BaseOffset, last)
	}
	for j, v := range vals {
		acked[r.BaseOffset+int64(j)] = v
	}
	last = r.BaseOffset + int64(len(vals))
	check()
}
