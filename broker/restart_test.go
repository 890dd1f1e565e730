package broker

import (
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
