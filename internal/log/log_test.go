package log

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/record"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		batches   int
		perAppend int
		body      int
		minSegs   int
	}{
		{"small segments", Config{SegmentBytes: 4096, IndexIntervalBytes: 512}, 300, 3, 100, 10},
		{"segment per append", Config{SegmentBytes: 1, IndexIntervalBytes: 1}, 50, 2, 10, 25},
		{"batches larger than segments", Config{SegmentBytes: 1000, IndexIntervalBytes: 100}, 20, 1, 3000, 20},
		{"defaults", Config{}, 200, 7, 500, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, tc.cfg)
			var q seq
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < tc.batches; {
				var chunk []byte
				for j := 0; j < tc.perAppend && i < tc.batches; j, i = j+1, i+1 {
					chunk = append(chunk, q.add(1+rng.IntN(5), int64(1000+i), tc.body+rng.IntN(50))...)
				}
				mustAppend(t, l, chunk)
			}
			check := func(l *Log) {
				t.Helper()
				want := q.all()
				if l.EndOffset() != q.next || l.StartOffset() != 0 || l.Size() != int64(len(want)) {
					t.Fatalf("start %d end %d size %d, want 0 %d %d", l.StartOffset(), l.EndOffset(), l.Size(), q.next, len(want))
				}
				for _, mb := range []int{1, 700, 1 << 20} {
					if got := readAllFrom(t, l, 0, mb); !bytes.Equal(got, want) {
						t.Fatalf("maxBytes %d: read %d bytes, want %d", mb, len(got), len(want))
					}
				}
				for off := int64(0); off < q.next; off++ {
					b, err := l.Read(off, 1)
					if err != nil {
						t.Fatalf("Read(%d): %v", off, err)
					}
					if w := q.batches[q.find(off)]; !bytes.Equal(b, w) {
						t.Fatalf("Read(%d) returned %d bytes, want the batch holding it", off, len(b))
					}
				}
			}
			check(l)
			if n := len(segFiles(t, dir, ".log")); n < tc.minSegs {
				t.Fatalf("%d segments, want >= %d", n, tc.minSegs)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			// The index files of closed segments must be accepted as they are.
			idx := map[string][]byte{}
			for _, f := range append(segFiles(t, dir, ".index"), segFiles(t, dir, ".timeindex")...) {
				idx[f], _ = os.ReadFile(f)
			}
			l = mustOpen(t, dir, tc.cfg)
			for _, s := range l.segs[:len(l.segs)-1] {
				x, err := openSegment(dir, s.base, false)
				if err != nil {
					t.Fatal(err)
				}
				if err := x.loadIndexes(l.cfg.IndexIntervalBytes); err != nil {
					t.Errorf("segment %d: index rejected: %v", s.base, err)
				}
				x.release()
			}
			for f, b := range idx {
				if got, _ := os.ReadFile(f); !bytes.Equal(got, b) {
					t.Errorf("%s rewritten by Open", f)
				}
			}
			check(l)
			mustAppend(t, l, q.add(3, 5000, 100))
			check(l)
			l.Close()
		})
	}
}

func TestIndexFormat(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{SegmentBytes: 1 << 20, IndexIntervalBytes: 150})
	var q seq
	for i := 0; i < 4; i++ {
		mustAppend(t, l, q.add(10, int64(100*(i+1)), 100-record.HeaderSize)) // 100-byte batches
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// Entries at batch 0 (first), and batch 2 (200 >= 150 bytes since); last offsets 9, 29.
	wantIdx := []byte{0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 29, 0, 0, 0, 200}
	if got, _ := os.ReadFile(segPath(dir, 0, indexExt)); !bytes.Equal(got, wantIdx) {
		t.Errorf(".index = %v, want %v", got, wantIdx)
	}
	wantTime := []byte{0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 1, 44, 0, 0, 0, 29}
	if got, _ := os.ReadFile(segPath(dir, 0, timeIndexExt)); !bytes.Equal(got, wantTime) {
		t.Errorf(".timeindex = %v, want %v", got, wantTime)
	}
	l.Close()
}

