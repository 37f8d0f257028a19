package log

import (
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/chronik-stream/chronik/internal/record"
)

const (
	logExt       = ".log"
	indexExt     = ".index"
	timeIndexExt = ".timeindex"
)

// segment is one log file with its two index files. Its first batch starts at base.
type segment struct {
	base              int64
	logf, idxf, tidxf *os.File
	refs              atomic.Int32 // one for the log's segment list, one per reader using the files

	// Guarded by Log.mu: the writer changes them holding it, readers read them under RLock.
	size      int64       // bytes of whole batches in the log file
	end       int64       // offset after the last batch
	offIdx    []offEntry  // sparse offset index, one entry per indexed batch
	timeIdx   []timeEntry // time index
	maxTs     int64       // largest batch MaxTimestamp, -1 if none
	maxTsOff  int64       // base offset of the first batch with maxTs
	maxTsLast int64       // last offset of that batch (what the time index stores)

	// Writer state, guarded by Log.wmu.
	sinceIdx    int   // bytes appended since the last offset index entry
	idxFlushed  int   // offIdx entries written to the .index file
	tidxFlushed int   // timeIdx entries written to the .timeindex file
	logDirty    bool  // log file written since the last fsync
	idxDirty    bool  // index files written since the last fsync
	queued      bool  // in Log.dirty
	removed     bool  // files deleted
	writeback   int64 // bytes of the log file handed to early writeback
	uncached    int64 // bytes of the log file dropped from the page cache
}

// writebackChunk is how much appended data accumulates before the kernel is asked to
// start writing it out. Starting writeback early keeps little dirty data per file, so a
// later fsync (a checkpoint) is short and does not stall other files' fsyncs behind a
// large flush in the filesystem journal.
const writebackChunk = 4 << 20

// startWriteback asks the kernel to begin writing the log file up to end without
// waiting (sync_file_range SYNC_FILE_RANGE_WRITE). Durability still comes from Sync.
func (s *segment) startWriteback(end int64) {
	if end-s.writeback < writebackChunk {
		return
	}
	_ = unix.SyncFileRange(int(s.logf.Fd()), s.writeback, end-s.writeback, unix.SYNC_FILE_RANGE_WRITE)
	s.writeback = end
}

func segPath(dir string, base int64, ext string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, ext))
}

// openSegment opens the files of the segment at base, creating missing ones; fresh
// discards existing contents. The in-memory state is that of an empty segment.
func openSegment(dir string, base int64, fresh bool) (*segment, error) {
	flag := os.O_RDWR | os.O_CREATE
	if fresh {
		flag |= os.O_TRUNC
	}
	s := &segment{base: base}
	s.resetMem()
	files := []**os.File{&s.logf, &s.idxf, &s.tidxf}
	for i, ext := range []string{logExt, indexExt, timeIndexExt} {
		f, err := os.OpenFile(segPath(dir, base, ext), flag, 0o644)
		if err != nil {
			s.closeFiles()
			return nil, err
		}
		*files[i] = f
	}
	s.refs.Store(1)
	return s, nil
}

// resetMem sets the in-memory state to that of an empty segment.
func (s *segment) resetMem() {
	s.size, s.end = 0, s.base
	s.offIdx, s.timeIdx = s.offIdx[:0], s.timeIdx[:0]
	s.maxTs, s.maxTsOff, s.maxTsLast = -1, -1, -1
	s.sinceIdx = 0
}

func (s *segment) closeFiles() error {
	var err error
	for _, f := range []*os.File{s.logf, s.idxf, s.tidxf} {
		if f != nil {
			if e := f.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	return err
}

// release drops one reference; the last one closes the files.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.closeFiles()
	}
}

// remove deletes the segment's files and drops the segment list's reference. Readers that
// still hold a reference keep reading the unlinked files. Call as the writer, after the
// segment has left the list.
func (s *segment) remove(dir string) error {
	s.removed = true
	var err error
	for _, ext := range []string{logExt, indexExt, timeIndexExt} {
		if e := os.Remove(segPath(dir, s.base, ext)); e != nil && !errors.Is(e, os.ErrNotExist) && err == nil {
			err = e
		}
	}
	s.release()
	return err
}

// track records the batch with header h, just stored at file position pos, in the
// in-memory state: size, end offset, largest timestamp and index entries. An offset index
// entry is added for the first batch and whenever interval bytes were stored since the
// last one; a time index entry goes with it when the largest timestamp grew.
func (s *segment) track(h record.Header, pos int64, interval int) {
	if h.MaxTimestamp > s.maxTs {
		s.maxTs, s.maxTsOff, s.maxTsLast = h.MaxTimestamp, h.BaseOffset, h.LastOffset()
	}
	if pos == 0 || s.sinceIdx >= interval {
		s.offIdx = append(s.offIdx, offEntry{rel: int32(h.LastOffset() - s.base), pos: int32(pos)})
		s.appendTimeEntry()
		s.sinceIdx = 0
	}
	s.sinceIdx += h.TotalSize()
	s.size = pos + int64(h.TotalSize())
	s.end = h.LastOffset() + 1
}

