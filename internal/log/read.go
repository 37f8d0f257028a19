package log

import (
	"fmt"
	"io"

	"github.com/chronik-stream/chronik/internal/record"
)

// acquire finds the segment holding offset and takes a reference on it (the caller
// releases it), returning it with its index position for offset (see lookup) and its
// current size.
func (l *Log) acquire(offset int64) (s *segment, pos, eo, limit int64, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, 0, 0, 0, ErrClosed
	}
	i := l.segmentFor(offset)
	if i < 0 {
		return nil, 0, 0, 0, ErrOffsetOutOfRange
	}
	s = l.segs[i]
	pos, eo = s.lookup(offset)
	s.refs.Add(1)
	return s, pos, eo, s.size, nil
}

// Read returns whole batches starting with the batch that contains offset, at most maxBytes
// in total, except that the first batch is returned whole even if it is larger. It returns
// batches from one segment only (the next call continues in the next one). offset ==
// EndOffset() returns (nil, nil); an offset below StartOffset() or above EndOffset() returns
// ErrOffsetOutOfRange. Safe concurrently with the writer: only batches of completed Appends
// are returned, and a race with a truncation or deletion yields ErrOffsetOutOfRange.
func (l *Log) Read(offset int64, maxBytes int) ([]byte, error) {
	return l.read(offset, maxBytes, l.start.Load())
}

// ReadStored is Read from any offset still stored, also below the start offset where
// SetStart left the segments in place: recovery replays entries from there.
func (l *Log) ReadStored(offset int64, maxBytes int) ([]byte, error) {
	return l.read(offset, maxBytes, l.StoredFrom())
}

func (l *Log) read(offset int64, maxBytes int, from int64) ([]byte, error) {
	gen := l.gen.Load()
	end := l.end.Load()
	if offset == end {
		return nil, nil
	}
	if offset < from || offset > end {
		return nil, ErrOffsetOutOfRange
	}
	s, pos, eo, limit, err := l.acquire(offset)
	if err != nil {
		return nil, err
	}
	b, err := s.read(offset, pos, eo, limit, maxBytes)
	s.release()
	if err != nil && l.gen.Load() != gen {
		return nil, ErrOffsetOutOfRange
	}
	return b, err
}

// read implements Read within one segment.
func (s *segment) read(offset, pos, eo, limit int64, maxBytes int) ([]byte, error) {
	r := newHdrReader(s.logf, limit)
	q, h, found, err := s.walkTo(r, offset, pos, eo)
	r.done()
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrOffsetOutOfRange
	}
	first := int64(h.TotalSize())
	n := min(max(int64(maxBytes), first), limit-q)
	buf := make([]byte, n)
	got, err := s.logf.ReadAt(buf, q)
	if int64(got) < first {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	buf = buf[:got]
	if h2, err := record.ParseHeader(buf); err != nil || h2 != h {
		return nil, fmt.Errorf("%w: batch at %d changed while reading", record.ErrCorrupt, q)
	}
	e, next := int(first), h.LastOffset()+1
	for e+record.HeaderSize <= len(buf) {
		hh, err := record.ParseHeader(buf[e:])
		if err != nil || hh.BaseOffset != next {
			break
		}
		sz := hh.TotalSize()
		if sz > len(buf)-e || e+sz > maxBytes {
			break
		}
		e += sz
		next = hh.LastOffset() + 1
	}
	return buf[:e:e], nil
}

// walkTo finds the batch holding offset, starting from index position pos (see walk).
func (s *segment) walkTo(r *hdrReader, offset, pos, eo int64) (q int64, h record.Header, found bool, err error) {
	found, err = s.walk(r, pos, eo, func(p int64, hh record.Header) bool {
		if hh.LastOffset() >= offset {
			q, h = p, hh
			return true
		}
		return false
	})
	if found && h.BaseOffset > offset {
		return 0, h, false, errBrokenChain
	}
	return q, h, found, err
}

