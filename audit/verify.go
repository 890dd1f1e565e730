package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bulwark-kafka/bulwark/broker/keys"
)

// Problem is one place where a trail is not what its writer wrote.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Seq  uint64 `json:"seq"`
	// Kind is missing, edited, reordered, unreadable, bad-signature, unverifiable or truncated.
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d (seq %d): %s: %s", filepath.Base(p.File), p.Line, p.Seq, p.Kind, p.Detail)
}

// Report is what Verify found.
type Report struct {
	Stream      string `json:"stream"`
	Files       int    `json:"files"`
	Records     uint64 `json:"records"`
	FirstSeq    uint64 `json:"firstSeq"`
	LastSeq     uint64 `json:"lastSeq"`
	Checkpoints int    `json:"checkpoints"`
	// Signed counts checkpoints whose signature verified; Unsigned those written without a key.
	Signed   int `json:"signed"`
	Unsigned int `json:"unsigned"`
	// UnsignedTail counts records after the last checkpoint: nothing proves they were not cut
	// off or altered. CleanClose says whether the trail ends with a final checkpoint.
	UnsignedTail int       `json:"unsignedTail"`
	CleanClose   bool      `json:"cleanClose"`
	Problems     []Problem `json:"problems,omitempty"`
	// Tail describes an unsigned or unclosed tail; it is one of the Problems unless the trail was
	// verified as live (a running broker's stream has not been closed).
	Tail string `json:"tail,omitempty"`
	// ProblemsOmitted counts problems beyond the first maxProblems.
	ProblemsOmitted int `json:"problemsOmitted,omitempty"`
	// Redelivered counts records read twice and dropped (Verifier.DropRedelivered).
	Redelivered uint64 `json:"redelivered,omitempty"`
}

// OK reports whether the trail verified without problems.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

const maxProblems = 100

func (r *Report) add(p Problem) {
	if len(r.Problems) >= maxProblems {
		r.ProblemsOmitted++
		return
	}
	r.Problems = append(r.Problems, p)
}

// Verifier checks a stream's records in order, across files.
type Verifier struct {
	stream    string
	kp        keys.Provider
	keyCache  map[string][]byte
	fkeys     *fileKeys // opens sealed files
	rep       Report
	prevHash  string
	prevSeq   uint64
	started   bool
	sinceCkpt int
	fileFirst uint64 // the first seq of the file being read
	// gap is a "missing" problem held back one record: if the missing record comes next, the
	// records were reordered rather than removed.
	gap     *Problem
	gapFrom uint64 // the first missing seq of gap
	// chain is the chain id of the first checkpoint; every later one must carry the same.
	chain string
	// firstPrev is the prevHash of the trail's first record, and retained what AuditRetention
	// records say was removed (the last removed seq and its hash): a trail that does not start at
	// seq 1 must be accounted for by one of them.
	firstPrev string
	retained  map[uint64]string
	// live: a running broker's trail; its last file may end in a line still being written.
	live bool

	// DropRedelivered makes a record that repeats, byte for byte, one of the last
	// redeliveryWindow records a duplicate to drop rather than a reordering: what a sink
	// delivered at least once (the audit topic, S3 objects) holds such repeats after a crash.
	DropRedelivered bool
	recent          map[uint64]string // seq → line hash of the last records, for DropRedelivered
	// StartMayBeTrimmed accepts a trail that starts after seq 1 without a retention record:
	// the audit topic's own retention removes its oldest records. The report's FirstSeq says
	// where it starts.
	StartMayBeTrimmed bool
}

// redeliveryWindow bounds how far back a redelivered record is recognized: a shipper re-sends
// at most the batch in flight when it stopped (4,096 records for the audit topic).
const redeliveryWindow = 16384

// redelivered reports (and remembers, for later ones) whether a record repeats a recent one.
func (v *Verifier) redelivered(seq uint64, hash string) bool {
	if !v.DropRedelivered {
		return false
	}
	if v.recent == nil {
		v.recent = map[uint64]string{}
	}
	if seq <= v.prevSeq && v.started {
		if h, ok := v.recent[seq]; ok && h == hash {
			v.rep.Redelivered++
			return true
		}
		return false
	}
	v.recent[seq] = hash
	if len(v.recent) > 2*redeliveryWindow {
		for k := range v.recent {
			if k+redeliveryWindow < seq {
				delete(v.recent, k)
			}
		}
	}
	return false
}

// NewVerifier checks records of the named stream. kp unwraps checkpoint keys (nil: signatures
// are reported as unverifiable).
func NewVerifier(stream string, kp keys.Provider) *Verifier {
	return &Verifier{stream: stream, kp: kp, keyCache: map[string][]byte{}, rep: Report{Stream: stream}, retained: map[uint64]string{},
		fkeys: newFileKeys(kp, stream)}
}

