package log

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chronik-stream/chronik/internal/record"
)

var recCfg = Config{SegmentBytes: 1500, IndexIntervalBytes: 200}

// buildLog writes n batches of about 150 bytes into a fresh closed log and returns its dir.
func buildLog(t testing.TB, n int) (string, *seq) {
	t.Helper()
	dir := t.TempDir()
	l := mustOpen(t, dir, recCfg)
	q := &seq{}
	for i := 0; i < n; i++ {
		mustAppend(t, l, q.add(1+i%3, int64(1000+10*i), 90+i%40))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, q
}

// expectPrefix checks that the log holds exactly the first n batches of q and accepts appends.
func expectPrefix(t *testing.T, l *Log, q *seq, n int) {
	t.Helper()
	want := bytes.Join(q.batches[:n], nil)
	end := int64(0)
	if n > 0 {
		h, _ := record.ParseHeader(q.batches[n-1])
		end = h.LastOffset() + 1
	}
	if l.EndOffset() != end || l.Size() != int64(len(want)) {
		t.Fatalf("end %d size %d, want %d %d", l.EndOffset(), l.Size(), end, len(want))
	}
	if got := readAllFrom(t, l, l.StartOffset(), 1000); !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d", len(got), len(want))
	}
	if n < len(q.batches) {
		mustAppend(t, l, q.batches[n])
		if b, err := l.Read(end, 1); err != nil || !bytes.Equal(b, q.batches[n]) {
			t.Fatalf("read after append: %v", err)
		}
	}
}

func lastSegment(t testing.TB, dir string) string {
	logs := segFiles(t, dir, ".log")
	return logs[len(logs)-1]
}

func TestRecoverTornTail(t *testing.T) {
	dir, q := buildLog(t, 40)
	last := q.batches[len(q.batches)-1]
	size := fileSize(t, lastSegment(t, dir))
	// Each round restores the log by appending the lost batch again.
	for cut := size - int64(len(last)); cut < size; cut++ {
		if err := os.Truncate(lastSegment(t, dir), cut); err != nil {
			t.Fatal(err)
		}
		l := mustOpen(t, dir, recCfg)
		expectPrefix(t, l, q, len(q.batches)-1)
		l.Close()
	}
}

func TestRecoverTailDamage(t *testing.T) {
	dir, q := buildLog(t, 40)
	n := len(q.batches)
	last := q.batches[n-1]
	tests := []struct {
		name   string
		damage func(b []byte) []byte // the last segment file
		keep   int                   // whole batches that survive
	}{
		{"random garbage", func(b []byte) []byte { return append(b, mkBatch(99, 1, 1, 500)[20:300]...) }, n},
		{"zeros", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, n},
		{"batch repeated", func(b []byte) []byte { return append(b, last...) }, n},
		{"batch with a gap", func(b []byte) []byte { return append(b, mkBatch(q.next+1, 1, 1, 50)...) }, n},
		{"length past the end", func(b []byte) []byte { return append(b, mkBatch(q.next, 1, 1, 50)[:100]...) }, n},
		{"bad CRC", func(b []byte) []byte { b[len(b)-5] ^= 1; return b }, n - 1},
		{"bad CRC in attributes", func(b []byte) []byte { b[len(b)-len(last)+22] ^= 1; return b }, n - 1},
		{"bad magic", func(b []byte) []byte { b[len(b)-len(last)+16] = 1; return b }, n - 1},
		{"good CRC bad base", func(b []byte) []byte {
			b[len(b)-len(last)+7]++
			return b
		}, n - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, dir)
			f := lastSegment(t, d)
			b, _ := os.ReadFile(f)
			if err := os.WriteFile(f, tc.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			l := mustOpen(t, d, recCfg)
			expectPrefix(t, l, q, tc.keep)
			l.Close()
			l = mustOpen(t, d, recCfg) // the repair was persisted
			if tc.keep < n {
				tc.keep++ // expectPrefix appended the lost batch again
			}
			expectPrefix(t, l, q, tc.keep)
			l.Close()
		})
	}
}

