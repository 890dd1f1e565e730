package metrics

import (
	"strconv"

	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// maxTimestampReads bounds the record reads one scrape makes for time lag; partitions past it
// report offset lag only until a later scrape (the cache keeps what was read).
const maxTimestampReads = 1000

// lagKey is a committed offset whose record timestamp was read.
type lagKey struct {
	partitionKey
	offset int64
}

// lagCache keeps the timestamps read for committed offsets, so a group that stopped consuming
// costs one read per partition, not one per scrape. Each scrape keeps only what it used.
type lagCache struct {
	ts map[lagKey]int64
}

// lagMetrics emits consumer lag as MSK does: for groups in the Stable or Empty state, per group
// and topic the sum and maximum of the partitions' offset lag and the largest time lag, and at
// PER_TOPIC_PER_PARTITION each partition's. Offset lag is the high watermark minus the
// committed offset; time lag is how old the first unconsumed record is (EstimatedTimeLag, in
// seconds), read from the batch holding the committed offset.
func (c *Collector) lagMetrics(e *emitter, level Level, groups []stats.GroupView, topics scrapeTopics) {
	now := c.opts.Now().UnixMilli()
	used := make(map[lagKey]int64)
	reads := 0
	for _, g := range groups {
		if g.State != "Stable" && g.State != "Empty" {
			continue
		}
		type agg struct {
			sum, max int64
			maxTime  float64
		}
		byTopic := map[string]*agg{}
		for _, o := range g.Offsets {
			k := partitionKey{o.Topic, o.Partition}
			end, ok := topics.end[k]
			if !ok {
				continue // the topic was deleted; Kafka drops its offsets
			}
			lag := max(end-o.Offset, 0)
			timeLag, known := 0.0, lag == 0
			if lag > 0 {
				lk := lagKey{k, o.Offset}
				ts, ok := c.lag.ts[lk]
				if !ok && reads < maxTimestampReads {
					reads++
					ts, ok = c.src.RecordTimestamp(o.Topic, o.Partition, o.Offset)
				}
				if ok {
					used[lk] = ts
					timeLag, known = float64(max(now-ts, 0))/1000, true
				}
			}
			a := byTopic[o.Topic]
			if a == nil {
				a = &agg{}
				byTopic[o.Topic] = a
			}
			a.sum += lag
			a.max = max(a.max, lag)
			if known {
				a.maxTime = max(a.maxTime, timeLag)
			}
			if level >= PerTopicPerPartition {
				idx := strconv.Itoa(int(o.Partition))
				e.emit(lagValue, float64(lag), "OffsetLag", g.ID, o.Topic, idx)
				if known {
					e.emit(lagValue, timeLag, "EstimatedTimeLag", g.ID, o.Topic, idx)
				}
			}
		}
		for _, topic := range sortedKeys(byTopic) {
			a := byTopic[topic]
			e.emit(lagValue, float64(a.sum), "SumOffsetLag", g.ID, topic, "")
			e.emit(lagValue, float64(a.max), "MaxOffsetLag", g.ID, topic, "")
			e.emit(lagValue, a.maxTime, "EstimatedMaxTimeLag", g.ID, topic, "")
		}
	}
	c.lag.ts = used
}