// VerifyDir checks every file of a stream in a directory, in sequence order.
func VerifyDir(dir, stream string, kp keys.Provider, live bool) (*Report, error) {
	files, err := listFiles(dir, stream)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("audit: no %s-*.jsonl files in %s", stream, dir)
	}
	v := NewVerifier(stream, kp)
	v.live = live
	for i, f := range files {
		fh, err := os.Open(f.path)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		before := v.rep.Records
		err = v.read(f.path, fh, i == len(files)-1)
		_ = fh.Close()
		if err != nil {
			return nil, err
		}
		if v.rep.Records > before && v.fileFirst != f.firstSeq {
			v.rep.add(Problem{File: f.path, Line: 1, Seq: v.fileFirst, Kind: "edited",
				Detail: fmt.Sprintf("the file is named for seq %d but starts at seq %d", f.firstSeq, v.fileFirst)})
		}
	}
	return v.Finish(live), nil
}

// Read checks one file's (or one reader's) records; it is taken as the last of the trail.
func (v *Verifier) Read(name string, rd io.Reader) error { return v.read(name, rd, true) }

// read checks a file's lines. A last line without its newline is a write in progress (live) or
// a torn end; anywhere but at the end of the trail's last file it is a problem.
func (v *Verifier) read(name string, rd io.Reader, last bool) error {
	v.rep.Files++
	lr := newLineReader(rd, v.fkeys)
	line := 0
	v.fileFirst = 0
	for {
		b, err := lr.next()
		if len(b) > 0 || err == nil || errors.Is(err, errBadSealedLine) {
			line++
		}
		switch {
		case errors.Is(err, errBadSealedLine):
			v.rep.add(Problem{File: name, Line: line, Seq: v.prevSeq + 1, Kind: "edited", Detail: err.Error()})
			continue
		case err == errLineTooLong:
			v.rep.add(Problem{File: name, Line: line, Seq: v.prevSeq + 1, Kind: "unreadable", Detail: err.Error()})
			return nil
		case err == io.EOF && len(b) > 0:
			if !(last && v.live) {
				v.rep.add(Problem{File: name, Line: line, Seq: v.prevSeq + 1, Kind: "truncated",
					Detail: "the file ends in the middle of a record"})
			}
			return nil
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("audit: %s: %w", name, err)
		}
		v.Line(name, line, b)
	}
}

// Line checks one record line.
func (v *Verifier) Line(name string, n int, raw []byte) {
	raw = bytes.TrimRight(raw, "\r")
	if inner, isOCSF, err := fromOCSF(raw); isOCSF {
		if err != nil {
			kind := "edited"
			if errors.Is(err, errUnknownMapping) {
				kind = "unverifiable"
			}
			v.rep.add(Problem{File: name, Line: n, Seq: v.prevSeq + 1, Kind: kind, Detail: err.Error()})
		}
		if inner == nil {
			return
		}
		raw = inner
	}
	r, err := decodeLine(raw)
	if err != nil {
		v.rep.add(Problem{File: name, Line: n, Seq: v.prevSeq + 1, Kind: "unreadable", Detail: err.Error()})
		return
	}
	if v.redelivered(r.Seq, lineHash(raw)) {
		return
	}
	v.rep.Records++
	reordered := false
	if g := v.gap; g != nil {
		v.gap = nil
		if r.Seq >= v.gapFrom && r.Seq < g.Seq {
			v.rep.add(Problem{File: name, Line: n, Seq: r.Seq, Kind: "reordered",
				Detail: fmt.Sprintf("seq %d comes after seq %d", r.Seq, v.prevSeq)})
			reordered = true
		} else {
			v.rep.add(*g)
		}
	}
	if v.fileFirst == 0 {
		v.fileFirst = r.Seq
	}
	switch {
	case !v.started:
		// A trail whose first record is not seq 1 lost its earlier files to retention (an
		// AuditRetention record later in the trail must say so; Finish checks).
		v.rep.FirstSeq = r.Seq
		v.firstPrev = r.PrevHash
		if r.Seq == 1 && r.PrevHash != zeroHash {
			v.rep.add(Problem{File: name, Line: n, Seq: r.Seq, Kind: "edited", Detail: "the first record of a stream must follow no record (prevHash of zeros)"})
		}
	case reordered:
	case r.Seq == v.prevSeq+1 && r.PrevHash != v.prevHash:
		v.rep.add(Problem{File: name, Line: n, Seq: r.Seq, Kind: "edited",
			Detail: fmt.Sprintf("the record before (seq %d) does not hash to this record's prevHash: it was edited or replaced", v.prevSeq)})
	case r.Seq > v.prevSeq+1:
		v.gapFrom = v.prevSeq + 1
		v.gap = &Problem{File: name, Line: n, Seq: r.Seq, Kind: "missing",
			Detail: fmt.Sprintf("records %d to %d are missing", v.prevSeq+1, r.Seq-1)}
	case r.Seq <= v.prevSeq:
		v.rep.add(Problem{File: name, Line: n, Seq: r.Seq, Kind: "reordered",
			Detail: fmt.Sprintf("seq %d comes after seq %d", r.Seq, v.prevSeq)})
	}
	v.started = true
	if r.EventName == "AuditRetention" && r.AdditionalEventData != nil {
		if through, ok := r.AdditionalEventData["removedThrough"].(float64); ok {
			if h, ok := r.AdditionalEventData["lastRemovedHash"].(string); ok {
				v.retained[uint64(through)] = h
			}
		}
	}
	if r.Checkpoint != nil {
		v.checkpoint(name, n, r)
	} else {
		v.sinceCkpt++
	}
	v.rep.LastSeq = r.Seq
	v.prevSeq, v.prevHash = r.Seq, lineHash(raw)
	v.rep.CleanClose = r.Checkpoint != nil && r.Checkpoint.Final
}

