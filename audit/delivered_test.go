package audit

import (
	"bytes"
	"testing"

	"github.com/bulwark-kafka/bulwark/broker/keys"
)

// verifyDelivered checks lines as a sink delivered them (at least once; maybe trimmed at the
// start by the sink's retention).
func verifyDelivered(kp keys.Provider, lines [][]byte, dropRedelivered, trimmed bool) *Report {
	v := NewVerifier("audit", kp)
	v.DropRedelivered, v.StartMayBeTrimmed = dropRedelivered, trimmed
	for i, l := range lines {
		v.Line("topic", i+1, l)
	}
	return v.Finish(false)
}

func TestVerifyDeliveredRecords(t *testing.T) {
	kp := testKeys(t)
	dir := t.TempDir()
	writeTrail(t, dir, kp, 40)
	lines := readAll(t, dir)
	cat := func(parts ...[][]byte) [][]byte {
		var out [][]byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	// A crash re-sent records 15 to 19: dropped as redelivered, and only then.
	again := cat(lines[:20], lines[15:])
	if rep := verifyDelivered(kp, again, true, false); !rep.OK() || rep.Redelivered != 5 || rep.Records != uint64(len(lines)) {
		t.Fatalf("redelivered records: %+v", rep)
	}
	if rep := verifyDelivered(kp, again, false, false); rep.OK() || firstKind(rep) != "reordered" {
		t.Fatalf("repeats accepted without DropRedelivered: %+v", rep.Problems)
	}
	// A repeat that is not byte for byte the record is no redelivery.
	edited := bytes.Replace(lines[16], []byte("req-"), []byte("rex-"), 1)
	if rep := verifyDelivered(kp, cat(lines[:20], [][]byte{edited}, lines[20:]), true, false); rep.OK() || firstKind(rep) != "reordered" {
		t.Fatalf("an edited repeat passed as a redelivery: %+v", rep.Problems)
	}
	// Deleted, edited and reordered records are still found.
	if rep := verifyDelivered(kp, cat(lines[:12], lines[13:]), true, false); rep.OK() || firstKind(rep) != "missing" {
		t.Fatalf("a deleted record: %+v", rep.Problems)
	}
	e := cat(lines)
	e[7] = bytes.Replace(e[7], []byte("User:alice"), []byte("User:mallory"), 1)
	if rep := verifyDelivered(kp, e, true, false); rep.OK() || firstKind(rep) != "edited" {
		t.Fatalf("an edited record: %+v", rep.Problems)
	}
	r := cat(lines)
	r[5], r[6] = r[6], r[5]
	if rep := verifyDelivered(kp, r, true, false); rep.OK() || firstKind(rep) != "reordered" {
		t.Fatalf("reordered records: %+v", rep.Problems)
	}
	if rep := verifyDelivered(kp, lines[:len(lines)-3], true, false); rep.OK() || firstKind(rep) != "truncated" {
		t.Fatalf("a truncated tail: %+v", rep.Problems)
	}

	// A start removed by the sink's own retention is accepted only when said so.
	if rep := verifyDelivered(kp, lines[10:], true, true); !rep.OK() || rep.FirstSeq != 11 {
		t.Fatalf("trimmed start: %+v", rep)
	}
	if rep := verifyDelivered(kp, lines[10:], true, false); rep.OK() || firstKind(rep) != "missing" {
		t.Fatalf("a removed start passed: %+v", rep.Problems)
	}
}
