package log

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/chronik-stream/chronik/internal/record"
)

const (
	startFile = "log-start-offset" // decimal log start offset, replaced atomically
	resetFile = "reset-offset"     // present while a Reset is under way; Open finishes it
	tmpSuffix = ".tmp"
)

var errShort = errors.New("log: short file")

// Open opens or creates the log in dir.
//
// Recovery: the last segment, and any segment whose index files are missing, short or
// inconsistent with it, is scanned batch by batch (header, length within the file, CRC-32C
// over batch[21:] against the header CRC, base offset == previous end offset). At the first
// bad or torn batch the file is truncated there, later segments are removed, and the indexes
// of the scanned segment are rebuilt. The log start offset is the one in the file
// log-start-offset if present, but at least the first segment's base offset. An interrupted
// Reset is completed. Repairs are fsynced before Open returns.
func Open(dir string, cfg Config) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l := &Log{dir: dir, cfg: cfg.withDefaults()}
	if err := l.load(); err != nil {
		for _, s := range l.segs {
			s.release()
		}
		return nil, err
	}
	if len(l.dirty) > 0 || l.dirDirty {
		if err := l.Sync(); err != nil {
			l.shut()
			return nil, err
		}
	}
	return l, nil
}

func (l *Log) load() error {
	if off, ok, err := readOffsetFile(l.dir, resetFile); err != nil {
		return err
	} else if ok {
		return l.resetFiles(off)
	}
	bases, names, err := scanDir(l.dir)
	if err != nil {
		return err
	}
	for _, name := range names { // index files without a log file
		if b, _, _ := parseSegName(name); !slices.Contains(bases, b) {
			os.Remove(filepath.Join(l.dir, name))
		}
	}
	for _, b := range bases {
		s, err := openSegment(l.dir, b, false)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
	}
	interval := l.cfg.IndexIntervalBytes
	for i := 0; i < len(l.segs); i++ {
		s := l.segs[i]
		last := i == len(l.segs)-1
		if !last && s.loadIndexes(interval) == nil && s.end == l.segs[i+1].base {
			continue
		}
		valid, fileSize, err := s.scan(interval)
		if err != nil {
			return err
		}
		if valid < fileSize {
			if err := s.logf.Truncate(valid); err != nil {
				return err
			}
			s.logDirty = true
			l.markDirty(s)
		}
		if !last && (valid < fileSize || s.end != l.segs[i+1].base) {
			if err := l.removeFrom(i + 1); err != nil {
				return err
			}
			last = true
		}
		if !last {
			s.finalize()
		}
		wrote, err := s.rewriteIndexes()
		if err != nil {
			return err
		}
		if wrote {
			l.markDirty(s)
			l.dirDirty = true
		}
	}

	start, haveStart, err := readOffsetFile(l.dir, startFile)
	if err != nil {
		return err
	}
	if len(l.segs) == 0 {
		if err := l.addSegment(max(start, 0)); err != nil {
			return err
		}
	}
	if !haveStart || start < l.segs[0].base {
		start = l.segs[0].base
	}
	if start > l.active().end {
		// Data up to the persisted start offset is missing (lost unsynced tail, deleted
		// files): start over empty at the start offset, as Kafka does.
		if err := l.removeFrom(0); err != nil {
			return err
		}
		if err := l.addSegment(start); err != nil {
			return err
		}
	}
	// Segments wholly below the start offset stay until the next DeleteBefore: SetStart
	// leaves them for recovery to replay from (see StoredFrom).
	var size int64
	for _, s := range l.segs {
		size += s.size
	}
	l.start.Store(start)
	l.end.Store(l.active().end)
	l.size.Store(size)
	return nil
}

// removeFrom deletes the segments from index i on, newest first (so that a crash leaves a
// contiguous log). Call as the writer.
func (l *Log) removeFrom(i int) error {
	for j := len(l.segs) - 1; j >= i; j-- {
		s := l.segs[j]
		l.mu.Lock()
		l.segs = l.segs[:j]
		l.mu.Unlock()
		l.dirDirty = true
		if err := s.remove(l.dir); err != nil {
			return err
		}
	}
	return nil
}

