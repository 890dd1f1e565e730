package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/keys"
	"github.com/bulwark-kafka/bulwark/logship"
)

// Source returns the stream as a logship.Source: records up to the last one fsynced, so a sink
// never holds a record a crash could take back (and whose sequence number a restart would give
// to another).
func (w *Writer) Source() logship.Source { return writerSource{w} }

type writerSource struct{ w *Writer }

func (s writerSource) durableState() (uint64, <-chan struct{}) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.durable, s.w.durableCh
}

// End is the position of the stream's last record.
func (s writerSource) End() uint64 { return s.w.Seq() }

// Wait implements logship.Source.
func (s writerSource) Wait(after uint64) <-chan struct{} {
	durable, ch := s.durableState()
	if durable > after {
		done := make(chan struct{})
		close(done)
		return done
	}
	return ch
}

// Read implements logship.Source: up to max records after seq after, no further than the
// durable end.
func (s writerSource) Read(after uint64, max int) ([]logship.Entry, error) {
	s.w.mu.Lock()
	durable, removed := s.w.durable, s.w.removedThrough
	s.w.mu.Unlock()
	if after < removed {
		// Retention removed records this reader had not read (the disk budget with
		// DropUndelivered; the AuditRetention record says how many), or they were gone at
		// start-up: resume after them, and say so.
		s.w.opts.Logger.Warn("stream records removed before this reader had them; it resumes after them",
			"stream", s.w.opts.Stream, "from", after+1, "through", removed, "count", removed-after)
		after = removed
	}
	if after >= durable {
		return nil, nil
	}
	return readRange(s.w.opts.Dir, s.w.opts.Stream, s.w.fkeys, after, min(durable, after+uint64(max)), s.w.opts.Plain)
}

// EachLine calls fn with every line of a stream's files, oldest first, opening sealed files with
// kp (`bulwark logs` prints the broker log with it). A torn last line is left out.
func EachLine(dir, stream string, kp keys.Provider, fn func(line []byte) error) error {
	files, err := listFiles(dir, stream)
	if err != nil {
		return err
	}
	fk := newFileKeys(kp, stream)
	for _, f := range files {
		fh, err := os.Open(f.path)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		lr := newLineReader(fh, fk)
		for n := uint64(0); ; n++ {
			line, err := lr.next()
			if err == io.EOF {
				break
			}
			if errors.Is(err, errBadSealedLine) {
				line, err = unreadableMarker(f.firstSeq+n, err), nil
			}
			if err == nil {
				err = fn(line)
			}
			if err != nil {
				_ = fh.Close()
				return fmt.Errorf("audit: %s: %w", f.path, err)
			}
		}
		_ = fh.Close()
	}
	return nil
}

func readRange(dir, stream string, fk *fileKeys, after, upTo uint64, plain bool) ([]logship.Entry, error) {
	files, err := listFiles(dir, stream)
	if err != nil {
		return nil, err
	}
	start := -1
	for i, f := range files {
		if f.firstSeq <= after+1 {
			start = i
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("audit: record %d is no longer in %s", after+1, dir)
	}
	var out []logship.Entry
	next := after + 1
	for _, f := range files[start:] {
		if next > upTo {
			break
		}
		if f.firstSeq > next {
			return out, fmt.Errorf("audit: records %d to %d are missing from %s", next, f.firstSeq-1, dir)
		}
		if err := readFile(f, stream, fk, next, upTo, plain, &out); err != nil {
			return out, err
		}
		next = after + 1 + uint64(len(out))
	}
	return out, nil
}

// readFile appends the complete lines of f with seq in [from, upTo]. A plain stream's lines are
// numbered by position and timed by their "time" field (slog's).
func readFile(f streamFile, stream string, fk *fileKeys, from, upTo uint64, plain bool, out *[]logship.Entry) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer fh.Close()
	rd := newLineReader(fh, fk)
	seq := f.firstSeq
	for seq <= upTo {
		line, err := rd.next()
		switch {
		case err == io.EOF:
			return nil // the end of the file (a last line without its newline is not complete)
		case errors.Is(err, errBadSealedLine):
			// Altered on disk: ship a marker in its place rather than stop (or drop it
			// silently); a verifier of the sink's copy reports it.
			if seq >= from {
				*out = append(*out, logship.Entry{Pos: seq, ID: stream + "/" + strconv.FormatUint(seq, 10), Time: time.Now(),
					Data: unreadableMarker(seq, err)})
			}
			seq++
			continue
		case err != nil:
			return fmt.Errorf("audit: %s: %w", f.path, err)
		}
		if seq >= from && plain {
			var t struct {
				Time time.Time `json:"time"`
			}
			_ = json.Unmarshal(line, &t)
			if t.Time.IsZero() {
				t.Time = time.Now()
			}
			*out = append(*out, logship.Entry{Pos: seq, ID: stream + "/" + strconv.FormatUint(seq, 10), Time: t.Time, Data: append([]byte(nil), line...)})
		} else if seq >= from {
			r, err := decodeLine(line)
			if err != nil || r.Seq != seq {
				return fmt.Errorf("audit: %s: record %d does not read back", f.path, seq)
			}
			t, _ := time.Parse(time.RFC3339Nano, r.EventTime)
			*out = append(*out, logship.Entry{Pos: seq, ID: r.EventID, Time: t, Data: append([]byte(nil), line...)})
		}
		seq++
	}
	return nil
}

// unreadableMarker stands in for a line of a sealed file that does not open.
func unreadableMarker(seq uint64, err error) []byte {
	b, _ := json.Marshal(map[string]any{"bulwarkUnreadableLine": seq, "error": err.Error()})
	return b
}
