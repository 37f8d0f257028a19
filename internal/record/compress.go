package record

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"
)

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// Compress encodes src with codec (CodecNone returns a copy) the way Kafka clients do:
// gzip at the default level, a bare snappy block (what librdkafka and Go clients send;
// Decompress also reads the Java client's xerial framing), an LZ4 frame with independent
// 64 KiB blocks and no content checksum (what the Java client writes), and a zstd frame
// with its content size. The result is a new slice owned by the caller.
func Compress(codec int, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return bytes.Clone(src), nil
	case CodecGzip:
		var buf bytes.Buffer
		buf.Grow(len(src)/2 + 64)
		w := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(w)
		w.Reset(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		w.Reset(nil)
		return buf.Bytes(), nil
	case CodecSnappy:
		return snappy.Encode(nil, src), nil
	case CodecLZ4:
		var buf bytes.Buffer
		buf.Grow(len(src)/2 + 64)
		w := lz4.NewWriter(&buf)
		if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false)); err != nil {
			return nil, err
		}
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case CodecZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(src, nil), nil
	}
	return nil, fmt.Errorf("record: unknown compression codec %d", codec)
}
