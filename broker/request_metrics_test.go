package broker

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// produceResponse8 is an acks=all answer for 8 partitions, as a bench producer gets.
func produceResponse8() *kmsg.ProduceResponse {
	resp := kmsg.NewPtrProduceResponse()
	rt := kmsg.NewProduceResponseTopic()
	rt.Topic = "bench"
	for p := int32(0); p < 8; p++ {
		rp := kmsg.NewProduceResponseTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
	}
	resp.Topics = append(resp.Topics, rt)
	return resp
}

// BenchmarkRequestMetrics is what metrics add to one 8-partition produce request: the topic and
// all-topics counters of each partition, and the request's RequestMetrics (seven stage times,
// the version, eight error codes).
func BenchmarkRequestMetrics(b *testing.B) {
	s := &Server{stats: stats.NewBroker(APIName)}
	t := s.stats.NewTopic()
	resp := produceResponse8()
	h := requestHeader{key: apiKeyProduce, version: 11}
	st := hook.Stages{Queue: 20 * time.Microsecond, Local: 300 * time.Microsecond, Remote: 2 * time.Millisecond,
		ResponseSend: 15 * time.Microsecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var tally stats.ProduceTally
			for p := 0; p < 8; p++ {
				tally.Add(200, 200<<10, stats.Appended)
			}
			s.stats.Produced(t, &tally)
			s.recordRequest(h, st, 0, resp)
		}
	})
}

func TestRequestMetricsCountProduceErrors(t *testing.T) {
	s := &Server{stats: stats.NewBroker(APIName)}
	resp := produceResponse8()
	resp.Topics[0].Partitions[3].ErrorCode = 3
	s.recordRequest(requestHeader{key: apiKeyProduce, version: 11}, hook.Stages{Local: time.Millisecond}, 0, resp)
	s.recordRequest(requestHeader{key: apiKeyFetch, version: 17}, hook.Stages{Local: time.Millisecond}, time.Second, kmsg.NewPtrFetchResponse())
	got := map[int16]uint64{}
	s.stats.Requests.Get(apiKeyProduce).EachError(func(code int16, n *atomic.Uint64) { got[code] = n.Load() })
	if got[0] != 7 || got[3] != 1 {
		t.Errorf("produce error counts %v, want 7 NONE and 1 UNKNOWN_TOPIC_OR_PARTITION", got)
	}
	if n := s.stats.Requests.FetchConsumer.Versions[17].Load(); n != 1 {
		t.Errorf("FetchConsumer v17 counted %d times", n)
	}
	if n := s.stats.Throttles.Count[stats.QuotaFetch].Load(); n != 1 {
		t.Errorf("fetch throttles %d", n)
	}
}
