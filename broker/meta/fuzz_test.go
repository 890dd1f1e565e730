package meta

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// seedLog returns a well-formed log of a few records of every type, starting at offset 0.
func seedLog(t testing.TB) []byte {
	id := TopicID{1, 2, 3, 4, 5, 6, 0x40, 8, 0x80, 10, 11, 12, 13, 14, 15, 16}
	recs := []Record{
		bootstrap{ClusterID: "AAECAwQFBgcICQoLDA0ODw", NodeID: 1},
		CreateTopic{Name: "orders", ID: id, Partitions: 2, Configs: map[string]string{"retention.ms": "1"},
			CreatedAt: time.UnixMilli(1700000000000).UTC()},
		CreatePartitions{ID: id, Total: 3},
		SetTopicConfigs{ID: id, Configs: map[string]string{"cleanup.policy": "compact"}},
		SetBrokerConfigs{Node: "1", Configs: map[string]string{"log.retention.ms": "5"}},
		SetLogStartOffset{ID: id, Partition: 2, Offset: 9},
		BumpLeaderEpoch{ID: id, Partition: 0},
		SetClientQuotas{Changes: []QuotaChange{{Entity: QuotaEntity{QuotaUser: ptr("alice"), QuotaClientID: nil},
			Set: map[string]float64{"producer_byte_rate": 1024}}}},
		DeleteTopic{ID: id},
	}
	var buf []byte
	for _, r := range recs {
		v, p, err := encodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		buf = appendFrame(buf, r.Type(), v, p)
	}
	return buf
}

// FuzzReplay feeds arbitrary bytes to the log replay Open runs on meta-*.log files. Invariants:
// it never panics; when it accepts the bytes, the whole-frame prefix it reports replays again to
// the same state with nothing torn, and the state survives a snapshot round trip (so apply never
// builds a state that a snapshot would reject).
func FuzzReplay(f *testing.F) {
	good := seedLog(f)
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add(append(append([]byte(nil), good...), 0, 0, 0, 0))
	f.Add(appendFrame(nil, TypeBootstrap, 0, []byte(`{"clusterId":"AAECAwQFBgcICQoLDA0ODw","nodeId":0}`)))
	f.Add(appendFrame(nil, TypeCreateTopic, 0, []byte(`{"name":"x","id":"AAECAwQFBgcICQoLDA0ODw","partitions":2}`)))
	f.Add(append(appendFrame(nil, TypeBootstrap, 0, []byte(`{"clusterId":"AAECAwQFBgcICQoLDA0ODw"}`)),
		appendFrame(nil, TypeCreateTopic, 0, []byte(`{"name":"x","id":"AAECAwQFBgcICQoLDA0ODw","partitions":65536}`))...))
	f.Add([]byte{0, 0, 0, 7, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBuilder(emptyState())
		sc, err := replayLog(b, "fuzz.log", 0, data)
		if err != nil {
			return
		}
		if sc.valid > len(data) || b.st.Offset != int64(sc.count)-1 || sc.torn != (sc.valid < len(data)) {
			t.Fatalf("scan %+v of %d bytes, offset %d", sc, len(data), b.st.Offset)
		}
		b2 := newBuilder(emptyState())
		sc2, err := replayLog(b2, "fuzz.log", 0, data[:sc.valid])
		if err != nil || sc2.torn || sc2.count != sc.count {
			t.Fatalf("replaying the accepted prefix: %+v, %v", sc2, err)
		}
		if !reflect.DeepEqual(b.st, b2.st) {
			t.Fatal("replay is not deterministic")
		}
		if b.st.ClusterID == "" {
			return
		}
		snap, err := encodeSnapshot(b.st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeSnapshot(snap)
		if err != nil {
			t.Fatalf("snapshot of a replayed state rejected: %v", err)
		}
		if !reflect.DeepEqual(back, b.st) {
			t.Fatal("snapshot round trip changed the state")
		}
	})
}

// FuzzSnapshot feeds arbitrary bytes to the snapshot decoder. Invariants: it never panics, and a
// snapshot it accepts re-encodes to one that decodes to the same state.
func FuzzSnapshot(f *testing.F) {
	b := newBuilder(emptyState())
	if _, err := replayLog(b, "seed", 0, seedLog(f)[:]); err != nil {
		f.Fatal(err)
	}
	id := NewTopicID()
	(CreateTopic{Name: "kept", ID: id, Partitions: 3, CreatedAt: time.UnixMilli(1).UTC()}).apply(b)
	good, err := encodeSnapshot(b.st)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(appendFrame(nil, 0, 0, []byte(`{"offset":3,"clusterId":"AAECAwQFBgcICQoLDA0ODw","topics":[null]}`)))
	f.Add(appendFrame(nil, 0, 0, []byte(`{"offset":3,"clusterId":"AAECAwQFBgcICQoLDA0ODw","nodeBrokerConfigs":{"":{}}}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeSnapshot(data)
		if err != nil {
			return
		}
		again, err := encodeSnapshot(st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeSnapshot(again)
		if err != nil || !reflect.DeepEqual(back, st) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzApply reaches the record decoders and the state machine behind the CRC, which random bytes
// rarely get past: each input line is a type byte followed by a JSON payload, framed with a
// correct CRC after a bootstrap record. Invariants as for FuzzReplay: no panic, and an accepted
// log gives a state that a snapshot round trip keeps.
func FuzzApply(f *testing.F) {
	f.Add([]byte("\x02{\"name\":\"a\",\"id\":\"AAECAwQFBgcICQoLDA0ODw\",\"partitions\":2}\n\x08{\"id\":\"AAECAwQFBgcICQoLDA0ODw\",\"partition\":1}"))
	f.Add([]byte("\x02{\"name\":\"a\",\"id\":\"AAECAwQFBgcICQoLDA0ODw\",\"partitions\":1,\"configs\":{\"x\":\"\"}}\n\x04{\"id\":\"AAECAwQFBgcICQoLDA0ODw\",\"total\":4}\n\x07{\"id\":\"AAECAwQFBgcICQoLDA0ODw\",\"partition\":3,\"offset\":5}"))
	f.Add([]byte("\x06{\"node\":\"1\",\"configs\":{\"a\":\"b\"}}\n\x06{\"node\":\"\",\"configs\":{\"a\":\"c\"}}\n\x03{\"id\":\"AAECAwQFBgcICQoLDA0ODw\"}"))
	f.Add([]byte("\x05{\"id\":\"AAECAwQFBgcICQoLDA0ODw\",\"configs\":null}\n\x01{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		buf := appendFrame(nil, TypeBootstrap, 0, []byte(`{"clusterId":"AAECAwQFBgcICQoLDA0ODw","nodeId":1}`))
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			if len(line) > 0 {
				buf = appendFrame(buf, RecordType(line[0]), 0, line[1:])
			}
		}
		b := newBuilder(emptyState())
		if _, err := replayLog(b, "fuzz.log", 0, buf); err != nil {
			return
		}
		snap, err := encodeSnapshot(b.st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeSnapshot(snap)
		if err != nil || !reflect.DeepEqual(back, b.st) {
			t.Fatalf("snapshot round trip: %v", err)
		}
	})
}
