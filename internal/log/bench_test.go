package log

import (
	"math/rand/v2"
	"testing"

	"github.com/chronik-stream/chronik/internal/record"
)

const benchBatch = 16 << 10

// benchChunk returns 1 MiB of 16 KiB batches of 10 records each.
func benchChunk() []byte {
	var chunk []byte
	for i := 0; i < (1<<20)/benchBatch; i++ {
		chunk = append(chunk, mkBatch(int64(10*i), 10, 1, benchBatch-record.HeaderSize)...)
	}
	return chunk
}

// rebase sets the base offsets of the batches in chunk to start at next (the CRC does not
// cover them) and returns the offset after them.
func rebase(chunk []byte, next int64) int64 {
	for p := 0; p < len(chunk); p += benchBatch {
		record.SetBaseOffset(chunk[p:], next)
		next += 10
	}
	return next
}

// BenchmarkAppend appends 1 MiB of 16 KiB batches per op (page cache speed unless synced).
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name      string
		syncEvery int
	}{{"nosync", 0}, {"sync-every-8MiB", 8}} {
		b.Run(bc.name, func(b *testing.B) {
			l := mustOpen(b, b.TempDir(), Config{SegmentBytes: 128 << 20})
			defer l.Close()
			chunk := benchChunk()
			next := int64(0)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				next = rebase(chunk, next)
				if err := l.Append(chunk); err != nil {
					b.Fatal(err)
				}
				if i++; bc.syncEvery > 0 && i%bc.syncEvery == 0 {
					if err := l.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkRead reads a 64 MiB log of 16 KiB batches: sequentially in 1 MiB fetches, and
// one batch at random offsets.
func BenchmarkRead(b *testing.B) {
	l := mustOpen(b, b.TempDir(), Config{SegmentBytes: 16 << 20})
	defer l.Close()
	chunk := benchChunk()
	next := int64(0)
	for i := 0; i < 64; i++ {
		next = rebase(chunk, next)
		mustAppend(b, l, chunk)
	}
	b.Run("sequential-1MiB", func(b *testing.B) {
		b.SetBytes(1 << 20)
		b.ReportAllocs()
		off := int64(0)
		for b.Loop() {
			if off == l.EndOffset() {
				off = 0
			}
			got, err := l.Read(off, 1<<20)
			if err != nil || len(got) != 1<<20 {
				b.Fatalf("Read(%d): %d bytes, %v", off, len(got), err)
			}
			h, _ := record.ParseHeader(got[len(got)-benchBatch:])
			off = h.LastOffset() + 1
		}
	})
	b.Run("random-batch", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		b.SetBytes(benchBatch)
		b.ReportAllocs()
		for b.Loop() {
			off := rng.Int64N(l.EndOffset())
			if got, err := l.Read(off, 1); err != nil || len(got) != benchBatch {
				b.Fatalf("Read(%d): %d bytes, %v", off, len(got), err)
			}
		}
	})
}
