package log

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chronik-stream/chronik/internal/record"
)

// FuzzRecover writes fuzz bytes as the only segment file, optionally after a valid batch:
// Open must succeed, keep the valid batch, and serve only valid batches that are a prefix
// of the file, and the log must accept appends afterwards.
func FuzzRecover(f *testing.F) {
	noFsync(f)
	f.Add([]byte{}, false, false)
	f.Add(mkBatch(0, 1, 1, 10), false, false)
	f.Add(mkBatch(1, 2, 5, 30)[:40], true, false)
	f.Add(append(mkBatch(1, 1, 7, 10), mkBatch(2, 3, 9, 100)...), true, false)
	f.Add(append(mkBatch(1, 1, 7, 10), mkBatch(1, 1, 7, 10)...), true, false)
	f.Add(append(mkBatch(1, 1, 7, 10), mkBatch(2, 3, 9, 100)...), true, true)
	f.Fuzz(func(t *testing.T, data []byte, withPrefix, fixCRC bool) {
		if fixCRC { // let the fuzzer get past the CRC check
			for p := 0; ; {
				h, err := record.ParseHeader(data[p:])
				if err != nil || h.TotalSize() > len(data)-p {
					break
				}
				setCRC(data[p : p+h.TotalSize()])
				p += h.TotalSize()
			}
		}
		dir := t.TempDir()
		var content []byte
		if withPrefix {
			content = mkBatch(0, 1, 100, 20)
		}
		content = append(content, data...)
		if err := os.WriteFile(segPath(dir, 0, logExt), content, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Config{IndexIntervalBytes: 64})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		if withPrefix && l.EndOffset() < 1 {
			t.Fatalf("valid first batch lost: end %d", l.EndOffset())
		}
		got := readAllFrom(t, l, l.StartOffset(), 100)
		if !bytes.HasPrefix(content, got) || l.Size() != int64(len(got)) {
			t.Fatalf("read %d bytes that are not the file's prefix (size %d)", len(got), l.Size())
		}
		ts, _, ok := l.MaxTimestamp()
		if ok {
			if b, found, err := l.FindTimestamp(ts); err != nil || !found {
				t.Fatalf("FindTimestamp(max %d): %v %v", ts, found, err)
			} else if h, _ := record.ParseHeader(b); h.MaxTimestamp != ts {
				t.Fatalf("FindTimestamp(max %d) found a batch with %d", ts, h.MaxTimestamp)
			}
		}
		b := mkBatch(l.EndOffset(), 2, 5, 10)
		mustAppend(t, l, b)
		if r, err := l.Read(l.EndOffset()-1, 1); err != nil || !bytes.Equal(r, b) {
			t.Fatalf("read after append: %v", err)
		}
	})
}

// fuzzIndexTemplate is a closed three-segment log whose first segment's index files the
// fuzzer replaces.
type fuzzIndexTemplate struct {
	files map[string][]byte
	q     *seq
}

func newFuzzIndexTemplate(f *testing.F) *fuzzIndexTemplate {
	dir := f.TempDir()
	l := mustOpen(f, dir, Config{SegmentBytes: 2000, IndexIntervalBytes: 150})
	q := &seq{}
	for i := 0; i < 40; i++ {
		mustAppend(f, l, q.add(1+i%3, int64(1000+10*i), 40+i%50))
	}
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	tpl := &fuzzIndexTemplate{files: map[string][]byte{}, q: q}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		tpl.files[e.Name()], _ = os.ReadFile(filepath.Join(dir, e.Name()))
	}
	return tpl
}

// FuzzIndex uses fuzz bytes as the .index and .timeindex files of a segment that is not the
// last one: Open must not panic and must rebuild or reject them, so that reads, timestamp
// look-ups and the largest timestamp stay exact.
func FuzzIndex(f *testing.F) {
	noFsync(f)
	tpl := newFuzzIndexTemplate(f)
	idxName, tidxName := filepath.Base(segPath("", 0, indexExt)), filepath.Base(segPath("", 0, timeIndexExt))
	f.Add(tpl.files[idxName], tpl.files[tidxName])
	f.Add([]byte{}, []byte{})
	f.Add(tpl.files[idxName][:8], tpl.files[tidxName][:12])
	f.Add(append(tpl.files[idxName], 0, 0, 0, 99, 0, 0, 7, 0), tpl.files[tidxName])
	f.Fuzz(func(t *testing.T, idx, tidx []byte) {
		dir := t.TempDir()
		for name, b := range tpl.files {
			switch name {
			case idxName:
				b = idx
			case tidxName:
				b = tidx
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l, err := Open(dir, Config{SegmentBytes: 2000, IndexIntervalBytes: 150})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		q := tpl.q
		if got := readAllFrom(t, l, 0, 300); !bytes.Equal(got, q.all()) {
			t.Fatalf("read %d bytes, want %d", len(got), len(q.all()))
		}
		for off := int64(0); off < q.next; off++ {
			if b, err := l.Read(off, 1); err != nil || !bytes.Equal(b, q.batches[q.find(off)]) {
				t.Fatalf("Read(%d): %v", off, err)
			}
		}
		for ts := int64(995); ts <= 1000+10*40; ts += 5 {
			var want []byte
			if i := (ts - 1000 + 9) / 10; i < int64(len(q.batches)) {
				want = q.batches[max(i, 0)]
			}
			if got, ok, err := l.FindTimestamp(ts); err != nil || ok != (want != nil) || !bytes.Equal(got, want) {
				t.Fatalf("FindTimestamp(%d): %d bytes, %v, %v; want %d bytes", ts, len(got), ok, err, len(want))
			}
		}
		if ts, off, ok := l.MaxTimestamp(); !ok || ts != 1000+10*39 || off != baseOf(q.batches[39]) {
			t.Fatalf("MaxTimestamp = %d %d %v", ts, off, ok)
		}
	})
}

// noFsync disables fsync for the duration of a fuzz test: durability is not what it checks.
func noFsync(f *testing.F) {
	skipFsync = true
	f.Cleanup(func() { skipFsync = false })
}
