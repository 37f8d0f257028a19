package bench

import (
	"bytes"
	"compress/gzip"
	"testing"
)

// A batch of consecutive values must not compress: with compression on, the bench
// would otherwise measure the codec's ratio on repeated data instead of the broker.
func TestPayloadBatchIsIncompressible(t *testing.T) {
	for _, size := range []int{100, 1024} {
		p := newPayload(size)
		var raw bytes.Buffer
		for i := int64(0); raw.Len() < 1<<20; i++ {
			raw.Write(p.value(i, size))
		}
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(raw.Bytes())
		zw.Close()
		if ratio := float64(z.Len()) / float64(raw.Len()); ratio < 0.99 {
			t.Fatalf("%d-byte values: a 1 MiB batch compresses to %.2f of its size", size, ratio)
		}
		if bytes.Equal(p.value(0, size), p.value(1, size)) {
			t.Fatalf("%d-byte values repeat", size)
		}
		// Far indexes wrap around the buffer and stay in bounds.
		if v := p.value(1<<40+7, size); len(v) != size {
			t.Fatalf("value of size %d", len(v))
		}
	}
}
