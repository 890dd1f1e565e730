package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/keys"
)

// Options configure a stream Writer.
type Options struct {
	// Dir holds the stream's files, created 0750 if missing.
	Dir string
	// Stream names the stream ("audit"); it prefixes file names and event ids and is bound into
	// every checkpoint signature.
	Stream string
	// Keys signs checkpoints with a data key it wraps (nil: checkpoints are unsigned, which
	// `bulwark audit verify` reports).
	Keys keys.Provider
	// CheckpointRecords and CheckpointInterval bound how many records, and how long, may follow
	// a checkpoint before the next (defaults 1,000 and 10 s).
	CheckpointRecords  int
	CheckpointInterval time.Duration
	// SyncInterval is how often written records are fsynced (default 200 ms); checkpoints and
	// Close fsync at once.
	SyncInterval time.Duration
	// MaxFileBytes rolls the file once it is this large (default 64 MiB).
	// Files are also the spool of every shipper reading the stream (Source): retention never
	// removes a file holding records a shipper has yet to deliver (SetKeep).
	MaxFileBytes int64
	// Retention deletes closed files last written longer ago than this (0: keep for ever).
	Retention time.Duration
	// MaxBytes is the stream's disk budget: past it the oldest closed files are removed (0: no
	// budget). A file holding records a shipper has not delivered is removed only with
	// DropUndelivered, and the removal records how many records the sinks lost; otherwise the
	// stream reports Full until the shippers catch up (the broker then refuses audited operations
	// rather than lose their records).
	MaxBytes        int64
	DropUndelivered bool
	Now             func() time.Time
	Logger          *slog.Logger
	// Seal encrypts the files (encryption at rest): each file gets its own data key from Keys,
	// and its lines are AES-256-GCM under it (seal.go). Readers need Keys to open them.
	Seal bool
	// Plain makes a stream of lines given as they are (AppendLine): no chain, no checkpoints,
	// no recovery record. The broker log uses it, for the same rolled files and shipping.
	Plain bool
}