// appendTimeEntry adds (maxTs, maxTsLast) to the time index if maxTs grew past its last entry.
func (s *segment) appendTimeEntry() {
	n := len(s.timeIdx)
	if s.maxTs >= 0 && (n == 0 || s.maxTs > s.timeIdx[n-1].ts) {
		s.timeIdx = append(s.timeIdx, timeEntry{ts: s.maxTs, rel: int32(s.maxTsLast - s.base)})
	}
}

// finalize is called when s stops being the active segment: like Kafka, it makes the last
// time index entry hold the segment's largest timestamp.
func (s *segment) finalize() { s.appendTimeEntry() }

// flushIndex writes the index entries not yet in the files. It reports whether it wrote.
func (s *segment) flushIndex(scratch *[]byte) (bool, error) {
	wrote := false
	if n := len(s.offIdx); n > s.idxFlushed {
		b := appendOffEntries((*scratch)[:0], s.offIdx[s.idxFlushed:])
		*scratch = b
		wrote, s.idxDirty = true, true
		if _, err := s.idxf.WriteAt(b, int64(s.idxFlushed)*offEntrySize); err != nil {
			return wrote, err
		}
		s.idxFlushed = n
	}
	if n := len(s.timeIdx); n > s.tidxFlushed {
		b := appendTimeEntries((*scratch)[:0], s.timeIdx[s.tidxFlushed:])
		*scratch = b
		wrote, s.idxDirty = true, true
		if _, err := s.tidxf.WriteAt(b, int64(s.tidxFlushed)*timeEntrySize); err != nil {
			return wrote, err
		}
		s.tidxFlushed = n
	}
	return wrote, nil
}

// truncateIndexFiles cuts the index files to the entries still in memory.
func (s *segment) truncateIndexFiles() error {
	s.idxFlushed = min(s.idxFlushed, len(s.offIdx))
	s.tidxFlushed = min(s.tidxFlushed, len(s.timeIdx))
	s.idxDirty = true
	if err := s.idxf.Truncate(int64(s.idxFlushed) * offEntrySize); err != nil {
		return err
	}
	return s.tidxf.Truncate(int64(s.tidxFlushed) * timeEntrySize)
}

var errBrokenChain = fmt.Errorf("%w: batches do not chain", record.ErrCorrupt)

// hdrReader reads batch headers from a log file through a small read-ahead window, never
// past limit.
type hdrReader struct {
	f     *os.File
	limit int64
	buf   []byte
	off   int64
	n     int
}

var windowPool = sync.Pool{New: func() any { b := make([]byte, 8192); return &b }}

func newHdrReader(f *os.File, limit int64) *hdrReader {
	return &hdrReader{f: f, limit: limit, buf: *windowPool.Get().(*[]byte)}
}

func (r *hdrReader) done() { windowPool.Put(&r.buf) }

// header parses the batch header at file position pos.
func (r *hdrReader) header(pos int64) (record.Header, error) {
	if pos < r.off || pos+record.HeaderSize > r.off+int64(r.n) {
		if pos+record.HeaderSize > r.limit {
			return record.Header{}, fmt.Errorf("%w: torn header at %d", record.ErrCorrupt, pos)
		}
		m := min(int64(len(r.buf)), r.limit-pos)
		got, err := r.f.ReadAt(r.buf[:m], pos)
		if got < record.HeaderSize {
			r.n = 0
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return record.Header{}, err
		}
		r.off, r.n = pos, got
	}
	return record.ParseHeader(r.buf[pos-r.off : r.n])
}

// walk calls fn for the batches of s from file position pos up to the reader's limit
// until fn returns true, and reports whether it did. pos and eo come from lookup: the batch
// at pos should have last offset eo (eo < 0: pos is 0). Headers must chain (each base
// offset is the previous last offset + 1). If the claim or the chain breaks, the walk
// restarts once from the segment start, so a lying index entry costs time, not results.
func (s *segment) walk(r *hdrReader, pos, eo int64, fn func(p int64, h record.Header) bool) (bool, error) {
	for {
		stop, err := s.walkFrom(r, pos, eo, fn)
		if err == nil || pos == 0 {
			return stop, err
		}
		pos, eo = 0, -1
	}
}

func (s *segment) walkFrom(r *hdrReader, pos, eo int64, fn func(p int64, h record.Header) bool) (bool, error) {
	next := int64(-1)
	if pos == 0 {
		next = s.base
	}
	for p := pos; p < r.limit; {
		h, err := r.header(p)
		if err != nil {
			return false, err
		}
		sz := int64(h.TotalSize())
		if (next >= 0 && h.BaseOffset != next) || h.LastOffsetDelta < 0 || sz > r.limit-p ||
			(p == pos && eo >= 0 && h.LastOffset() != eo) {
			return false, errBrokenChain
		}
		if fn(p, h) {
			return true, nil
		}
		next = h.LastOffset() + 1
		p += sz
	}
	return false, nil
}

// batchAt finds the batch that holds offset, walking from the index; found is false if
// the walk reached the limit first. Call as the writer.
func (s *segment) batchAt(r *hdrReader, offset int64) (pos int64, h record.Header, found bool, err error) {
	p0, eo := s.lookup(offset)
	return s.walkTo(r, offset, p0, eo)
}
