package broker

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// plainBatch builds an n-record batch without a producer id, values prefixed with tag.
func plainBatch(n int, tag string) []byte {
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Value: fmt.Appendf(nil, "%s-%d", tag, i)}
	}
	return record.BuildBatch(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: time.Now().UnixMilli()}, recs)
}

// TestThresholdDefault checks the default minimum: the smaller of 1 GiB and 5 %.
func TestThresholdDefault(t *testing.T) {
	g := newSpaceGuard([]string{"/x"}, -1)
	for _, c := range []struct{ total, want int64 }{
		{100 << 30, 1 << 30}, // 5 GiB would be 5 %: capped at 1 GiB
		{10 << 30, 10 << 30 / 100 * 5},
		{64 << 20, 64 << 20 / 100 * 5},
	} {
		if got := g.threshold(c.total); got != c.want {
			t.Errorf("threshold(%d) = %d, want %d", c.total, got, c.want)
		}
	}
	if got := newSpaceGuard(nil, 4096).threshold(1 << 40); got != 4096 {
		t.Errorf("configured threshold %d, want 4096", got)
	}
}

// TestProduceRefusedWhileLowOnSpace drives the guard with a file system whose free space the
// test sets: under the minimum, produce answers KAFKA_STORAGE_ERROR while fetches, offset
// commits and DeleteRecords go on; with space back, producing resumes without a restart.
func TestProduceRefusedWhileLowOnSpace(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.LogDirsMinFreeBytes = 1 << 20 }))
	var free atomic.Int64
	free.Store(100 << 20)
	b.cluster.space.setSpace(func(string) (int64, int64, error) { return 1 << 30, free.Load(), nil })
	adm := b.Admin(t)
	mustCreateTopic(t, adm, "full", 1, nil)
	cl := b.Client(t)
	if r := produceRaw(t, cl, "full", plainBatch(5, "before"), nil); r.ErrorCode != 0 {
		t.Fatalf("produce with space: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	free.Store(512 << 10)
	b.cluster.space.check(b.cluster) // what the once-a-second check does
	r := produceRaw(t, cl, "full", plainBatch(5, "refused"), nil)
	wantCode(t, "produce while low on space", r.ErrorCode, kerr.KafkaStorageError)
	if r.ErrorMessage == nil || !containsAll(*r.ErrorMessage, "524288", "1048576") {
		t.Errorf("message %v does not give the free space and the minimum", r.ErrorMessage)
	}
	if !kerr.IsRetriable(kerr.ErrorForCode(r.ErrorCode)) {
		t.Error("KAFKA_STORAGE_ERROR is not retriable for clients")
	}

	// Reads, group offsets and DeleteRecords go on.
	consumer := b.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"full": {0: kgo.NewOffset().AtStart()}}))
	fs := consumer.PollRecords(testContext(t), 5)
	if err := fs.Err0(); err != nil || fs.NumRecords() != 5 {
		t.Fatalf("fetch while low on space: %d records, %v", fs.NumRecords(), err)
	}
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "full", Partition: 0, At: 5})
	if err := adm.CommitAllOffsets(testContext(t), "g", offsets); err != nil {
		t.Fatalf("offset commit while low on space: %v", err)
	}
	del, err := adm.DeleteRecords(testContext(t), kadm.Offsets{"full": {0: {Topic: "full", Partition: 0, At: 2}}})
	if err != nil || del.Error() != nil {
		t.Fatalf("DeleteRecords while low on space: %v %v", err, del.Error())
	}

	// Space comes back: the guard's own loop lets produce through again.
	free.Store(100 << 20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := produceRaw(t, cl, "full", plainBatch(5, "after"), nil)
		if r.ErrorCode == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("produce still refused after space came back: %v", kerr.ErrorForCode(r.ErrorCode))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestUnmeasuredDirNeverRefuses: before the first check, or where the file system cannot be
// measured, produce goes through.
func TestUnmeasuredDirNeverRefuses(t *testing.T) {
	g := newSpaceGuard([]string{"/data"}, 1<<20)
	g.setSpace(func(string) (int64, int64, error) { return -1, -1, fmt.Errorf("statfs unsupported") })
	c := &cluster{space: g, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p := &partition{dir: "/data/t-0", topicName: "t"}
	for i := range 3 {
		if err := c.admitProduce(p, 1<<20, "test"); err != nil {
			t.Fatalf("refused without a measurement: %v", err)
		}
		if i == 0 {
			g.check(c) // fails to measure
		}
	}
	g.setSpace(func(string) (int64, int64, error) { return 1 << 30, 3 << 20, nil })
	g.check(c)
	for i := range 3 {
		err := c.admitProduce(p, 1<<20, "test")
		if (err == nil) != (i < 2) {
			t.Fatalf("batch %d of 1 MiB with 3 MiB free and a 1 MiB minimum: %v", i, err)
		}
	}
}