func (o *Options) defaults() {
	if o.Stream == "" {
		o.Stream = "audit"
	}
	if o.CheckpointRecords <= 0 {
		o.CheckpointRecords = 1000
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 10 * time.Second
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 200 * time.Millisecond
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 64 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Writer appends records to a stream of files, chaining each to the one before and signing the
// chain at checkpoints. It is safe for concurrent use; records are written in the order Append
// is called.
type Writer struct {
	opts Options
	lock *os.File     // the stream's lock file, held while open: one writer per stream
	key  []byte       // the checkpoint data key's plaintext (nil when unsigned)
	wkey keys.Wrapped // and its wrapped form, written into every checkpoint

	mu        sync.Mutex
	f         *os.File
	bw        *bufio.Writer
	size      int64
	seq       uint64
	prev      string // hex SHA-256 of the last line written
	sinceCkpt int
	lastCkpt  time.Time
	dirty     bool          // written since the last fsync
	durable   uint64        // the last seq fsynced: readers (shippers) see no further
	durableCh chan struct{} // closed and replaced when durable advances
	keep      func() uint64 // retention keeps every file holding a seq above keep()
	full      bool          // over MaxBytes with nothing more it may remove
	// removedThrough is the last seq retention removed (or missing at open): a shipper behind it
	// resumes after it.
	removedThrough uint64
	lastBudget     time.Time     // when the loop last checked the budget
	droppedTotal   uint64        // records removed over the budget before every sink had them, this run
	lastRecover    time.Time     // when the loop last tried to continue after a write error
	refused        uint64        // records refused while stopped by a write error
	spareKey       *keys.DataKey // the next sealed file's data key, made ahead by the loop
	// durableSize is the open file's size at its last successful fsync; after a failed fsync
	// (fsyncFailed) the kernel may have dropped the pages after it while the page cache still
	// shows them, so recovery cuts the file back to it rather than trust what it reads.
	durableSize int64
	fsyncFailed bool
	syncFile    func(*os.File) error // (*os.File).Sync; tests make it fail
	lastKeyTry  time.Time            // when the loop last asked for one
	chain       string               // the stream's chain id (.<stream>.chain)
	sealer      *sealer              // encrypts the open file's lines (nil: plaintext)
	fkeys       *fileKeys            // opens sealed files for readers
	err         error
	closed      bool

	stop chan struct{}
	done chan struct{}
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit: stream closed")

// Open opens a stream, continuing the chain of its last file. A torn last line (a crash in the
// middle of a write) is cut off and recorded; a complete line that does not parse is refused, as
// that is not what a crash leaves.
func Open(opts Options) (*Writer, error) {
	opts.defaults()
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if opts.Seal && opts.Keys == nil {
		return nil, errors.New("audit: sealed files need a key provider")
	}
	w := &Writer{opts: opts, prev: zeroHash, stop: make(chan struct{}), done: make(chan struct{}), durableCh: make(chan struct{}),
		fkeys: newFileKeys(opts.Keys, opts.Stream), syncFile: (*os.File).Sync}
	lock, err := os.OpenFile(filepath.Join(opts.Dir, "."+opts.Stream+".lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := lockFile(lock); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("audit: the %s stream in %s is in use by another process (a running broker?): %w", opts.Stream, opts.Dir, err)
	}
	w.lock = lock
	if opts.Keys != nil && !opts.Plain {
		dk, err := opts.Keys.GenerateDataKey(context.Background(), keyContext(opts.Stream))
		if err != nil {
			_ = lock.Close()
			return nil, fmt.Errorf("audit: checkpoint signing key: %w", err)
		}
		w.key, w.wkey = dk.Plaintext, dk.Wrapped
	}
	recovered, err := w.resume()
	if files, lerr := listFiles(opts.Dir, opts.Stream); lerr == nil && len(files) > 0 {
		w.removedThrough = files[0].firstSeq - 1 // what is not there was removed before this run
	} else {
		w.removedThrough = w.seq // no file left (an empty one was removed): nothing before is there
	}
	if err == nil && !opts.Plain {
		err = w.loadChain()
	}
	if err == nil {
		err = w.openFile()
	}
	if err != nil {
		keys.Zero(w.key)
		_ = lock.Close()
		return nil, err
	}
	w.lastCkpt = opts.Now()
	go w.loop()
	if recovered != nil {
		if err := w.Append(recovered); err != nil {
			_ = w.Close()
			return nil, err
		}
	}
	return w, nil
}

// keyContext is the encryption context of a stream's checkpoint key: a data key wrapped for
// another purpose (a segment's, another stream's) does not open as this one.
func keyContext(stream string) keys.EncryptionContext {
	return keys.EncryptionContext{"purpose": "audit-checkpoint", "stream": stream}
}

// streamFile is one file of a stream: its first sequence number is in its name.
type streamFile struct {
	path     string
	firstSeq uint64
}

// listFiles returns a stream's files in sequence order.
func listFiles(dir, stream string) ([]streamFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var out []streamFile
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, stream+"-") || !strings.HasSuffix(name, ".jsonl") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, stream+"-"), ".jsonl"), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, streamFile{path: filepath.Join(dir, name), firstSeq: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].firstSeq < out[j].firstSeq })
	return out, nil
}