func TestReadMaxBytes(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{})
	defer l.Close()
	var q seq
	for i := 0; i < 5; i++ {
		mustAppend(t, l, q.add(4, 1, 100-record.HeaderSize)) // 100-byte batches of 4 records
	}
	tests := []struct {
		offset   int64
		maxBytes int
		want     int // batches returned, starting at the one holding offset
		err      error
	}{
		{0, 0, 1, nil},
		{0, 1, 1, nil},
		{0, 100, 1, nil},
		{0, 199, 1, nil},
		{0, 200, 2, nil},
		{6, 250, 2, nil}, // middle of batch 1
		{7, 1 << 20, 4, nil},
		{19, 1, 1, nil},
		{20, 100, 0, nil}, // end offset
		{21, 100, 0, ErrOffsetOutOfRange},
		{-1, 100, 0, ErrOffsetOutOfRange},
	}
	for _, tc := range tests {
		b, err := l.Read(tc.offset, tc.maxBytes)
		if !errors.Is(err, tc.err) {
			t.Errorf("Read(%d, %d) err %v, want %v", tc.offset, tc.maxBytes, err, tc.err)
			continue
		}
		var want []byte
		if tc.want > 0 {
			i := q.find(tc.offset)
			want = bytes.Join(q.batches[i:i+tc.want], nil)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("Read(%d, %d) = %d bytes, want %d", tc.offset, tc.maxBytes, len(b), len(want))
		}
	}
}

func TestAppendRejects(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{})
	defer l.Close()
	good := mkBatch(0, 2, 1, 10)
	torn := append(mkBatch(0, 1, 1, 10), mkBatch(1, 1, 1, 10)[:30]...)
	for name, b := range map[string][]byte{
		"wrong base":   mkBatch(5, 1, 1, 10),
		"torn":         torn,
		"short":        good[:40],
		"second wrong": append(append([]byte{}, good...), mkBatch(3, 1, 1, 10)...),
	} {
		if err := l.Append(b); !errors.Is(err, ErrInvalidAppend) {
			t.Errorf("%s: err %v, want ErrInvalidAppend", name, err)
		}
	}
	if l.EndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("rejected appends changed the log: end %d size %d", l.EndOffset(), l.Size())
	}
	mustAppend(t, l, good)
	if l.EndOffset() != 2 {
		t.Fatalf("end %d", l.EndOffset())
	}
}

func TestFindTimestamp(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		dir := t.TempDir()
		cfg := Config{SegmentBytes: 2000, IndexIntervalBytes: 300}
		l := mustOpen(t, dir, cfg)
		var q seq
		rng := rand.New(rand.NewPCG(3, 4))
		ts := int64(1000)
		for i := 0; i < 200; i++ {
			ts += int64(rng.IntN(20)) - 5 // mostly increasing, sometimes back in time
			mustAppend(t, l, q.add(1+rng.IntN(3), ts, 50+rng.IntN(100)))
		}
		if reopen {
			l.Close()
			l = mustOpen(t, dir, cfg)
		}
		for target := int64(900); target < ts+30; target++ {
			var want []byte
			for _, b := range q.batches {
				if h, _ := record.ParseHeader(b); h.MaxTimestamp >= target {
					want = b
					break
				}
			}
			got, ok, err := l.FindTimestamp(target)
			if err != nil || ok != (want != nil) || !bytes.Equal(got, want) {
				t.Fatalf("reopen %v: FindTimestamp(%d) = %d bytes, %v, %v; want %d bytes", reopen, target, len(got), ok, err, len(want))
			}
		}
		// MaxTimestamp: the first batch with the largest timestamp.
		var maxTs, maxOff int64 = -1, -1
		for _, b := range q.batches {
			if h, _ := record.ParseHeader(b); h.MaxTimestamp > maxTs {
				maxTs, maxOff = h.MaxTimestamp, h.BaseOffset
			}
		}
		if gts, goff, ok := l.MaxTimestamp(); !ok || gts != maxTs || goff != maxOff {
			t.Fatalf("reopen %v: MaxTimestamp = %d, %d, %v; want %d, %d", reopen, gts, goff, ok, maxTs, maxOff)
		}
		l.Close()
	}
	l := mustOpen(t, t.TempDir(), Config{})
	defer l.Close()
	if _, _, ok := l.MaxTimestamp(); ok {
		t.Fatal("MaxTimestamp ok on empty log")
	}
	if _, ok, err := l.FindTimestamp(0); ok || err != nil {
		t.Fatalf("FindTimestamp on empty log: %v %v", ok, err)
	}
}

