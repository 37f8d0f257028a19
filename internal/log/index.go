package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

const (
	offEntrySize  = 8  // int32 relative offset, int32 file position
	timeEntrySize = 12 // int64 timestamp, int32 relative offset
)

// offEntry says: the batch at file position pos has last offset base+rel (as in Kafka).
type offEntry struct{ rel, pos int32 }

// timeEntry says: ts is the largest timestamp of the segment's batches up to the one whose
// last offset is base+rel, which is the first batch with that timestamp.
type timeEntry struct {
	ts  int64
	rel int32
}

func appendOffEntries(dst []byte, es []offEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.rel))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.pos))
	}
	return dst
}

func appendTimeEntries(dst []byte, es []timeEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ts))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.rel))
	}
	return dst
}

// lookup returns the position of the last indexed batch whose last offset is <= offset and
// that last offset, or (0, -1) if there is none. Call with Log.mu held or as the writer.
func (s *segment) lookup(offset int64) (pos, entryOffset int64) {
	rel := offset - s.base
	lo, hi := 0, len(s.offIdx)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if int64(s.offIdx[m].rel) <= rel {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, -1
	}
	e := s.offIdx[lo-1]
	return int64(e.pos), s.base + int64(e.rel)
}

// timeLookup returns the index of the last time entry with a timestamp < ts, or -1.
func (s *segment) timeLookup(ts int64) int {
	lo, hi := 0, len(s.timeIdx)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.timeIdx[m].ts < ts {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

var errBadIndex = errors.New("log: index inconsistent with segment")

func readAll(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	n, err := f.ReadAt(b, 0)
	if err == io.EOF {
		err = nil
	}
	return b[:n], err
}

// loadIndexes loads the index files of a segment that is not the last one and checks them
// against the log file without reading it all: entry sizes and order, the batches at the
// first and last offset index entries, the batches after the last entry (read header by
// header, which also gives the end offset), and the batch of the largest timestamp. Any
// mismatch returns an error and the caller rebuilds the indexes by scanning the segment.
func (s *segment) loadIndexes(interval int) error {
	s.resetMem()
	fi, err := s.logf.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	ib, err := readAll(s.idxf)
	if err != nil {
		return err
	}
	tb, err := readAll(s.tidxf)
	if err != nil {
		return err
	}
	if size == 0 || size > math.MaxInt32 || len(ib) == 0 || len(ib)%offEntrySize != 0 || len(tb)%timeEntrySize != 0 {
		return errBadIndex
	}
	offs := make([]offEntry, len(ib)/offEntrySize)
	for i := range offs {
		e := offEntry{rel: int32(binary.BigEndian.Uint32(ib[i*8:])), pos: int32(binary.BigEndian.Uint32(ib[i*8+4:]))}
		if e.rel < 0 || int64(e.pos) >= size || (i == 0 && e.pos != 0) ||
			(i > 0 && (e.rel <= offs[i-1].rel || e.pos <= offs[i-1].pos)) {
			return errBadIndex
		}
		offs[i] = e
	}
	times := make([]timeEntry, len(tb)/timeEntrySize)
	for i := range times {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(tb[i*12:])), rel: int32(binary.BigEndian.Uint32(tb[i*12+8:]))}
		if e.ts < 0 || e.rel < 0 || (i > 0 && (e.ts <= times[i-1].ts || e.rel <= times[i-1].rel)) {
			return errBadIndex
		}
		times[i] = e
	}
	s.offIdx, s.timeIdx = offs, times
	r := newHdrReader(s.logf, size)
	defer r.done()

	h0, err := r.header(0)
	if err != nil || h0.BaseOffset != s.base || h0.LastOffset() != s.base+int64(offs[0].rel) {
		return errBadIndex
	}
	if h0.MaxTimestamp >= 0 && (len(times) == 0 || times[0] != timeEntry{h0.MaxTimestamp, offs[0].rel}) {
		return errBadIndex
	}
	// Walk the batches after the last offset index entry to the end of the file.
	last := offs[len(offs)-1]
	tailMax, since, next := int64(-1), 0, int64(-1)
	for p := int64(last.pos); p < size; {
		h, err := r.header(p)
		if err != nil {
			return errBadIndex
		}
		sz := h.TotalSize()
		if int64(sz) > size-p || h.LastOffsetDelta < 0 || h.LastOffset()-s.base > math.MaxInt32 {
			return errBadIndex
		}
		if next < 0 {
			if h.LastOffset() != s.base+int64(last.rel) {
				return errBadIndex
			}
		} else if h.BaseOffset != next || since >= interval { // broken chain, or a missing entry
			return errBadIndex
		}
		tailMax = max(tailMax, h.MaxTimestamp)
		since += sz
		next = h.LastOffset() + 1
		p += int64(sz)
	}
	s.size, s.end, s.sinceIdx = size, next, since
	if len(times) == 0 {
		if tailMax >= 0 {
			return errBadIndex
		}
	} else {
		te := times[len(times)-1]
		o := s.base + int64(te.rel)
		if tailMax > te.ts || o >= next {
			return errBadIndex
		}
		_, h, found, err := s.batchAt(r, o)
		if err != nil || !found || h.LastOffset() != o || h.MaxTimestamp != te.ts {
			return errBadIndex
		}
		s.maxTs, s.maxTsOff, s.maxTsLast = te.ts, h.BaseOffset, o
	}
	s.idxFlushed, s.tidxFlushed = len(offs), len(times)
	return nil
}

// rewriteIndexes makes the index files hold exactly the in-memory entries, writing only if
// they differ. It reports whether it wrote.
func (s *segment) rewriteIndexes() (bool, error) {
	wrote := false
	for _, x := range []struct {
		f   *os.File
		enc []byte
	}{
		{s.idxf, appendOffEntries(nil, s.offIdx)},
		{s.tidxf, appendTimeEntries(nil, s.timeIdx)},
	} {
		cur, err := readAll(x.f)
		if err != nil {
			return wrote, err
		}
		if bytes.Equal(cur, x.enc) {
			continue
		}
		wrote = true
		if _, err := x.f.WriteAt(x.enc, 0); err != nil {
			return wrote, err
		}
		if err := x.f.Truncate(int64(len(x.enc))); err != nil {
			return wrote, fmt.Errorf("log: truncating index: %w", err)
		}
	}
	s.idxFlushed, s.tidxFlushed = len(s.offIdx), len(s.timeIdx)
	if wrote {
		s.idxDirty = true
	}
	return wrote, nil
}