// FindTimestamp returns the first stored batch (at or after the start offset) whose
// MaxTimestamp >= ts; the caller finds the exact record inside it. ok is false if there is
// none. It uses the segments' largest timestamps and time indexes to skip ahead.
func (l *Log) FindTimestamp(ts int64) (batch []byte, ok bool, err error) {
	gen := l.gen.Load()
	start := l.start.Load()
	after := int64(-1) // segments with a base offset <= after were searched
	for {
		s, from, err := l.acquireTs(ts, start, after)
		if err != nil || s == nil {
			return nil, false, err
		}
		b, err := s.findTs(ts, start, from)
		s.release()
		if err != nil {
			if l.gen.Load() != gen {
				return nil, false, ErrOffsetOutOfRange
			}
			return nil, false, err
		}
		if b != nil {
			return b, true, nil
		}
		after = s.base
	}
}

// tsStart is where FindTimestamp starts looking in a segment: at index position pos (see
// walk), to skip the batches up to the one with last offset o, which a time index entry
// says is the first with timestamp t < ts (o < 0: no entry, start at pos 0).
type tsStart struct {
	pos, eo, limit int64
	o, t           int64
}

// acquireTs takes a reference on the first segment after the one based at after that may
// hold a batch at or after start with MaxTimestamp >= ts.
func (l *Log) acquireTs(ts, start, after int64) (*segment, tsStart, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, tsStart{}, ErrClosed
	}
	for _, x := range l.segs {
		if x.base <= after || x.maxTs < ts || x.end <= start {
			continue
		}
		from := tsStart{eo: -1, limit: x.size, o: -1}
		if k := x.timeLookup(ts); k >= 0 {
			from.o, from.t = x.base+int64(x.timeIdx[k].rel), x.timeIdx[k].ts
			from.pos, from.eo = x.lookup(from.o)
		}
		x.refs.Add(1)
		return x, from, nil
	}
	return nil, tsStart{}, nil
}

// findTs returns the first batch of s with MaxTimestamp >= ts and last offset >= start, or
// nil. It checks the time index entry it starts from against the batch it names and
// searches the whole segment if they disagree.
func (s *segment) findTs(ts, start int64, from tsStart) ([]byte, error) {
	r := newHdrReader(s.logf, from.limit)
	defer r.done()
	var q int64
	var h record.Header
	var found, lie bool
	verified := from.o < 0
	fn := func(p int64, hh record.Header) bool {
		if !verified {
			switch {
			case hh.LastOffset() < from.o:
				lie = hh.MaxTimestamp >= ts // then t was not the largest so far
				return lie
			case hh.LastOffset() == from.o && hh.MaxTimestamp == from.t:
				verified = true // and t < ts: not a match
				return false
			default:
				lie = true
				return true
			}
		}
		if hh.MaxTimestamp >= ts && hh.LastOffset() >= start {
			q, h, found = p, hh, true
			return true
		}
		return false
	}
	_, err := s.walk(r, from.pos, from.eo, fn)
	if err == nil && lie {
		verified = true
		_, err = s.walk(r, 0, -1, fn)
	}
	if err != nil || !found {
		return nil, err
	}
	b := make([]byte, h.TotalSize())
	if _, err := s.logf.ReadAt(b, q); err != nil {
		return nil, err
	}
	if h2, err := record.ParseHeader(b); err != nil || h2 != h {
		return nil, fmt.Errorf("%w: batch at %d changed while reading", record.ErrCorrupt, q)
	}
	return b, nil
}

// MaxTimestamp returns the largest batch MaxTimestamp in the log's segments and the base
// offset of the first batch that carries it (for ListOffsets -3: the record is inside that
// batch). ok is false when the log is empty or no batch has a timestamp (>= 0). Batches
// below the start offset that are still stored (DeleteBefore keeps the segment holding the
// start offset) count too.
func (l *Log) MaxTimestamp() (ts int64, offset int64, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed || l.start.Load() == l.end.Load() {
		return 0, 0, false
	}
	ts, offset = -1, -1
	for _, s := range l.segs {
		if s.maxTs > ts {
			ts, offset = s.maxTs, s.maxTsOff
		}
	}
	return ts, offset, ts >= 0
}
