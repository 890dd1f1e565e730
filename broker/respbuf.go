package broker

// Response buffers. A Fetch response carries megabytes of record batches; encoding it into a
// buffer that grows by doubling copies every byte about twice more and zeroes each larger
// allocation, the largest user-space cost of a consumer keeping up with heavy produce
// (docs/benchmarks.md, "Where the time goes"). So a large response is encoded into a buffer
// allocated once at its size. Measured, a pool of such buffers saved no latency and cost about
// 50 MiB of resident memory, so there is none: a written large buffer is left to the collector.

import "github.com/twmb/franz-go/pkg/kmsg"

// largeResponse is the size from which a response gets a buffer of its own rather than the one
// its connection keeps between responses (kept small, so idle connections pin little).
const largeResponse = 1 << 20

// responseSizeHint estimates a response's encoded size when it carries record batches (Fetch),
// 0 for the others: the batches plus a generous allowance for the fields around them.
func responseSizeHint(resp kmsg.Response) int {
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 256
	for _, t := range fr.Topics {
		n += 64 + len(t.Topic)
		for _, p := range t.Partitions {
			n += 96 + len(p.RecordBatches) + 24*len(p.AbortedTransactions)
		}
	}
	return n
}

// responseBuffer returns buf, or a buffer of the right size when the response needs a large one.
func responseBuffer(buf []byte, resp kmsg.Response) []byte {
	if need := responseSizeHint(resp); need >= largeResponse && cap(buf) < need {
		return make([]byte, 0, need)
	}
	return buf
}

// releaseResponseBuffer returns the buffer a connection keeps once a response is written: none
// after a large one.
func releaseResponseBuffer(buf []byte) []byte {
	if cap(buf) >= largeResponse {
		return nil
	}
	return buf
}
