package log

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/chronik-stream/chronik/internal/record"
)

// mkBatch encodes a valid v2 batch: n records (offsets base..base+n-1), both timestamps ts,
// and bodyLen bytes of record data derived from base, with the CRC set.
func mkBatch(base int64, n int, ts int64, bodyLen int) []byte {
	b := make([]byte, record.HeaderSize+bodyLen)
	binary.BigEndian.PutUint64(b[0:], uint64(base))
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	b[16] = 2
	binary.BigEndian.PutUint32(b[23:], uint32(n-1))
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint64(b[43:], ^uint64(0)) // producer id -1
	binary.BigEndian.PutUint16(b[51:], 0xffff)     // producer epoch -1
	binary.BigEndian.PutUint32(b[53:], ^uint32(0)) // base sequence -1
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	x := uint32(base)*2654435761 + 1
	for i := record.HeaderSize; i < len(b); i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	setCRC(b)
	return b
}

func setCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

// seq builds a contiguous run of batches and remembers them.
type seq struct {
	next    int64
	batches [][]byte
}

func (q *seq) add(n int, ts int64, bodyLen int) []byte {
	b := mkBatch(q.next, n, ts, bodyLen)
	q.next += int64(n)
	q.batches = append(q.batches, b)
	return b
}

func (q *seq) all() []byte { return bytes.Join(q.batches, nil) }

// from returns the index of the batch holding offset.
func (q *seq) find(offset int64) int {
	for i, b := range q.batches {
		h, _ := record.ParseHeader(b)
		if h.LastOffset() >= offset {
			return i
		}
	}
	return -1
}

func mustOpen(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte) {
	t.Helper()
	if err := l.Append(b); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

// readAllFrom reads the whole log from offset in steps of maxBytes, checking that every
// result holds whole, chained batches.
func readAllFrom(t testing.TB, l *Log, offset int64, maxBytes int) []byte {
	t.Helper()
	var out []byte
	for {
		b, err := l.Read(offset, maxBytes)
		if err != nil {
			t.Fatalf("Read(%d): %v", offset, err)
		}
		if b == nil {
			if offset != l.EndOffset() {
				t.Fatalf("Read(%d) returned nothing before end %d", offset, l.EndOffset())
			}
			return out
		}
		last := checkBatches(t, b)
		out = append(out, b...)
		offset = last + 1
	}
}

// checkBatches checks that b is a run of whole valid chained batches and returns the last offset.
func checkBatches(t testing.TB, b []byte) int64 {
	t.Helper()
	next := int64(-1)
	for p := 0; p < len(b); {
		h, err := record.ParseHeader(b[p:])
		if err != nil {
			t.Fatalf("batch at %d: %v", p, err)
		}
		if h.TotalSize() > len(b)-p {
			t.Fatalf("batch at %d: torn", p)
		}
		if crc32.Checksum(b[p+21:p+h.TotalSize()], crc32.MakeTable(crc32.Castagnoli)) != h.CRC {
			t.Fatalf("batch at %d: bad CRC", p)
		}
		if next >= 0 && h.BaseOffset != next {
			t.Fatalf("batch at %d: base %d, want %d", p, h.BaseOffset, next)
		}
		next = h.LastOffset() + 1
		p += h.TotalSize()
	}
	return next - 1
}

func segFiles(t testing.TB, dir, ext string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// copyDir copies the regular files of src into a new temp dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
