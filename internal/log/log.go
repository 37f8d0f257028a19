// Package log stores one partition's record batches in Kafka's on-disk layout: a directory of
// segments, each a file of whole v2 batches named by its base offset (%020d.log), with a
// sparse offset index (%020d.index: int32 relative offset, int32 file position) and a time
// index (%020d.timeindex: int64 timestamp, int32 relative offset), all big-endian.
//
// Batches arrive validated with their base offsets set; the log stores and returns them
// verbatim. One writer (Append, Sync, TruncateTo, DeleteBefore, Reset, EnforceRetention,
// Close, Delete) may run at a time, though Sync may come from another goroutine than Append;
// readers (Read, FindTimestamp, MaxTimestamp, StartOffset, EndOffset, Size) may run
// concurrently with each other and with the writer.
package log

import (
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"github.com/chronik-stream/chronik/internal/record"
)

// Config tunes a log.
type Config struct {
	SegmentBytes       int64 // roll threshold; default 1 GiB if <= 0 (at most 2 GiB - 1)
	IndexIntervalBytes int   // bytes between offset index entries; default 4096 if <= 0
	// CacheBytes is how much of the newest data of the log stays in the page cache once
	// synced; older synced data is dropped from it (see dropCache). 0 means the default,
	// 64 MiB; a negative value keeps everything cached.
	CacheBytes int64
}

func (c Config) withDefaults() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = 1 << 30
	}
	if c.SegmentBytes > math.MaxInt32 {
		c.SegmentBytes = math.MaxInt32 // file positions in the index are int32
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = 4096
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 64 << 20
	}
	return c
}

var (
	// ErrOffsetOutOfRange reports an offset outside [StartOffset, EndOffset].
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrClosed is returned by every call on a closed log.
	ErrClosed = errors.New("log: closed")
	// ErrInvalidAppend is wrapped by Append errors about the appended bytes themselves.
	ErrInvalidAppend = errors.New("log: invalid append")
)

// Log is one partition's segmented log. Create it with Open.
type Log struct {
	dir string
	cfg Config

	syncMu sync.Mutex // serialises Sync (and Close) calls
	wmu    sync.Mutex // serialises writers; guards the writer state below
	mu     sync.RWMutex

	// Guarded by mu; changed only by the writer (holding wmu too), so the writer may read
	// them without mu.
	segs   []*segment // by base offset; the last one is active
	closed bool

	start atomic.Int64  // log start offset
	end   atomic.Int64  // log end offset; stored under mu together with the segment sizes
	size  atomic.Int64  // bytes in all segments
	gen   atomic.Uint64 // bumped by destructive operations, so readers can tell races from corruption

	// Writer state, guarded by wmu.
	dirty    []*segment // segments with unsynced data or unflushed index entries
	dirDirty bool       // directory entries changed since the last sync
	failed   error      // sticky: a failed fsync or an unrepairable write
	scratch  []byte     // index encoding buffer
}

// StartOffset returns the log start offset: the first offset that may be read.
func (l *Log) StartOffset() int64 { return l.start.Load() }

// EndOffset returns the log end offset: the offset the next appended batch gets.
func (l *Log) EndOffset() int64 { return l.end.Load() }

// Size returns the number of bytes in all segment files.
func (l *Log) Size() int64 { return l.size.Load() }

// check reports whether the writer may proceed; call with wmu held.
func (l *Log) check() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// markDirty queues s for the next Sync; call with wmu held.
func (l *Log) markDirty(s *segment) {
	if !s.queued {
		s.queued = true
		l.dirty = append(l.dirty, s)
	}
}

