package log

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/record"
)

func baseOf(b []byte) int64 { h, _ := record.ParseHeader(b); return h.BaseOffset }

func TestTruncateTo(t *testing.T) {
	dir, q := buildLog(t, 40)
	n := len(q.batches)
	segStart := q.find(segBases(t, dir)[2]) // first batch of the third segment
	for _, k := range []int{0, 1, segStart, segStart + 1, n - 1, n} {
		d := copyDir(t, dir)
		l := mustOpen(t, d, recCfg)
		target := q.next
		if k < n {
			target = baseOf(q.batches[k])
		}
		if err := l.TruncateTo(target); err != nil {
			t.Fatalf("TruncateTo(%d): %v", target, err)
		}
		checkTimes(t, l, q.batches[:k])
		expectPrefix(t, l, q, k)
		l.Close()
		l = mustOpen(t, d, recCfg)
		checkTimes(t, l, q.batches[:min(k+1, n)])
		expectPrefix(t, l, q, min(k+1, n))
		l.Close()
	}

	l := mustOpen(t, copyDir(t, dir), recCfg)
	defer l.Close()
	var multi []byte // a batch of several records
	for _, b := range q.batches {
		if h, _ := record.ParseHeader(b); h.LastOffsetDelta > 0 {
			multi = b
			break
		}
	}
	if err := l.TruncateTo(baseOf(multi) + 1); err == nil || errors.Is(err, ErrOffsetOutOfRange) {
		t.Errorf("truncate inside a batch: %v", err)
	}
	if err := l.TruncateTo(q.next + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Errorf("truncate past the end: %v", err)
	}
	if err := l.DeleteBefore(baseOf(q.batches[5])); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(baseOf(q.batches[4])); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Errorf("truncate below the start: %v", err)
	}
	if l.EndOffset() != q.next {
		t.Errorf("failed truncations changed the end offset to %d", l.EndOffset())
	}
}

// checkTimes compares MaxTimestamp and FindTimestamp with a scan of batches.
func checkTimes(t *testing.T, l *Log, batches [][]byte) {
	t.Helper()
	var maxTs, maxOff int64 = -1, -1
	for _, b := range batches {
		if h, _ := record.ParseHeader(b); h.MaxTimestamp > maxTs {
			maxTs, maxOff = h.MaxTimestamp, h.BaseOffset
		}
	}
	if ts, off, ok := l.MaxTimestamp(); ok != (maxTs >= 0) || (ok && (ts != maxTs || off != maxOff)) {
		t.Fatalf("MaxTimestamp = %d %d %v, want %d %d", ts, off, ok, maxTs, maxOff)
	}
	for i, b := range batches {
		h, _ := record.ParseHeader(b)
		if got, ok, err := l.FindTimestamp(h.MaxTimestamp); !ok || err != nil || !bytes.Equal(got, b) {
			t.Fatalf("FindTimestamp(%d) of batch %d: %v %v", h.MaxTimestamp, i, ok, err)
		}
	}
	if _, ok, _ := l.FindTimestamp(maxTs + 1); ok {
		t.Fatalf("FindTimestamp past the largest timestamp found a batch")
	}
}

func segBases(t testing.TB, dir string) []int64 {
	var bases []int64
	for _, f := range segFiles(t, dir, ".log") {
		b, _, _ := parseSegName(filepath.Base(f))
		bases = append(bases, b)
	}
	return bases
}

func TestDeleteBefore(t *testing.T) {
	dir, q := buildLog(t, 40)
	bases := segBases(t, dir)
	l := mustOpen(t, dir, recCfg)
	off := bases[3] + 1 // inside the fourth segment
	if err := l.DeleteBefore(off); err != nil {
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		if l.StartOffset() != off {
			t.Fatalf("start %d, want %d", l.StartOffset(), off)
		}
		if got := segBases(t, dir); got[0] != bases[3] || len(got) != len(bases)-3 {
			t.Fatalf("segments %v, want from %d", got, bases[3])
		}
		if _, err := l.Read(off-1, 100); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read below start: %v", err)
		}
		b, err := l.Read(off, 1)
		if err != nil || !bytes.Equal(b, q.batches[q.find(off)]) {
			t.Fatalf("Read(start): %v", err)
		}
		want := bytes.Join(q.batches[q.find(off):], nil)
		if got := readAllFrom(t, l, off, 500); !bytes.Equal(got, want) {
			t.Fatal("read after DeleteBefore differs")
		}
	}
	check(l)
	if err := l.DeleteBefore(off - 1); err != nil { // below the start: nothing happens
		t.Fatal(err)
	}
	if err := l.DeleteBefore(q.next + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteBefore past the end: %v", err)
	}
	l.Close()
	l = mustOpen(t, dir, recCfg)
	check(l)
	if err := l.DeleteBefore(q.next); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != q.next || len(segBases(t, dir)) != 1 {
		t.Fatalf("start %d, segments %v", l.StartOffset(), segBases(t, dir))
	}
	if b, err := l.Read(q.next, 100); b != nil || err != nil {
		t.Fatalf("Read(end) = %d bytes, %v", len(b), err)
	}
	if _, _, ok := l.MaxTimestamp(); ok {
		t.Fatal("MaxTimestamp ok on an empty log")
	}
	l.Close()
	l = mustOpen(t, dir, recCfg)
	defer l.Close()
	if l.StartOffset() != q.next || l.EndOffset() != q.next {
		t.Fatalf("after reopen: start %d end %d", l.StartOffset(), l.EndOffset())
	}
}

