package log

// Producer snapshots: `<20-digit offset>.snapshot` files holding the producer state as of that
// offset (every batch below it applied). One is written at every roll and at a clean close, so
// Open replays only the batches after the newest usable snapshot. Layout (docs/format/log.md):
// a 4-byte big-endian CRC-32C of the rest, then a JSON document. A snapshot holds producer ids,
// epochs, sequences and offsets but no record data, so it is not encrypted.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-kafka/bulwark/internal/fsutil"
)

const (
	producerSnapshotSuffix  = ".snapshot"
	producerSnapshotVersion = 1
	// producerSnapshotsKept is how many snapshots survive a new one (the older one covers a
	// crash that truncates the log below the newest).
	producerSnapshotsKept = 2
	// maxProducerSnapshotBytes bounds what Open reads from a snapshot file.
	maxProducerSnapshotBytes = 256 << 20
	// replayChunk is how much Open reads at a time while replaying batches after a snapshot.
	replayChunk = 1 << 20
)

type producerSnapshotDoc struct {
	Version   int              `json:"version"`
	Offset    int64            `json:"offset"`
	Producers []*producerEntry `json:"producers"`
	Aborted   []AbortedTxn     `json:"aborted"`
}

// producerSnapshotName is the file name of the snapshot at offset.
func producerSnapshotName(offset int64) string {
	return fmt.Sprintf("%020d%s", offset, producerSnapshotSuffix)
}

// listProducerSnapshots returns the offsets of the snapshot files in dir, ascending.
func listProducerSnapshots(dir string) []int64 {
	ents, err := fsutil.ReadDir(dir)
	if err != nil {
		return nil
	}
	return producerSnapshotOffsets(ents)
}

// producerSnapshotOffsets returns the offsets of the snapshot files listed, ascending.
func producerSnapshotOffsets(ents []os.DirEntry) []int64 {
	var offs []int64
	for _, e := range ents {
		name := e.Name()
		if len(name) != 20+len(producerSnapshotSuffix) || !strings.HasSuffix(name, producerSnapshotSuffix) {
			continue
		}
		if off, err := strconv.ParseInt(name[:20], 10, 64); err == nil && off >= 0 {
			offs = append(offs, off)
		}
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	return offs
}

// writeProducerSnapshot writes the producer state as of the log end offset and removes old
// snapshots. mu is held. A failure is logged, not returned: snapshots only shorten Open.
func (l *Log) writeProducerSnapshot() {
	if l.end == 0 {
		return // loadProducers reads none for a log that was never appended to
	}
	l.producers.expire(time.Now().UnixMilli(), l.cfg.ProducerIDExpirationMs)
	doc := producerSnapshotDoc{Version: producerSnapshotVersion, Offset: l.end, Aborted: l.producers.aborted}
	for _, e := range l.producers.entries {
		doc.Producers = append(doc.Producers, e)
	}
	sort.Slice(doc.Producers, func(i, j int) bool { return doc.Producers[i].ID < doc.Producers[j].ID })
	body, err := json.Marshal(doc)
	if err == nil {
		data := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), crc32.Checksum(body, castagnoli))
		err = fsutil.WriteFileAtomic(l.dir, producerSnapshotName(l.end), append(data, body...))
	}
	if err != nil {
		l.log().Warn("producer snapshot not written", "offset", l.end, "err", err)
		return
	}
	offs := listProducerSnapshots(l.dir)
	for i := 0; i+producerSnapshotsKept < len(offs); i++ {
		if err := os.Remove(filepath.Join(l.dir, producerSnapshotName(offs[i]))); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.log().Warn("old producer snapshot not removed", "offset", offs[i], "err", err)
		}
	}
}

// readProducerSnapshot reads and decodes one snapshot file; any damage is an error.
func readProducerSnapshot(path string) (producerSnapshotDoc, error) {
	f, err := fsutil.Open(path, os.O_RDONLY, 0)
	if err != nil {
		return producerSnapshotDoc{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return producerSnapshotDoc{}, err
	}
	if st.Size() < 4 || st.Size() > maxProducerSnapshotBytes {
		return producerSnapshotDoc{}, fmt.Errorf("%w: producer snapshot of %d bytes", ErrCorrupt, st.Size())
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return producerSnapshotDoc{}, err
	}
	return decodeProducerSnapshot(data)
}

// decodeProducerSnapshot checks a snapshot's CRC and decodes and validates its document.
func decodeProducerSnapshot(data []byte) (producerSnapshotDoc, error) {
	var doc producerSnapshotDoc
	if len(data) < 4 || crc32.Checksum(data[4:], castagnoli) != binary.BigEndian.Uint32(data) {
		return doc, fmt.Errorf("%w: producer snapshot checksum mismatch", ErrCorrupt)
	}
	if err := json.Unmarshal(data[4:], &doc); err != nil {
		return doc, fmt.Errorf("%w: producer snapshot: %v", ErrCorrupt, err)
	}
	if doc.Version != producerSnapshotVersion {
		return doc, fmt.Errorf("%w: producer snapshot version %d", ErrCorrupt, doc.Version)
	}
	for _, e := range doc.Producers {
		if e == nil || e.ID < 0 || len(e.Batches) > NumBatchesToRetain {
			return doc, fmt.Errorf("%w: producer snapshot entry", ErrCorrupt)
		}
	}
	return doc, nil
}

// loadProducers rebuilds the producer state at Open: the newest snapshot at or below the log
// end offset (newer ones describe data a crash took away and are deleted), then every batch
// from there to the log end. Without a usable snapshot the whole log is replayed.
func (l *Log) loadProducers(snapshots []int64) error {
	l.producers = newProducerState()
	if l.end == 0 {
		return nil // nothing was ever appended: no producer to know about, no snapshot to read
	}
	from := l.start
	offs := snapshots
	for i := len(offs) - 1; i >= 0; i-- {
		path := filepath.Join(l.dir, producerSnapshotName(offs[i]))
		if offs[i] > l.end {
			_ = os.Remove(path)
			continue
		}
		doc, err := readProducerSnapshot(path)
		if err != nil {
			l.log().Warn("ignoring producer snapshot", "file", path, "err", err)
			continue
		}
		for _, e := range doc.Producers {
			l.producers.entries[e.ID] = e
		}
		l.producers.aborted = doc.Aborted
		from = max(doc.Offset, l.start)
		break
	}
	l.producers.truncateAborted(l.start)
	now := time.Now().UnixMilli()
	for off := from; off < l.end; {
		data, err := l.Read(off, replayChunk, l.end, true)
		if err != nil {
			return fmt.Errorf("log: rebuild producer state at offset %d: %w", off, err)
		}
		if len(data) == 0 {
			break
		}
		for len(data) >= headerSize {
			info, err := parseHeader(data, 0)
			if err != nil || info.size > int64(len(data)) {
				return fmt.Errorf("log: rebuild producer state at offset %d: bad batch", off)
			}
			if info.last >= from {
				l.producers.replay(data[:info.size], now)
			}
			off = info.last + 1
			data = data[info.size:]
		}
	}
	l.firstUnstable = l.producers.firstUnstable()
	return nil
}