// Append appends one or more whole batches, concatenated. Each batch's BaseOffset must
// equal EndOffset() at that point, and the bytes must hold whole batches only; otherwise
// nothing is written and the error wraps ErrInvalidAppend. Batch contents (CRC etc.) are
// the caller's responsibility. The data goes to the active segment with one write call
// (rolling a new segment first if it would not fit); it is not fsynced (see Sync).
func (l *Log) Append(batches []byte) error {
	if len(batches) == 0 {
		return nil
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.check(); err != nil {
		return err
	}
	next := l.end.Load()
	for p := 0; p < len(batches); {
		h, err := record.ParseHeader(batches[p:])
		if err != nil {
			return fmt.Errorf("%w: batch at byte %d: %v", ErrInvalidAppend, p, err)
		}
		sz := h.TotalSize()
		switch {
		case sz > len(batches)-p || sz > math.MaxInt32:
			return fmt.Errorf("%w: batch at byte %d is %d bytes, only %d given", ErrInvalidAppend, p, sz, len(batches)-p)
		case h.BaseOffset != next:
			return fmt.Errorf("%w: batch at byte %d has base offset %d, want %d", ErrInvalidAppend, p, h.BaseOffset, next)
		case h.LastOffsetDelta < 0 || h.BaseOffset > math.MaxInt64-1-int64(h.LastOffsetDelta):
			return fmt.Errorf("%w: batch at byte %d has last offset delta %d", ErrInvalidAppend, p, h.LastOffsetDelta)
		}
		next = h.LastOffset() + 1
		p += sz
	}
	for len(batches) > 0 {
		n, err := l.appendChunk(batches, next-1)
		if err != nil {
			return err
		}
		batches = batches[n:]
	}
	return nil
}

// appendChunk writes the longest prefix of b that fits the active segment (rolling first if
// all of b would not) and returns its length. last is the last offset in b.
func (l *Log) appendChunk(b []byte, last int64) (int, error) {
	s := l.active()
	if s.size > 0 && (s.size+int64(len(b)) > l.cfg.SegmentBytes || last-s.base > math.MaxInt32) {
		if err := l.roll(); err != nil {
			return 0, err
		}
		s = l.active()
	}
	n := len(b)
	if s.size+int64(n) > math.MaxInt32 || last-s.base > math.MaxInt32 {
		// Only a fresh segment gets here: split b where positions or relative offsets
		// would overflow the int32 index fields.
		n = 0
		for n < len(b) {
			h, _ := record.ParseHeader(b[n:])
			sz := h.TotalSize()
			if s.size+int64(n+sz) > math.MaxInt32 || h.LastOffset()-s.base > math.MaxInt32 {
				break
			}
			n += sz
		}
		if n == 0 {
			return 0, fmt.Errorf("%w: batch does not fit in a segment", ErrInvalidAppend)
		}
	}
	pos := s.size
	if _, err := s.logf.WriteAt(b[:n], pos); err != nil {
		if terr := s.logf.Truncate(pos); terr != nil {
			l.failed = fmt.Errorf("log: undoing failed write: %w", terr)
		}
		return 0, err
	}
	l.mu.Lock()
	for p := 0; p < n; {
		h, _ := record.ParseHeader(b[p:])
		s.track(h, pos+int64(p), l.cfg.IndexIntervalBytes)
		p += h.TotalSize()
	}
	l.size.Add(int64(n))
	l.end.Store(s.end)
	l.mu.Unlock()
	s.logDirty = true
	l.markDirty(s)
	s.startWriteback(pos + int64(n))
	return n, nil
}

// roll closes the active segment for appends (final time index entry, index files written)
// and starts a new one at the log end offset. Call with wmu held.
func (l *Log) roll() error {
	old := l.active()
	l.mu.Lock()
	old.finalize()
	l.mu.Unlock()
	if err := l.flushIndex(old); err != nil {
		return err
	}
	ns, err := openSegment(l.dir, l.end.Load(), true)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.segs = append(l.segs, ns)
	l.mu.Unlock()
	l.dirDirty = true
	return nil
}

// flushIndex writes s's pending index entries to its index files. Call with wmu held.
func (l *Log) flushIndex(s *segment) error {
	wrote, err := s.flushIndex(&l.scratch)
	if wrote {
		l.markDirty(s)
	}
	return err
}

// Sync makes everything appended so far durable: pending index entries are written, then
// dirty segment and index files are fsynced, and the directory if files were created or
// removed. Appends may proceed while the fsyncs run. A failed fsync makes the log unusable
// for writing (every later write call returns the error): reopen it to recover.
func (l *Log) Sync() error { return l.sync(true) }

// SyncData is Sync without the index files: it makes the appended batches durable (and
// the directory, when segments were created or removed) but leaves pending index entries
// to the next Sync. Recovery rebuilds an index that lags its segment.
func (l *Log) SyncData() error { return l.sync(false) }

func (l *Log) sync(indexes bool) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.wmu.Lock()
	if err := l.check(); err != nil {
		l.wmu.Unlock()
		return err
	}
	if indexes {
		for _, s := range l.dirty {
			if !s.removed {
				if _, err := s.flushIndex(&l.scratch); err != nil {
					l.wmu.Unlock()
					return err
				}
			}
		}
	}
	drops := l.cacheDrops()
	var files []*os.File
	var held []*segment
	for _, s := range l.dirty {
		if s.removed {
			continue
		}
		if s.logDirty {
			files = append(files, s.logf)
		}
		if s.idxDirty && indexes {
			files = append(files, s.idxf, s.tidxf)
		}
		s.logDirty = false
		if indexes {
			s.idxDirty = false
		}
		s.refs.Add(1)
		held = append(held, s)
	}
	if indexes {
		for _, s := range l.dirty {
			s.queued = false
		}
		clear(l.dirty)
		l.dirty = l.dirty[:0]
	}
	syncDir := l.dirDirty
	l.dirDirty = false
	l.wmu.Unlock()

	var err error
	for _, f := range files {
		if e := fsync(f); e != nil && err == nil {
			err = e
		}
	}
	if syncDir {
		if e := fsyncDir(l.dir); e != nil && err == nil {
			err = e
		}
	}
	if err == nil {
		for _, d := range drops {
			_ = unix.Fadvise(int(d.s.logf.Fd()), d.from, d.to-d.from, unix.FADV_DONTNEED)
		}
	}
	for _, s := range held {
		s.release()
	}
	if err != nil {
		l.wmu.Lock()
		if l.failed == nil {
			l.failed = fmt.Errorf("log: fsync failed: %w", err)
		}
		l.wmu.Unlock()
	}
	return err
}

