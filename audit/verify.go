package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
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
	rep       Report
	prevHash  string
	prevSeq   uint64
	started   bool
	sinceCkpt int
	// gap is a "missing" problem held back one record: if the missing record comes next, the
	// records were reordered rather than removed.
	gap     *Problem
	gapFrom uint64 // the first missing seq of gap
}

// NewVerifier checks records of the named stream. kp unwraps checkpoint keys (nil: signatures
// are reported as unverifiable).
func NewVerifier(stream string, kp keys.Provider) *Verifier {
	return &Verifier{stream: stream, kp: kp, keyCache: map[string][]byte{}, rep: Report{Stream: stream}}
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
	for _, f := range files {
		fh, err := os.Open(f.path)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		err = v.Read(f.path, fh)
		_ = fh.Close()
		if err != nil {
			return nil, err
		}
	}
	return v.Finish(live), nil
}

// Read checks one file's (or one reader's) records.
func (v *Verifier) Read(name string, rd io.Reader) error {
	v.rep.Files++
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes+1)
	line := 0
	for sc.Scan() {
		line++
		v.Line(name, line, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		v.rep.add(Problem{File: name, Line: line + 1, Seq: v.prevSeq + 1, Kind: "unreadable", Detail: err.Error()})
	}
	return nil
}

// Line checks one record line.
func (v *Verifier) Line(name string, n int, raw []byte) {
	raw = bytes.TrimRight(raw, "\r")
	r, err := decodeLine(raw)
	if err != nil {
		v.rep.add(Problem{File: name, Line: n, Seq: v.prevSeq + 1, Kind: "unreadable", Detail: err.Error()})
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
	switch {
	case !v.started:
		// A trail whose first record is not seq 1 lost its earlier files to retention (or they
		// are elsewhere): the chain is checked from here, and FirstSeq says where it starts.
		v.rep.FirstSeq = r.Seq
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
	if ck.Unsigned || ck.Signature == "" {
		v.rep.Unsigned++
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
	want := sign(key, v.stream, r.Seq, r.PrevHash)
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
