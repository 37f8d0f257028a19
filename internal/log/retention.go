package log

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/chronik-stream/chronik/internal/record"
)

// TruncateTo removes every batch at or after offset so that EndOffset() == offset. offset
// must be a batch boundary within [StartOffset, EndOffset], else an error is returned (one
// wrapping ErrOffsetOutOfRange if it lies outside). Durable on return.
func (l *Log) TruncateTo(offset int64) error {
	if err := l.truncate(offset); err != nil {
		return err
	}
	return l.Sync()
}

func (l *Log) truncate(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.check(); err != nil {
		return err
	}
	start, end := l.start.Load(), l.end.Load()
	if offset < start || offset > end {
		return fmt.Errorf("%w: truncate to %d, log holds [%d, %d]", ErrOffsetOutOfRange, offset, start, end)
	}
	if offset == end {
		return nil
	}
	i := l.segmentFor(offset)
	s := l.segs[i]
	var q int64
	if offset != s.base {
		r := newHdrReader(s.logf, s.size)
		p, h, found, err := s.batchAt(r, offset)
		r.done()
		if err != nil {
			return err
		}
		if !found || h.BaseOffset != offset {
			return fmt.Errorf("log: truncate to %d: not a batch boundary", offset)
		}
		q = p
	}
	st, err := s.stateAt(q, offset)
	if err != nil {
		return err
	}
	l.gen.Add(1)
	if err := l.removeFrom(i + 1); err != nil {
		l.failed = err
		return err
	}
	l.mu.Lock()
	s.offIdx, s.timeIdx = s.offIdx[:st.nIdx], s.timeIdx[:st.nTime]
	s.size, s.end = q, offset
	s.maxTs, s.maxTsOff, s.maxTsLast = st.maxTs, st.maxTsOff, st.maxTsLast
	var size int64
	for _, x := range l.segs {
		size += x.size
	}
	l.size.Store(size)
	l.end.Store(offset)
	l.mu.Unlock()
	s.sinceIdx = st.since
	s.writeback, s.uncached = min(s.writeback, q), min(s.uncached, q)
	s.logDirty = true
	l.markDirty(s)
	if err := s.logf.Truncate(q); err != nil {
		l.failed = err
		return err
	}
	if err := s.truncateIndexFiles(); err != nil {
		l.failed = err
		return err
	}
	return nil
}

// truncState is the in-memory state of a segment cut at a batch boundary.
type truncState struct {
	nIdx, nTime                int
	maxTs, maxTsOff, maxTsLast int64
	since                      int
}

// stateAt computes the state s will have once cut at file position q, where the batch with
// base offset offset starts. Call as the writer.
func (s *segment) stateAt(q, offset int64) (truncState, error) {
	st := truncState{maxTs: -1, maxTsOff: -1, maxTsLast: -1}
	st.nIdx = sort.Search(len(s.offIdx), func(i int) bool { return int64(s.offIdx[i].pos) >= q })
	st.nTime = sort.Search(len(s.timeIdx), func(i int) bool { return s.base+int64(s.timeIdx[i].rel) >= offset })
	if q == 0 || st.nIdx == 0 {
		st.nIdx, st.nTime = 0, 0
		return st, nil
	}
	r := newHdrReader(s.logf, q)
	defer r.done()
	if st.nTime > 0 {
		// The kept entry with the largest timestamp: find its batch's base offset.
		e := s.timeIdx[st.nTime-1]
		o := s.base + int64(e.rel)
		_, h, found, err := s.batchAt(r, o)
		if err != nil {
			return st, err
		}
		if found && h.LastOffset() == o {
			st.maxTs, st.maxTsOff, st.maxTsLast = e.ts, h.BaseOffset, o
		}
	}
	// Batches after the last kept offset index entry may hold a larger timestamp.
	last := s.offIdx[st.nIdx-1]
	st.since = int(q - int64(last.pos))
	_, err := s.walk(r, int64(last.pos), s.base+int64(last.rel), func(_ int64, h record.Header) bool {
		if h.MaxTimestamp > st.maxTs {
			st.maxTs, st.maxTsOff, st.maxTsLast = h.MaxTimestamp, h.BaseOffset, h.LastOffset()
		}
		return false
	})
	return st, err
}

// DeleteBefore moves the log start offset up to offset as SetStart does, and deletes the
// segments that lie entirely below offset (also when the start was already there).
func (l *Log) DeleteBefore(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.setStart(offset); err != nil {
		return err
	}
	k := 0
	for k < len(l.segs)-1 && l.segs[k+1].base <= offset {
		k++
	}
	return l.removeOldest(k)
}

