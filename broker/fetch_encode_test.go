package broker

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// randomFetchResponse builds a Fetch response of the given version from r: topics and
// partitions of every shape the handler produces (errors, null and empty batches, aborted
// transactions or none), and now and then a field only kmsg encodes.
func randomFetchResponse(r *rand.Rand, version int16) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = version
	resp.ThrottleMillis = r.Int32N(1000)
	resp.ErrorCode = int16(r.IntN(3))
	resp.SessionID = r.Int32()
	for range r.IntN(4) {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = string(bytes.Repeat([]byte{'a' + byte(r.IntN(26))}, 1+r.IntN(300)))
		for i := range t.TopicID {
			t.TopicID[i] = byte(r.Uint32())
		}
		for range r.IntN(5) {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = r.Int32N(100)
			p.ErrorCode = int16(r.IntN(2))
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = r.Int64(), r.Int64(), r.Int64()
			p.PreferredReadReplica = r.Int32N(3) - 1
			switch r.IntN(3) {
			case 1:
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			case 2:
				for range 1 + r.IntN(3) {
					p.AbortedTransactions = append(p.AbortedTransactions,
						kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: r.Int64(), FirstOffset: r.Int64()})
				}
			}
			switch r.IntN(3) {
			case 1:
				p.RecordBatches = []byte{}
			case 2:
				p.RecordBatches = make([]byte, 1+r.IntN(200))
				for i := range p.RecordBatches {
					p.RecordBatches[i] = byte(r.Uint32())
				}
			}
			switch r.IntN(20) {
			case 0:
				p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = 3, 10
			case 1:
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = 1, 2
			case 2:
				p.SnapshotID.EndOffset = 5
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if r.IntN(20) == 0 {
		resp.Brokers = []kmsg.FetchResponseBroker{{NodeID: 1, Host: "h", Port: 9092}}
	}
	return resp
}

// checkFetchPieces encodes resp both ways and fails unless the pieces spell kmsg's bytes, or
// the piecewise encoder declined a response with a field it does not write.
func checkFetchPieces(t *testing.T, resp *kmsg.FetchResponse) {
	t.Helper()
	want := appendResponse(nil, 7, resp)
	head, pieces, ok := encodeFetchPieces(make([]byte, 0, 16), 7, resp)
	if !ok {
		if plainFetchResponse(resp) {
			t.Fatalf("v%d: declined a plain response", resp.Version)
		}
		return
	}
	got := bytes.Join(pieces, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("v%d: pieces differ from kmsg's encoding\n got %x\nwant %x", resp.Version, got, want)
	}
	if n := int(binary.BigEndian.Uint32(head)); n != len(want)-4 {
		t.Fatalf("v%d: size prefix %d, want %d", resp.Version, n, len(want)-4)
	}
	// The batches are referenced, never copied into head.
	var batches int
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			batches += len(p.RecordBatches)
		}
	}
	if len(head)+batches != len(want) {
		t.Fatalf("v%d: head holds %d bytes, want %d without the batches", resp.Version, len(head), len(want)-batches)
	}
}

func TestFetchPiecesMatchKmsg(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for version := int16(4); version <= 17; version++ {
		for range 300 {
			checkFetchPieces(t, randomFetchResponse(r, version))
		}
	}
}

func TestFetchPiecesDeclineTaggedFields(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	p := kmsg.NewFetchResponseTopicPartition()
	p.DivergingEpoch.Epoch = 2
	resp.Topics = []kmsg.FetchResponseTopic{{Topic: "t", Partitions: []kmsg.FetchResponseTopicPartition{p}}}
	if _, _, ok := encodeFetchPieces(nil, 1, resp); ok {
		t.Fatal("encoded a diverging epoch it does not write")
	}
}

// FuzzFetchPieces drives the random response builder from fuzzed seeds and versions.
func FuzzFetchPieces(f *testing.F) {
	f.Add(uint64(1), uint64(2), int16(4))
	f.Add(uint64(3), uint64(4), int16(12))
	f.Add(uint64(5), uint64(6), int16(17))
	f.Fuzz(func(t *testing.T, a, b uint64, version int16) {
		if version < 4 || version > 17 {
			return
		}
		checkFetchPieces(t, randomFetchResponse(rand.New(rand.NewPCG(a, b)), version))
	})
}
