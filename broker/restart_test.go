package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

func TestRestartKeepsTopicsRecordsAndIDs(t *testing.T) {
	dir := t.TempDir()
	small := withConfig(func(c *config.Config) { c.NumPartitions = 2 })
	b := startTestBroker(t, dir, small)
	cl := b.Client(t, kgo.AllowAutoTopicCreation())
	produced := produceN(t, cl, "durable", 300)
	before := b.cluster.lookupTopic("durable")
	clusterID := b.cluster.store.State().ClusterID
	cl.Close()
	b.stop(t)

	b = startTestBroker(t, dir, small)
	after := b.cluster.lookupTopic("durable")
	if after == nil || after.id != before.id || len(after.partitions) != 2 {
		t.Fatalf("topic after restart: %+v", after)
	}
	if got := b.cluster.store.State().ClusterID; got != clusterID {
		t.Fatalf("cluster id changed across restart: %s -> %s", clusterID, got)
	}
	assertSameRecords(t, produced, consumeAll(t, b.Addr, "durable", len(produced)))
	// New records continue the offsets.
	more := produceN(t, b.Client(t), "durable", 10)
	for _, r := range more {
		if r.Offset < 100 {
			t.Fatalf("offset %d reused after restart", r.Offset)
		}
	}
}

func TestRestartWithManySegmentsAndRetention(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	ctx := testContext(t)
	segBytes, retention := "4096", "8192"
	if _, err := b.Admin(t).CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": &segBytes}, "segs"); err != nil {
		t.Fatal(err)
	}
	cl := b.Client(t, kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1)) // one record per batch
	produced := produceN(t, cl, "segs", 300)
	p := b.cluster.lookupTopic("segs").partition(0)
	if n := p.log.NumSegments(); n < 5 {
		t.Fatalf("%d segments, want many", n)
	}
	cl.Close()
	b.stop(t)

	b = startTestBroker(t, dir)
	assertSameRecords(t, produced, consumeAll(t, b.Addr, "segs", len(produced)))

	// Size retention deletes whole old segments, moves the log start offset, and the new start
	// survives a restart.
	if _, err := b.Admin(t).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.bytes", Value: &retention}}, "segs"); err != nil {
		t.Fatal(err)
	}
	b.cluster.enforceRetention(time.Now())
	start := b.cluster.lookupTopic("segs").partition(0).log.LogStartOffset()
	if start == 0 {
		t.Fatal("retention.bytes deleted nothing")
	}
	b.stop(t)
	b = startTestBroker(t, dir)
	p = b.cluster.lookupTopic("segs").partition(0)
	if got := p.log.LogStartOffset(); got != start {
		t.Fatalf("log start offset %d after restart, want %d", got, start)
	}
	if got := p.log.LogEndOffset(); got != 300 {
		t.Fatalf("log end offset %d after restart, want 300", got)
	}
}