func (v *Verifier) checkpoint(name string, n int, r *Record) {
	v.rep.Checkpoints++
	v.sinceCkpt = 0
	ck := r.Checkpoint
	if v.chain == "" {
		v.chain = ck.Chain
	} else if ck.Chain != v.chain {
		v.rep.add(Problem{File: name, Line: n, Seq: r.Seq, Kind: "foreign",
			Detail: fmt.Sprintf("checkpoint of chain %s in a trail of chain %s: records from another trail were spliced in", ck.Chain, v.chain)})
	}
	if ck.Unsigned || ck.Signature == "" {
		v.rep.Unsigned++
		if v.kp != nil {
			v.rep.add(Problem{File: name, Line: n, Seq: r.Seq, Kind: "unsigned",
				Detail: "an unsigned checkpoint where the key provider could have signed: records before it may have been rewritten"})
		}
		return
	}
	if v.kp == nil {
		v.rep.add(Problem{File: name, Line: n, Seq: r.Seq, Kind: "unverifiable", Detail: "no key provider to check the signature with"})
		return
	}
	key, err := v.unwrap(ck)
	if err != nil {
		v.rep.add(Problem{File: name, Line: n, Seq: r.Seq, Kind: "unverifiable", Detail: err.Error()})
		return
	}
	want := sign(key, v.stream, r)
	got, _ := hex.DecodeString(ck.Signature)
	wantRaw, _ := hex.DecodeString(want)
	if !hmac.Equal(got, wantRaw) {
		v.rep.add(Problem{File: name, Line: n, Seq: r.Seq, Kind: "bad-signature",
			Detail: "the checkpoint's signature does not match the chain: records before it were altered (or the checkpoint was)"})
		return
	}
	v.rep.Signed++
}

func (v *Verifier) unwrap(ck *Checkpoint) ([]byte, error) {
	id := ck.Provider + "\x00" + ck.KeyID + "\x00" + string(ck.WrappedKey)
	if k, ok := v.keyCache[id]; ok {
		return k, nil
	}
	k, err := v.kp.Decrypt(context.Background(), keys.Wrapped{Provider: ck.Provider, KeyID: ck.KeyID, Ciphertext: ck.WrappedKey}, keyContext(v.stream))
	if err != nil {
		return nil, fmt.Errorf("the checkpoint key does not open (%w): a different master key or stream, or a forged checkpoint", err)
	}
	v.keyCache[id] = k
	return k, nil
}

// Finish reports the trail's tail and returns the report. With live, a trail still being
// written (no final checkpoint) is described in Tail but is not a problem.
func (v *Verifier) Finish(live bool) *Report {
	if v.gap != nil {
		v.rep.add(*v.gap)
		v.gap = nil
	}
	if v.rep.FirstSeq > 1 && !v.StartMayBeTrimmed {
		if h, ok := v.retained[v.rep.FirstSeq-1]; !ok || h != v.firstPrev {
			v.rep.add(Problem{Seq: v.rep.FirstSeq, Kind: "missing",
				Detail: fmt.Sprintf("the trail starts at seq %d and no retention record accounts for records 1 to %d", v.rep.FirstSeq, v.rep.FirstSeq-1)})
		}
	}
	v.rep.UnsignedTail = v.sinceCkpt
	if !v.rep.CleanClose && v.rep.Records > 0 {
		detail := fmt.Sprintf("the trail does not end with a final checkpoint: %d records after the last checkpoint are not covered by a signature (cut off, or the broker is running or stopped uncleanly)", v.sinceCkpt)
		if v.sinceCkpt == 0 {
			detail = "the trail ends at a checkpoint that is not final: later records may have been cut off (or the broker is still running)"
		}
		v.rep.Tail = detail
		if !live {
			v.rep.add(Problem{Seq: v.prevSeq, Kind: "truncated", Detail: detail})
		}
	}
	for _, k := range v.keyCache {
		keys.Zero(k)
	}
	return &v.rep
}