// dropChunk is the least a cache drop covers, so that it costs one call per that many bytes.
const dropChunk = 1 << 20

// cacheDrop is a range of a segment's log file to drop from the page cache once synced.
type cacheDrop struct {
	s        *segment
	from, to int64
}

// cacheDrops lists the ranges of the segments about to be synced that lie more than
// CacheBytes before the end of the log, and marks them dropped. Call as the writer.
//
// Why: a write into a page the page cache has to allocate costs far more than a write
// into one it recycles, most of all in virtual machines that hand free memory back to the
// host. Dropping synced data behind a window keeps the cache's footprint per partition
// steady, so new writes reuse freed pages. Readers of older data read the disk, as Kafka
// consumers far behind the tail do whenever it is not cached.
func (l *Log) cacheDrops() []cacheDrop {
	if l.cfg.CacheBytes < 0 {
		return nil
	}
	var drops []cacheDrop
	var after int64 // bytes of the log after segment i
	for i := len(l.segs) - 1; i >= 0; i-- {
		s := l.segs[i]
		if s.logDirty && !s.removed {
			keep := max(0, l.cfg.CacheBytes-after)
			if to := s.size - keep; to-s.uncached >= dropChunk {
				drops = append(drops, cacheDrop{s: s, from: s.uncached, to: to})
				s.uncached = to
			}
		}
		after += s.size
	}
	return drops
}

// Close syncs the log and closes its files. Readers still inside a call finish first
// (their files stay open until they are done); later calls return ErrClosed.
func (l *Log) Close() error {
	err := l.Sync()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	l.shut()
	return err
}

// Delete closes the log without syncing and removes its whole directory.
func (l *Log) Delete() error {
	l.shut()
	return os.RemoveAll(l.dir)
}

// shut marks the log closed and drops its references to the segments.
func (l *Log) shut() {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	segs := l.segs
	l.segs, l.closed = nil, true
	l.mu.Unlock()
	for _, s := range segs {
		s.release()
	}
}

// segmentFor returns the index of the segment that holds offset (the last one whose base
// offset is <= offset), or -1. Call with mu held (or as the writer).
func (l *Log) segmentFor(offset int64) int {
	lo, hi := 0, len(l.segs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.segs[m].base <= offset {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// skipFsync turns fsync into a no-op; fuzz tests set it to run fast.
var skipFsync = false

// fsync makes a file's data and size durable. fdatasync suffices: appends change only
// the size among the metadata, which it covers, and it spares the journal the rest.
func fsync(f *os.File) error {
	if skipFsync {
		return nil
	}
	return unix.Fdatasync(int(f.Fd()))
}

func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = fsync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
