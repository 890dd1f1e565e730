package broker

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestLargeFetchResponseEncodesIntoOneBuffer: a multi-megabyte Fetch response is encoded into a
// buffer sized up front (never grown), byte for byte as kmsg encodes it, and the connection does
// not keep that buffer afterwards.
func TestLargeFetchResponseEncodesIntoOneBuffer(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(16)
	for ti := range 3 {
		topic := kmsg.NewFetchResponseTopic()
		topic.Topic = "t"
		topic.TopicID = [16]byte{byte(ti)}
		for p := range 4 {
			part := kmsg.NewFetchResponseTopicPartition()
			part.Partition = int32(p)
			part.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 1, FirstOffset: 2}}
			part.RecordBatches = bytes.Repeat([]byte{byte(p)}, 700<<10)
			topic.Partitions = append(topic.Partitions, part)
		}
		resp.Topics = append(resp.Topics, topic)
	}
	small := make([]byte, 0, 4096)
	buf := responseBuffer(small, resp)
	if cap(buf) < largeResponse {
		t.Fatalf("a %d-byte hint got a %d-byte buffer", responseSizeHint(resp), cap(buf))
	}
	before := cap(buf)
	out := appendResponse(buf[:0], 7, resp)
	if cap(out) != before {
		t.Fatalf("the buffer grew from %d to %d: the size hint is too small", before, cap(out))
	}
	want := appendResponse(nil, 7, resp)
	if !bytes.Equal(out, want) {
		t.Fatal("the pre-sized encoding differs from kmsg's")
	}
	if kept := releaseResponseBuffer(out); kept != nil {
		t.Fatalf("the connection keeps a %d-byte buffer after a large response", cap(kept))
	}
	// Small responses keep using the connection's buffer.
	md := kmsg.NewPtrMetadataResponse()
	if got := responseBuffer(small, md); cap(got) != cap(small) {
		t.Fatal("a small response did not reuse the connection's buffer")
	}
	if kept := releaseResponseBuffer(small); cap(kept) != cap(small) {
		t.Fatal("the connection dropped its small buffer")
	}
}