func TestRecoverIndexes(t *testing.T) {
	dir, q := buildLog(t, 60)
	idx := segFiles(t, dir, ".index")
	if len(idx) < 4 {
		t.Fatalf("only %d segments", len(idx))
	}
	orig := map[string][]byte{}
	for _, f := range append(idx, segFiles(t, dir, ".timeindex")...) {
		orig[filepath.Base(f)], _ = os.ReadFile(f)
	}
	seg1 := filepath.Base(idx[1])
	tseg1 := seg1[:20] + timeIndexExt
	tests := []struct {
		name   string
		damage func(d string)
	}{
		{"all indexes missing", func(d string) {
			for _, f := range append(segFiles(t, d, ".index"), segFiles(t, d, ".timeindex")...) {
				os.Remove(f)
			}
		}},
		{"index short", func(d string) { os.Truncate(filepath.Join(d, seg1), int64(len(orig[seg1])-8)) }},
		{"index torn", func(d string) { os.Truncate(filepath.Join(d, seg1), int64(len(orig[seg1])-3)) }},
		{"index empty", func(d string) { os.Truncate(filepath.Join(d, seg1), 0) }},
		{"time index short", func(d string) { os.Truncate(filepath.Join(d, tseg1), int64(len(orig[tseg1])-12)) }},
		{"time index empty", func(d string) { os.Truncate(filepath.Join(d, tseg1), 0) }},
		{"indexes swapped", func(d string) {
			os.WriteFile(filepath.Join(d, seg1), orig[filepath.Base(idx[2])], 0o644)
		}},
		{"index garbage", func(d string) {
			os.WriteFile(filepath.Join(d, seg1), bytes.Repeat([]byte{0, 0, 0, 1}, 10), 0o644)
		}},
		{"index entry position moved", func(d string) {
			b := append([]byte{}, orig[seg1]...)
			b[len(b)-1] += 8
			os.WriteFile(filepath.Join(d, seg1), b, 0o644)
		}},
		{"orphan index", func(d string) {
			os.WriteFile(filepath.Join(d, "00000000000099999999.index"), []byte{1, 2, 3}, 0o644)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, dir)
			tc.damage(d)
			l := mustOpen(t, d, recCfg)
			expectPrefix(t, l, q, len(q.batches))
			checkTimes(t, l, q.batches)
			l.Close()
			for name, want := range orig {
				if got, err := os.ReadFile(filepath.Join(d, name)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s not rebuilt: %v", name, err)
				}
			}
			if _, err := os.Stat(filepath.Join(d, "00000000000099999999.index")); err == nil {
				t.Error("orphan index not removed")
			}
		})
	}
}

func TestRecoverMiddleSegment(t *testing.T) {
	dir, q := buildLog(t, 60)
	logs := segFiles(t, dir, ".log")
	// first returns the index in q of the first batch of segment i.
	first := func(d string, i int) int {
		b, _ := os.ReadFile(segFiles(t, d, ".log")[i])
		h, _ := record.ParseHeader(b)
		return q.find(h.BaseOffset)
	}
	k := first(dir, 2)
	tests := []struct {
		name   string
		damage func(d string)
		keep   int
	}{
		{"torn middle segment", func(d string) {
			f := segFiles(t, d, ".log")[2]
			os.Truncate(f, fileSize(t, f)-10)
		}, first(dir, 3) - 1},
		{"bad CRC with index lost", func(d string) {
			f := segFiles(t, d, ".log")[2]
			b, _ := os.ReadFile(f)
			b[len(q.batches[k])-1] ^= 0xff // in the first batch
			os.WriteFile(f, b, 0o644)
			os.Remove(f[:len(f)-4] + indexExt)
		}, k},
		{"segment missing", func(d string) { os.Remove(segFiles(t, d, ".log")[2]) }, k},
		{"segment empty", func(d string) { os.Truncate(segFiles(t, d, ".log")[2], 0) }, k},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, dir)
			tc.damage(d)
			l := mustOpen(t, d, recCfg)
			expectPrefix(t, l, q, tc.keep)
			l.Close()
			if n := len(segFiles(t, d, ".log")); n > 3 || n >= len(logs) {
				t.Fatalf("%d segments left", n)
			}
		})
	}
}

func TestRecoverResetMarker(t *testing.T) {
	dir, _ := buildLog(t, 30)
	if err := writeOffsetFile(dir, resetFile, 777); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, dir, recCfg)
	defer l.Close()
	if l.StartOffset() != 777 || l.EndOffset() != 777 || l.Size() != 0 {
		t.Fatalf("after interrupted reset: start %d end %d size %d", l.StartOffset(), l.EndOffset(), l.Size())
	}
	if logs := segFiles(t, dir, ".log"); len(logs) != 1 || filepath.Base(logs[0]) != "00000000000000000777.log" {
		t.Fatalf("segments %v", logs)
	}
	if _, err := os.Stat(filepath.Join(dir, resetFile)); err == nil {
		t.Fatal("reset marker left")
	}
}

func TestRecoverStartBeyondEnd(t *testing.T) {
	dir, _ := buildLog(t, 30)
	if err := writeOffsetFile(dir, startFile, 100000); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, dir, recCfg)
	defer l.Close()
	if l.StartOffset() != 100000 || l.EndOffset() != 100000 {
		t.Fatalf("start %d end %d", l.StartOffset(), l.EndOffset())
	}
	mustAppend(t, l, mkBatch(100000, 1, 1, 10))
}