// SetStart moves the log start offset up to offset (DeleteRecords), persisting it durably
// (temp file, fsync, rename, fsync of the directory); reads below it fail from then on,
// but the segments stay until DeleteBefore. offset > EndOffset() returns
// ErrOffsetOutOfRange; an offset at or below the start offset changes nothing.
func (l *Log) SetStart(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.setStart(offset)
}

// setStart is SetStart; call as the writer.
func (l *Log) setStart(offset int64) error {
	if err := l.check(); err != nil {
		return err
	}
	if end := l.end.Load(); offset > end {
		return fmt.Errorf("%w: delete before %d, end offset is %d", ErrOffsetOutOfRange, offset, end)
	}
	if offset <= l.start.Load() {
		return nil
	}
	if err := writeOffsetFile(l.dir, startFile, offset); err != nil {
		return err
	}
	l.gen.Add(1)
	l.start.Store(offset)
	return nil
}

// StoredFrom is the base offset of the oldest segment: where the stored data begins,
// at or below the start offset.
func (l *Log) StoredFrom() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.segs) == 0 {
		return l.start.Load()
	}
	return l.segs[0].base
}

// EnforceRetention deletes whole oldest segments, never the active one: first those whose
// largest timestamp (the file's modification time if it has no timestamps) is older than
// now-retentionMs, then more while Size() > retentionBytes. A negative limit is unlimited.
// A segment holding offsets at or past keepFrom is never deleted (nor any after it). It
// returns the number of segments deleted; the start offset moves up to the new first one.
func (l *Log) EnforceRetention(now time.Time, retentionMs, retentionBytes, keepFrom int64) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.check(); err != nil {
		return 0, err
	}
	k := 0
	if retentionMs >= 0 {
		cutoff := now.UnixMilli() - retentionMs
		for k < len(l.segs)-1 {
			ts := l.segs[k].maxTs
			if ts < 0 {
				fi, err := l.segs[k].logf.Stat()
				if err != nil {
					return 0, err
				}
				ts = fi.ModTime().UnixMilli()
			}
			if ts >= cutoff {
				break
			}
			k++
		}
	}
	if retentionBytes >= 0 {
		size := l.size.Load()
		for _, s := range l.segs[:k] {
			size -= s.size
		}
		for k < len(l.segs)-1 && size > retentionBytes {
			size -= l.segs[k].size
			k++
		}
	}
	for k > 0 && l.segs[k].base > keepFrom {
		k--
	}
	return k, l.removeOldest(k)
}

// removeOldest deletes the k oldest segments and moves the start offset up to the new
// first one. Call as the writer, with k < len(segs).
func (l *Log) removeOldest(k int) error {
	if k == 0 {
		return nil
	}
	old := l.segs[:k]
	var freed int64
	l.gen.Add(1)
	l.mu.Lock()
	l.segs = slices.Clone(l.segs[k:])
	for _, s := range old {
		freed += s.size
	}
	l.size.Add(-freed)
	if b := l.segs[0].base; b > l.start.Load() {
		l.start.Store(b)
	}
	l.mu.Unlock()
	l.dirDirty = true
	var err error
	for _, s := range old {
		if e := s.remove(l.dir); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// Reset deletes all data and restarts the log empty at offset, which becomes both the start
// and the end offset. Durable on return; a crash part way is completed by Open.
func (l *Log) Reset(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("log: reset to negative offset %d", offset)
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.check(); err != nil {
		return err
	}
	if err := l.resetFiles(offset); err != nil {
		l.failed = err
		return err
	}
	return nil
}

// resetFiles replaces all segment files with one empty segment at offset. A marker file
// written first makes it atomic across crashes. Call as the writer.
func (l *Log) resetFiles(offset int64) error {
	if err := writeOffsetFile(l.dir, resetFile, offset); err != nil {
		return err
	}
	bases, indexNames, err := scanDir(l.dir)
	if err != nil {
		return err
	}
	for _, b := range bases {
		if err := os.Remove(segPath(l.dir, b, logExt)); err != nil {
			return err
		}
	}
	for _, name := range indexNames {
		if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
			return err
		}
	}
	ns, err := openSegment(l.dir, offset, true)
	if err != nil {
		return err
	}
	if err := writeOffsetFile(l.dir, startFile, offset); err != nil { // also fsyncs the directory
		ns.release()
		return err
	}
	l.gen.Add(1)
	l.mu.Lock()
	old := l.segs
	l.segs = []*segment{ns}
	l.start.Store(offset)
	l.end.Store(offset)
	l.size.Store(0)
	l.mu.Unlock()
	for _, s := range old {
		s.removed = true
		s.release()
	}
	clear(l.dirty)
	l.dirty, l.dirDirty = l.dirty[:0], false
	if err := os.Remove(filepath.Join(l.dir, resetFile)); err != nil {
		return err
	}
	return fsyncDir(l.dir)
}