// resume reads the last file's last complete record to continue the chain. It returns the
// record to write first when the previous run did not close the stream cleanly.
func (w *Writer) resume() (*Record, error) {
	files, err := listFiles(w.opts.Dir, w.opts.Stream)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	last := files[len(files)-1]
	data, err := os.ReadFile(last.path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	torn := 0
	if i := bytes.LastIndexByte(data, '\n'); i+1 != len(data) {
		torn = len(data) - (i + 1)
		if err := os.Truncate(last.path, int64(i+1)); err != nil {
			return nil, fmt.Errorf("audit: cut the torn end of %s: %w", last.path, err)
		}
		data = data[:i+1]
	}
	// What the previous process wrote may be in the page cache only: make it durable before
	// anything (a shipper) treats it as such.
	if f, err := os.OpenFile(last.path, os.O_WRONLY, 0); err == nil {
		serr := f.Sync()
		_ = f.Close()
		if serr != nil {
			return nil, fmt.Errorf("audit: fsync %s: %w", last.path, serr)
		}
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(data) == 0 {
		lines = nil
	}
	var sealed *sealer
	if len(lines) > 0 && bytes.HasPrefix(lines[0], []byte(sealPrefix)) {
		if sealed, err = w.fkeys.sealerFor(lines[0]); err != nil {
			return nil, fmt.Errorf("audit: continuing %s: %w", last.path, err)
		}
		lines = lines[1:] // the key header; a file with nothing else is empty
	}
	if len(lines) == 0 {
		// An empty last file (a crash right after a roll): continue from the file before it.
		if len(files) < 2 {
			w.seq = last.firstSeq - min(last.firstSeq, 1)
			if w.opts.Plain {
				return nil, os.Remove(last.path)
			}
			return w.recovery(torn, false, last.path), os.Remove(last.path)
		}
		if err := os.Remove(last.path); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		return w.resume()
	}
	lastLine := lines[len(lines)-1]
	if sealed != nil {
		if lastLine, err = sealed.open(lastLine); err != nil {
			return nil, fmt.Errorf("audit: the last line of %s is complete but does not open (not what a crash leaves; move the file aside to start a new chain after reviewing it): %w", last.path, err)
		}
	}
	if w.opts.Plain {
		w.seq = last.firstSeq - 1 + uint64(len(lines))
		return nil, nil
	}
	r, err := decodeLine(lastLine)
	if err != nil {
		return nil, fmt.Errorf("audit: the last record of %s is complete but unreadable (not what a crash leaves; move the file aside to start a new chain after reviewing it): %w", last.path, err)
	}
	w.seq = r.Seq
	w.prev = lineHash(lastLine)
	clean := r.Checkpoint != nil && r.Checkpoint.Final
	if clean && torn == 0 {
		return nil, nil
	}
	return w.recovery(torn, clean, last.path), nil
}

// loadChain reads the stream's chain id, or makes one for a stream that starts here.
func (w *Writer) loadChain() error {
	path := filepath.Join(w.opts.Dir, "."+w.opts.Stream+".chain")
	b, err := os.ReadFile(path)
	if err == nil && w.seq > 0 {
		w.chain = strings.TrimSpace(string(b))
		return nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit: %w", err)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return fmt.Errorf("audit: chain id: %w", err)
	}
	w.chain = hex.EncodeToString(id[:])
	if err := os.WriteFile(path, []byte(w.chain+"\n"), 0o640); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// recovery is the record that opens a stream the previous run did not close cleanly.
func (w *Writer) recovery(tornBytes int, clean bool, file string) *Record {
	return &Record{EventName: "AuditStreamRecovered", EventType: "AuditIntegrity", EventCategory: "Management",
		AdditionalEventData: map[string]any{"previousCloseClean": clean, "tornBytesRemoved": tornBytes, "file": filepath.Base(file)}}
}

// openFile starts a new file whose first record will be seq+1.
func (w *Writer) openFile() error {
	name := filepath.Join(w.opts.Dir, fmt.Sprintf("%s-%020d.jsonl", w.opts.Stream, w.seq+1))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	w.f, w.bw, w.size = f, bufio.NewWriterSize(f, 64<<10), st.Size()
	w.durableSize, w.fsyncFailed = st.Size(), false
	w.sealer = nil
	if w.opts.Seal {
		if err := w.startSealed(name, st.Size()); err != nil {
			_ = f.Close()
			return err
		}
	}
	if d, err := os.Open(w.opts.Dir); err == nil {
		_ = d.Sync() // the new name survives a crash
		_ = d.Close()
	}
	return nil
}

// startSealed writes a new file's header (its data key), or takes up the key of a file that
// already has one.
func (w *Writer) startSealed(name string, size int64) error {
	if size > 0 {
		fh, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		defer fh.Close()
		header, err := readStoredLine(bufio.NewReader(fh))
		if err != nil || !bytes.HasPrefix(header, []byte(sealPrefix)) {
			return fmt.Errorf("audit: %s holds lines but no key header: it cannot be continued sealed", name)
		}
		w.sealer, err = w.fkeys.sealerFor(header)
		return err
	}
	dk := w.spareKey
	w.spareKey = nil
	if dk == nil {
		var err error
		if dk, err = newFileKey(w.opts.Keys, w.opts.Stream); err != nil {
			return err
		}
	}
	header, s, err := newFileSealer(dk, w.opts.Stream, w.seq+1)
	if err != nil {
		return err
	}
	if _, err := w.bw.Write(append(header, '\n')); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	w.size += int64(len(header) + 1)
	w.sealer = s
	return nil
}

// store is a line as the file holds it: sealed when the file is.
func (w *Writer) store(line []byte) []byte {
	if w.sealer == nil {
		return line
	}
	return w.sealer.seal(line)
}

// lineHash is the hex SHA-256 of one record line (without its newline).
func lineHash(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// sign is the checkpoint HMAC: it covers the stream, the checkpoint's position and the hash of
// the record before it, whether it is final, its time and the chain id, so none of them can be
// changed (a mid-trail checkpoint made "final" to hide a cut-off tail, a checkpoint from another
// chain) without the key.
func sign(key []byte, stream string, r *Record) string {
	m := hmac.New(sha256.New, key)
	_, _ = io.WriteString(m, strings.Join([]string{"bulwark-audit-checkpoint-v1", stream, strconv.FormatUint(r.Seq, 10), r.PrevHash,
		strconv.FormatBool(r.Checkpoint.Final), r.EventTime, r.Checkpoint.Chain}, "\n"))
	return hex.EncodeToString(m.Sum(nil))
}

// AppendLine writes one line of a plain stream (Options.Plain). A newline in it is written as
// the two characters \n, so one call stays one line.
func (w *Writer) AppendLine(line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case !w.opts.Plain:
		return errors.New("audit: AppendLine on a chained stream")
	case w.closed:
		return ErrClosed
	case w.err != nil:
		return w.err
	}
	line = bytes.ReplaceAll(bytes.TrimSuffix(line, []byte("\n")), []byte("\n"), []byte(`\n`))
	if len(line) > maxLineBytes {
		line = append(line[:maxLineBytes-len("…[truncated]")], "…[truncated]"...)
	}
	stored := w.store(line)
	if _, err := w.bw.Write(append(stored, '\n')); err != nil {
		w.err = fmt.Errorf("audit: write: %w", err)
		return w.err
	}
	w.seq++
	w.size += int64(len(stored) + 1)
	w.dirty = true
	if w.size >= w.opts.MaxFileBytes {
		if err := w.syncLocked(); err != nil {
			return err
		}
		return w.rollLocked()
	}
	return nil
}

// Append completes the record (version, source, time unless set, event id, sequence number
// and chain hash) and writes it. A checkpoint follows when one is due.
func (w *Writer) Append(r *Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.appendLocked(r); err != nil {
		return err
	}
	if w.sinceCkpt >= w.opts.CheckpointRecords {
		return w.checkpointLocked(false)
	}
	return nil
}

func (w *Writer) appendLocked(r *Record) error {
	switch {
	case w.closed:
		return ErrClosed
	case w.err != nil:
		w.refused++
		return w.err
	}
	if r.EventTime == "" {
		r.EventTime = w.opts.Now().UTC().Format(time.RFC3339Nano)
	}
	r.EventVersion, r.EventSource = EventVersion, EventSource
	r.Seq = w.seq + 1
	r.PrevHash = w.prev
	r.EventID = w.opts.Stream + "/" + strconv.FormatUint(r.Seq, 10)
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encode %s: %w", r.EventName, err)
	}
	if len(line) > maxRecordBytes {
		// Never drop a record for its size: shorten what a client chose (names, messages).
		shrink(r)
		if line, err = json.Marshal(r); err != nil {
			return fmt.Errorf("audit: encode %s: %w", r.EventName, err)
		}
	}
	stored := w.store(line)
	if _, err := w.bw.Write(append(stored, '\n')); err != nil {
		w.err = fmt.Errorf("audit: write: %w", err)
		return w.err
	}
	w.seq, w.prev = r.Seq, lineHash(line)
	w.size += int64(len(stored) + 1)
	w.sinceCkpt++
	w.dirty = true
	return nil
}

// maxRecordBytes bounds a record line: within CloudWatch Logs' per-event limit, so a shipped
// record is never cut (and its hash broken) on the way.
const maxRecordBytes = 200 << 10

// maxFieldBytes bounds each free-text or client-chosen field of a record that is too large.
const maxFieldBytes = 1024

// shrink shortens a record's client-chosen parts: resource names, messages, extra data.
func shrink(r *Record) {
	cut := func(s string) string {
		if len(s) <= maxFieldBytes {
			return s
		}
		return strings.ToValidUTF8(s[:maxFieldBytes], "") + "…[truncated]"
	}
	r.ErrorMessage, r.DecidedBy, r.ClientID = cut(r.ErrorMessage), cut(r.DecidedBy), cut(r.ClientID)
	if u := r.UserIdentity; u != nil {
		u.Principal, u.Claimed, u.ARN = cut(u.Principal), cut(u.Claimed), cut(u.ARN)
	}
	if p := r.RequestParameters; p != nil {
		p.ResourceName = cut(p.ResourceName)
		for i := range p.Resources {
			p.Resources[i].Name = cut(p.Resources[i].Name)
		}
	}
	if len(r.AdditionalEventData) > 0 {
		if b, _ := json.Marshal(r.AdditionalEventData); len(b) > 16*maxFieldBytes {
			r.AdditionalEventData = map[string]any{"truncated": true, "bytes": len(b)}
		}
	}
}

// checkpointLocked writes a checkpoint, fsyncs, and rolls the file when it is full.
func (w *Writer) checkpointLocked(final bool) error {
	ck := &Checkpoint{Final: final, Unsigned: w.key == nil, Chain: w.chain}
	if w.key != nil {
		ck.Provider, ck.KeyID, ck.WrappedKey = w.wkey.Provider, w.wkey.KeyID, w.wkey.Ciphertext
	}
	r := &Record{EventName: "AuditCheckpoint", EventType: "AuditIntegrity", EventCategory: "Management", ReadOnly: true, Checkpoint: ck,
		EventTime: w.opts.Now().UTC().Format(time.RFC3339Nano), Seq: w.seq + 1, PrevHash: w.prev}
	if w.key != nil {
		ck.Signature = sign(w.key, w.opts.Stream, r)
	}
	if err := w.appendLocked(r); err != nil {
		return err
	}
	w.sinceCkpt = 0
	w.lastCkpt = w.opts.Now()
	if err := w.syncLocked(); err != nil {
		return err
	}
	if w.size >= w.opts.MaxFileBytes && !final {
		return w.rollLocked()
	}
	return nil
}

func (w *Writer) syncLocked() error {
	if w.err != nil {
		return w.err // stopped: nothing is durable until recovery says what is
	}
	if !w.dirty {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("audit: write: %w", err)
		return w.err
	}
	if err := w.syncFile(w.f); err != nil {
		w.fsyncFailed = true
		w.err = fmt.Errorf("audit: fsync: %w", err)
		return w.err
	}
	w.dirty = false
	w.durable = w.seq
	w.durableSize = w.size
	close(w.durableCh)
	w.durableCh = make(chan struct{})
	return nil
}

// rollLocked closes the full file (its last record is a checkpoint) and starts the next, then
// applies retention to closed files.
func (w *Writer) rollLocked() error {
	if w.opts.Seal && w.spareKey == nil {
		// The loop keeps a key ready; without one (the key service failed meanwhile) try now,
		// and if that fails too keep writing this file rather than stop the stream.
		dk, err := newFileKey(w.opts.Keys, w.opts.Stream)
		if err != nil {
			w.opts.Logger.Warn("stream file not rolled: no key for the next one yet; the current file grows until there is", "stream", w.opts.Stream, "err", err)
			return nil
		}
		w.spareKey = dk
	}
	if err := w.f.Close(); err != nil {
		w.err = fmt.Errorf("audit: close: %w", err)
		return w.err
	}
	if err := w.openFile(); err != nil {
		w.err = err
		return err
	}
	w.applyRetention()
	return nil
}

// prepareKey makes the next sealed file's data key ahead, outside the lock, so that a roll does
// not wait on the key service (AWS KMS) with appends blocked behind it.
func (w *Writer) prepareKey() {
	if !w.opts.Seal {
		return
	}
	w.mu.Lock()
	ready := w.spareKey != nil || w.closed || w.opts.Now().Sub(w.lastKeyTry) < time.Second
	w.lastKeyTry = w.opts.Now()
	w.mu.Unlock()
	if ready {
		return
	}
	dk, err := newFileKey(w.opts.Keys, w.opts.Stream)
	if err != nil {
		return // tried again at the next tick, and at the roll
	}
	w.mu.Lock()
	if w.spareKey == nil && !w.closed {
		w.spareKey, dk = dk, nil
	}
	w.mu.Unlock()
	if dk != nil {
		keys.Zero(dk.Plaintext)
	}
}

// recoverEvery is how often a stream stopped by a write error tries to continue.
const recoverEvery = time.Second

// recoverLocked tries to continue a stream a write error stopped (a disk that filled and was
// freed, a transient I/O error), as a restart would: it cuts the torn end of the last file, takes
// up the chain at the last record on disk, opens a new file and records the resumption with the
// number of records that never reached the disk (their writers were told, and nobody read them:
// readers see only fsynced records). Until it succeeds the stream stays stopped and Err says why.
func (w *Writer) recoverLocked() {
	cause := w.err
	name := w.f.Name()
	_ = w.f.Close()
	if w.fsyncFailed {
		// What the failed fsync covered may be gone from the disk though still readable from the
		// page cache: keep only what an fsync confirmed, and count the rest as lost.
		if err := os.Truncate(name, w.durableSize); err != nil {
			return
		}
	}
	before := w.seq
	if _, err := w.resume(); err != nil {
		return
	}
	if err := w.openFile(); err != nil {
		return
	}
	w.err, w.dirty = nil, false
	lost, refused := before-min(before, w.seq), w.refused
	w.durable, w.refused = w.seq, 0
	w.opts.Logger.Warn("audit stream written again after a write error", "stream", w.opts.Stream, "cause", cause,
		"records_lost", lost, "records_refused", refused)
	if w.opts.Plain {
		return
	}
	r := &Record{EventName: "AuditStreamResumed", EventType: "AuditIntegrity", EventCategory: "Management",
		AdditionalEventData: map[string]any{"cause": cause.Error(), "recordsLost": lost, "recordsRefused": refused}}
	if lost+refused > 0 {
		r.ErrorCode, r.ErrorMessage = "EVENTS_LOST", fmt.Sprintf("%d records accepted before the error never reached the disk; %d were refused while it lasted", lost, refused)
	}
	if err := w.appendLocked(r); err == nil {
		_ = w.syncLocked()
	}
}

// budgetCheck is how often the writer's loop looks at the disk budget between rolls.
const budgetCheck = time.Second

// applyRetention removes the oldest closed files while they are older than Options.Retention or
// the stream is over Options.MaxBytes, and records in the stream what it removed (the last removed
// seq and the hash of that record, and why), so a verifier can tell retention from someone
// deleting the start of the trail. It never removes a file after one that stays (the trail stays
// contiguous), nor a file a shipper still needs unless the budget is over and DropUndelivered.
func (w *Writer) applyRetention() {
	if w.opts.Retention <= 0 && w.opts.MaxBytes <= 0 {
		return
	}
	files, err := listFiles(w.opts.Dir, w.opts.Stream)
	if err != nil {
		return
	}
	sizes := make([]int64, len(files))
	var total int64
	for i, f := range files {
		if st, err := os.Stat(f.path); err == nil {
			sizes[i] = st.Size()
			total += st.Size()
		}
	}
	cutoff := w.opts.Now().Add(-w.opts.Retention)
	var through, undelivered uint64
	reason := "age"
	for i, f := range files[:max(len(files)-1, 0)] {
		next := files[i+1]
		last := next.firstSeq - 1
		overBudget := w.opts.MaxBytes > 0 && total > w.opts.MaxBytes
		expired := false
		if w.opts.Retention > 0 {
			st, err := os.Stat(f.path)
			expired = err == nil && st.ModTime().Before(cutoff)
		}
		if !expired && !overBudget {
			break
		}
		delivered := last // how far every shipper has delivered: read once, it moves
		if w.keep != nil {
			delivered = w.keep()
		}
		needed := last > delivered
		if needed && !(overBudget && w.opts.DropUndelivered) {
			break // a shipper has not delivered this file yet: it is its spool
		}
		if err := os.Remove(f.path); err != nil {
			break
		}
		if needed {
			// An upper bound: a shipper may hold some of them read and still deliver them.
			undelivered += last - max(delivered, f.firstSeq-1)
			w.opts.Logger.Warn("audit file removed over the disk budget before every sink had it", "file", f.path,
				"max_bytes", w.opts.MaxBytes)
		} else {
			w.opts.Logger.Info("audit file removed by retention", "file", f.path)
		}
		if !expired {
			reason = "size"
		}
		total -= sizes[i]
		through = last
	}
	w.full = w.opts.MaxBytes > 0 && total > w.opts.MaxBytes
	if through == 0 {
		return
	}
	w.removedThrough = max(w.removedThrough, through)
	if w.opts.Plain {
		return
	}
	first, err := firstRecord(files, through+1, w.fkeys)
	if err != nil {
		w.opts.Logger.Error("retention record not written", "err", err)
		return
	}
	data := map[string]any{"removedThrough": through, "lastRemovedHash": first.PrevHash, "reason": reason}
	if w.opts.Retention > 0 {
		data["retentionMs"] = w.opts.Retention.Milliseconds()
	}
	if w.opts.MaxBytes > 0 {
		data["maxBytes"] = w.opts.MaxBytes
	}
	r := &Record{EventName: "AuditRetention", EventType: "AuditIntegrity", EventCategory: "Management", ReadOnly: true,
		AdditionalEventData: data}
	if undelivered > 0 {
		// A drop the operator allowed: counted and recorded, so every sink's copy shows the gap's
		// size and cause.
		w.droppedTotal += undelivered
		data["undeliveredDropped"], data["undeliveredDroppedTotal"] = undelivered, w.droppedTotal
		r.ErrorCode, r.ErrorMessage = "EVENTS_LOST", fmt.Sprintf("%d records no sink had yet were removed over the disk budget", undelivered)
	}
	_ = w.appendLocked(r)
}

// Full reports whether the stream is over its disk budget with nothing it may remove: its sinks
// are behind and DropUndelivered is off.
func (w *Writer) Full() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.full
}

// firstRecord reads the record with seq from the file that starts with it.
func firstRecord(files []streamFile, seq uint64, fk *fileKeys) (*Record, error) {
	for _, f := range files {
		if f.firstSeq != seq {
			continue
		}
		fh, err := os.Open(f.path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		line, err := newLineReader(fh, fk).next()
		if err != nil {
			return nil, fmt.Errorf("audit: %s: %w", f.path, err)
		}
		return decodeLine(line)
	}
	return nil, fmt.Errorf("audit: no file starts at seq %d", seq)
}

// loop fsyncs written records and writes timed checkpoints until Close.
func (w *Writer) loop() {
	defer close(w.done)
	t := time.NewTicker(w.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.prepareKey()
			w.mu.Lock()
			if w.closed {
				w.mu.Unlock()
				return
			}
			if w.err != nil {
				if w.opts.Now().Sub(w.lastRecover) >= recoverEvery {
					w.lastRecover = w.opts.Now()
					w.recoverLocked()
				}
				w.mu.Unlock()
				continue
			}
			var err error
			if !w.opts.Plain && w.sinceCkpt > 0 && w.opts.Now().Sub(w.lastCkpt) >= w.opts.CheckpointInterval {
				err = w.checkpointLocked(false)
			} else {
				err = w.syncLocked()
			}
			if w.opts.MaxBytes > 0 && w.opts.Now().Sub(w.lastBudget) >= budgetCheck {
				// Between rolls too: a shipper that caught up frees the files it held.
				w.lastBudget = w.opts.Now()
				w.applyRetention()
			}
			w.mu.Unlock()
			if err != nil {
				w.opts.Logger.Error("audit stream cannot be written", "stream", w.opts.Stream, "err", err)
			}
		}
	}
}

// SetKeep makes retention keep every file holding a record above keep(): the lowest position
// the stream's shippers have delivered.
func (w *Writer) SetKeep(keep func() uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keep = keep
}

// Sync makes every record appended so far durable.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	return w.syncLocked()
}

// Err returns the error that stopped the stream (a failed write or fsync), nil while it works.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// DurableSeq returns the sequence number of the last record fsynced.
func (w *Writer) DurableSeq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.durable
}

// Seq returns the sequence number of the last record written.
func (w *Writer) Seq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

// Close writes the final checkpoint, fsyncs and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	var err error
	if w.opts.Plain {
		err = w.syncLocked()
	} else {
		err = w.checkpointLocked(true)
	}
	w.closed = true
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("audit: close: %w", cerr)
	}
	keys.Zero(w.key)
	if w.spareKey != nil {
		keys.Zero(w.spareKey.Plaintext)
	}
	_ = w.lock.Close()
	w.mu.Unlock()
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	return err
}