// SetStart moves the start offset durably but keeps the segments: reads below the start
// fail, ReadStored still reads them, a reopen keeps both, and DeleteBefore removes them.
func TestSetStartKeepsSegments(t *testing.T) {
	dir, q := buildLog(t, 40)
	bases := segBases(t, dir)
	l := mustOpen(t, dir, recCfg)
	off := bases[3] + 1
	if err := l.SetStart(off); err != nil {
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		if l.StartOffset() != off || l.StoredFrom() != bases[0] || len(segBases(t, dir)) != len(bases) {
			t.Fatalf("start %d, stored from %d, %d segments; want %d, %d, %d", l.StartOffset(), l.StoredFrom(), len(segBases(t, dir)), off, bases[0], len(bases))
		}
		if _, err := l.Read(off-1, 100); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read below start: %v", err)
		}
		if b, err := l.ReadStored(bases[0], 1); err != nil || !bytes.Equal(b, q.batches[0]) {
			t.Fatalf("ReadStored of the first batch: %d bytes, %v", len(b), err)
		}
	}
	check(l)
	l.Close()
	l = mustOpen(t, dir, recCfg)
	defer l.Close()
	check(l)
	if err := l.DeleteBefore(off); err != nil {
		t.Fatal(err)
	}
	if l.StoredFrom() != bases[3] || l.StartOffset() != off {
		t.Fatalf("after DeleteBefore: stored from %d, start %d", l.StoredFrom(), l.StartOffset())
	}
}

func TestReset(t *testing.T) {
	for _, to := range []int64{0, 5, 5000} {
		dir, q := buildLog(t, 30)
		l := mustOpen(t, dir, recCfg)
		if err := l.Reset(to); err != nil {
			t.Fatal(err)
		}
		check := func(l *Log) {
			t.Helper()
			if l.StartOffset() != to || l.EndOffset() != to || l.Size() != 0 {
				t.Fatalf("start %d end %d size %d", l.StartOffset(), l.EndOffset(), l.Size())
			}
			if got := segBases(t, dir); len(got) != 1 || got[0] != to {
				t.Fatalf("segments %v", got)
			}
			if _, err := l.Read(to-1, 1); to > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("Read below start: %v", err)
			}
		}
		check(l)
		l.Close()
		l = mustOpen(t, dir, recCfg)
		check(l)
		var r seq
		r.next = to
		for i := 0; i < 20; i++ {
			mustAppend(t, l, r.add(2, 1, 200))
		}
		if got := readAllFrom(t, l, to, 1000); !bytes.Equal(got, r.all()) {
			t.Fatal("read after reset differs")
		}
		_ = q
		l.Close()
	}
}

func TestEnforceRetention(t *testing.T) {
	dir, q := buildLog(t, 60) // timestamps 1000 + 10*i
	lastTs := int64(1000 + 10*59)
	tests := []struct {
		name        string
		now         int64
		ms, bytes   int64
		wantDeleted func(l *Log) int
	}{
		{"unlimited", lastTs * 10, -1, -1, func(*Log) int { return 0 }},
		{"all expired", lastTs + 1, 0, -1, func(l *Log) int { return len(l.segs) - 1 }},
		{"none expired", lastTs, lastTs, -1, func(*Log) int { return 0 }},
		{"half expired", lastTs, 300, -1, func(l *Log) int {
			k := 0
			for k < len(l.segs)-1 && l.segs[k].maxTs < lastTs-300 {
				k++
			}
			return k
		}},
		{"size", 0, -1, 3000, func(l *Log) int {
			k, size := 0, l.Size()
			for k < len(l.segs)-1 && size > 3000 {
				size -= l.segs[k].size
				k++
			}
			return k
		}},
		{"size zero", 0, -1, 0, func(l *Log) int { return len(l.segs) - 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, dir)
			l := mustOpen(t, d, recCfg)
			want := tc.wantDeleted(l)
			if tc.name == "half expired" && (want == 0 || want == len(l.segs)-1) {
				t.Fatalf("bad test: %d of %d segments", want, len(l.segs))
			}
			bases := segBases(t, d)
			n, err := l.EnforceRetention(time.UnixMilli(tc.now), tc.ms, tc.bytes, math.MaxInt64)
			if err != nil || n != want {
				t.Fatalf("EnforceRetention = %d, %v; want %d", n, err, want)
			}
			if got := segBases(t, d); len(got) != len(bases)-n || l.StartOffset() != got[0] {
				t.Fatalf("segments %v, start %d", got, l.StartOffset())
			}
			data := bytes.Join(q.batches[q.find(l.StartOffset()):], nil)
			if got := readAllFrom(t, l, l.StartOffset(), 1<<20); !bytes.Equal(got, data) || l.Size() != int64(len(data)) {
				t.Fatalf("read %d bytes, size %d, want %d", len(got), l.Size(), len(data))
			}
			l.Close()
			l = mustOpen(t, d, recCfg)
			if l.StartOffset() != bases[n] {
				t.Fatalf("start after reopen %d, want %d", l.StartOffset(), bases[n])
			}
			l.Close()
		})
	}
}

func TestClosed(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{})
	mustAppend(t, l, mkBatch(0, 1, 1, 10))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(0, 10); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if err := l.Append(mkBatch(1, 1, 1, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	l = mustOpen(t, dir, Config{})
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dir still there: %v", err)
	}
}
