package broker

import (
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/hook"
	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// recordRequest adds one request to its RequestMetrics: its version, its time per stage and
// every error code of its response (NONE included, as Kafka's ErrorsPerSec counts them).
func (s *Server) recordRequest(h requestHeader, st hook.Stages, throttle time.Duration, resp kmsg.Response) {
	r := s.stats.Requests.Get(h.key)
	if r == nil {
		return
	}
	times := stats.Times{
		stats.StageTotal:         st.Total(),
		stats.StageRequestQueue:  st.Queue,
		stats.StageLocal:         st.Local,
		stats.StageRemote:        st.Remote,
		stats.StageThrottle:      throttle,
		stats.StageResponseQueue: st.ResponseQueue,
		stats.StageResponseSend:  st.ResponseSend,
	}
	r.Record(h.version, &times)
	countErrors(r, resp)
	if h.key == apiKeyFetch {
		s.stats.Requests.FetchConsumer.Record(h.version, &times)
	}
	if throttle > 0 {
		s.stats.Throttled(quotaTypeOf(h.key), throttle)
	}
}

// quotaTypeOf is the quota a throttled request of this API was held to: bandwidth for Produce
// and Fetch, request time (or controller mutations) for the rest.
func quotaTypeOf(key int16) int {
	switch key {
	case apiKeyProduce:
		return stats.QuotaProduce
	case apiKeyFetch:
		return stats.QuotaFetch
	}
	return stats.QuotaRequest
}

// countErrors counts a response's error codes, every ErrorCode field once, as Kafka's
// errorCounts do. Produce, Fetch and Metadata are walked directly; other responses, small and
// rare, by reflection.
func countErrors(r *stats.Request, resp kmsg.Response) {
	switch resp := resp.(type) {
	case nil:
		r.Error(0, 1) // acks=0: no response, nothing failed that the client was told of
	case *kmsg.ProduceResponse:
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				r.Error(resp.Topics[i].Partitions[j].ErrorCode, 1)
			}
		}
	case *kmsg.MetadataResponse:
		// Typed, since a Metadata answer may list every partition of the broker.
		for i := range resp.Topics {
			r.Error(resp.Topics[i].ErrorCode, 1)
			for j := range resp.Topics[i].Partitions {
				r.Error(resp.Topics[i].Partitions[j].ErrorCode, 1)
			}
		}
	case *kmsg.FetchResponse:
		r.Error(resp.ErrorCode, 1)
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				r.Error(resp.Topics[i].Partitions[j].ErrorCode, 1)
			}
		}
	default:
		seen := false
		walkErrorCodes(reflect.ValueOf(resp), func(code int16) {
			seen = true
			r.Error(code, 1)
		}, 0)
		if !seen {
			r.Error(0, 1)
		}
	}
}