// TestConcurrentReaders runs readers against a writer that appends, rolls, and deletes old
// segments; run with -race.
func TestConcurrentReaders(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{SegmentBytes: 8192, IndexIntervalBytes: 256})
	defer l.Close()
	var q seq
	var batches sync.Map // base offset -> batch
	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 9))
			for !stop.Load() {
				start, end := l.StartOffset(), l.EndOffset()
				if end == start {
					continue
				}
				off := start + rng.Int64N(end-start)
				b, err := l.Read(off, 1+rng.IntN(4000))
				if errors.Is(err, ErrOffsetOutOfRange) && off < l.StartOffset() {
					continue // deleted meanwhile
				}
				if err != nil {
					t.Errorf("Read(%d) [%d, %d): %v", off, start, end, err)
					return
				}
				for p := 0; p < len(b); {
					h, _ := record.ParseHeader(b[p:])
					w, ok := batches.Load(h.BaseOffset)
					if !ok || !bytes.Equal(w.([]byte), b[p:p+h.TotalSize()]) {
						t.Errorf("Read(%d) returned a wrong batch at %d", off, h.BaseOffset)
						return
					}
					p += h.TotalSize()
				}
				if _, _, err := l.FindTimestamp(rng.Int64N(3000)); err != nil && !errors.Is(err, ErrOffsetOutOfRange) {
					t.Errorf("FindTimestamp: %v", err)
				}
				l.MaxTimestamp()
			}
		}(uint64(r))
	}
	for i := 0; i < 3000 && !t.Failed(); i++ {
		b := mkBatch(q.next, 2, int64(i), 100+i%300)
		batches.Store(q.next, b)
		q.next += 2
		mustAppend(t, l, b)
		if i%500 == 499 {
			if err := l.DeleteBefore(l.EndOffset() - 1000); err != nil {
				t.Fatal(err)
			}
			if _, err := l.EnforceRetention(time.Now(), -1, 100000, math.MaxInt64); err != nil {
				t.Fatal(err)
			}
		}
		if i%100 == 0 {
			go l.Sync()
		}
	}
	stop.Store(true)
	wg.Wait()
}

func TestRollOnOffsetOverflow(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{})
	defer l.Close()
	var q seq
	mustAppend(t, l, q.add(math.MaxInt32-5, 1, 10)) // offsets 0 .. MaxInt32-6
	mustAppend(t, l, q.add(5, 2, 10))               // last offset MaxInt32-1: still fits
	mustAppend(t, l, q.add(3, 3, 10))               // last offset MaxInt32+1: new segment
	if got := segBases(t, dir); len(got) != 2 || got[1] != math.MaxInt32 {
		t.Fatalf("segments %v", got)
	}
	if got := readAllFrom(t, l, 0, 1<<20); !bytes.Equal(got, q.all()) {
		t.Fatal("read differs")
	}
	if b, err := l.Read(math.MaxInt32+1, 1); err != nil || !bytes.Equal(b, q.batches[2]) {
		t.Fatalf("Read: %v", err)
	}
}