// addSegment creates an empty segment at base and makes it the active one. Call as the writer.
func (l *Log) addSegment(base int64) error {
	s, err := openSegment(l.dir, base, true)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	l.dirDirty = true
	return nil
}

// scan checks the batches of s from the start of its file (header, length within the
// file, base offset chaining from the segment's base, CRC-32C) and rebuilds the in-memory
// state from them. It returns the length of the valid prefix and the file size. A bad or
// torn batch ends the valid prefix; read errors are returned.
func (s *segment) scan(interval int) (valid, fileSize int64, err error) {
	s.resetMem()
	fi, err := s.logf.Stat()
	if err != nil {
		return 0, 0, err
	}
	fileSize = fi.Size()
	buf := make([]byte, min(fileSize, 1<<20))
	var off int64
	n := 0
	window := func(pos int64, need int) ([]byte, error) {
		if pos >= off && pos+int64(need) <= off+int64(n) {
			return buf[pos-off : pos-off+int64(need)], nil
		}
		if int64(need) > fileSize-pos {
			return nil, errShort
		}
		if need > len(buf) {
			buf = make([]byte, need)
		}
		got, err := s.logf.ReadAt(buf[:min(int64(len(buf)), fileSize-pos)], pos)
		off, n = pos, got
		if got >= need {
			return buf[:need], nil
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		return nil, errShort // the file shrank under us

	}
	next := s.base
	var pos int64
	for pos < fileSize {
		hb, err := window(pos, record.HeaderSize)
		if err != nil {
			if err == errShort {
				break
			}
			return 0, 0, err
		}
		h, err := record.ParseHeader(hb)
		if err != nil {
			break
		}
		sz := h.TotalSize()
		if h.BaseOffset != next || h.LastOffsetDelta < 0 || h.BaseOffset > math.MaxInt64-1-int64(h.LastOffsetDelta) ||
			h.LastOffset()-s.base > math.MaxInt32 || pos+int64(sz) > math.MaxInt32 {
			break
		}
		b, err := window(pos, sz)
		if err != nil {
			if err == errShort {
				break
			}
			return 0, 0, err
		}
		if !h.CRCMatches(b) {
			break
		}
		s.track(h, pos, interval)
		next = h.LastOffset() + 1
		pos += int64(sz)
	}
	return pos, fileSize, nil
}

// parseSegName parses "%020d.log", "%020d.index" or "%020d.timeindex".
func parseSegName(name string) (base int64, ext string, ok bool) {
	if len(name) <= 20 || name[20] != '.' {
		return 0, "", false
	}
	ext = name[20:]
	if ext != logExt && ext != indexExt && ext != timeIndexExt {
		return 0, "", false
	}
	for _, c := range name[:20] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	base, err := strconv.ParseInt(name[:20], 10, 64)
	return base, ext, err == nil
}

// scanDir returns the sorted base offsets of the log files in dir and the names of their
// index files, after removing temporary files left by a crash.
func scanDir(dir string) (bases []int64, indexNames []string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if base, ext, ok := parseSegName(name); ok {
			if ext == logExt {
				bases = append(bases, base)
			} else {
				indexNames = append(indexNames, name)
			}
		}
	}
	slices.Sort(bases)
	return bases, indexNames, nil
}

// writeOffsetFile durably replaces dir/name with v: temp file, fsync, rename, fsync dir.
func writeOffsetFile(dir, name string, v int64) error {
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatInt(v, 10) + "\n")
	if err == nil {
		err = fsync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = fsyncDir(dir)
	}
	return err
}

// readOffsetFile reads a file written by writeOffsetFile; ok is false if it is absent or
// does not hold a valid offset.
func readOffsetFile(dir, name string) (v int64, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	v, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v < 0 {
		return 0, false, nil
	}
	return v, true, nil
}
