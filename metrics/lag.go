package metrics

import (
	"strconv"

	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// maxTimestampReads bounds the record reads one scrape makes for time lag. A partition past the
// budget uses the timestamp last read for its group (taken at an offset no later than the
// committed one, so the lag it gives is, if anything, too large), or reports offset lag only.
const maxTimestampReads = 1000

// lagKey is one group's committed position in one partition.
type lagKey struct {
	group string
	partitionKey
}

// lagRead is the timestamp of the record at a committed offset.
type lagRead struct {
	offset, ts int64
}

// lagCache keeps, per group and partition, the timestamp last read, so a group that stopped
// consuming costs one read per partition, not one per scrape. Each scrape keeps only the
// positions it saw.
type lagCache struct {
	ts map[lagKey]lagRead
}

// lagMetrics emits consumer lag as MSK does: for groups in the Stable or Empty state, per group
// and topic the sum and maximum of the partitions' offset lag and the largest time lag, and at
// PER_TOPIC_PER_PARTITION each partition's. Offset lag is the high watermark minus the
// committed offset; time lag is how old the first unconsumed record is (EstimatedTimeLag, in
// seconds), read from the batch holding the committed offset. A time lag that could not be read
// is left out rather than reported as zero.
func (c *Collector) lagMetrics(e *emitter, level Level, groups []stats.GroupView, topics scrapeTopics) {
	now := c.opts.Now().UnixMilli()
	used := make(map[lagKey]lagRead)
	reads := 0
	for _, g := range groups {
		if g.State != "Stable" && g.State != "Empty" {
			continue
		}
		type agg struct {
			sum, max  int64
			maxTime   float64
			timeKnown bool
		}
		byTopic := map[string]*agg{}
		for _, o := range g.Offsets {
			pk := partitionKey{o.Topic, o.Partition}
			end, ok := topics.end[pk]
			if !ok {
				continue // the topic was deleted; Kafka drops its offsets
			}
			lag := max(end-o.Offset, 0)
			timeLag, known := 0.0, lag == 0
			if lag > 0 {
				k := lagKey{g.ID, pk}
				r, cached := c.lag.ts[k]
				if (!cached || r.offset != o.Offset) && reads < maxTimestampReads {
					reads++
					if ts, ok := c.src.RecordTimestamp(o.Topic, o.Partition, o.Offset); ok {
						r, cached = lagRead{o.Offset, ts}, true
					}
				}
				if cached && r.offset <= o.Offset {
					used[k] = r
					timeLag, known = float64(max(now-r.ts, 0))/1000, true
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
				a.timeKnown = true
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
			if a.timeKnown {
				e.emit(lagValue, a.maxTime, "EstimatedMaxTimeLag", g.ID, topic, "")
			}
		}
	}
	c.lag.ts = used
}
