package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"
)

// ErrTooLarge is wrapped by the errors of payloads that decompress past the allowed size
// (decompression bombs). It wraps ErrCorrupt.
var ErrTooLarge = fmt.Errorf("%w: decompressed size over the limit", ErrCorrupt)

// xerialMagic starts the snappy framing of the xerial snappy-java library, which the Java
// client uses; librdkafka and Go clients send a bare snappy block instead.
var xerialMagic = []byte("\x82SNAPPY\x00")

// xerialHeaderSize is the magic plus two int32 versions.
const xerialHeaderSize = 16

func codecName(codec int) string {
	switch codec {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec %d", codec)
}

// Decompress decodes a records section compressed with codec (CodecGzip..CodecZstd;
// CodecNone returns a copy). Snappy accepts both a bare block and xerial framing. It fails
// with an error wrapping ErrTooLarge as soon as the output would pass maxOut bytes (so a
// maxOut <= 0 only admits empty output), and with one wrapping ErrCorrupt on malformed
// input. maxOut also bounds the memory allocated for the output. The result is a new slice
// owned by the caller.
func Decompress(codec int, src []byte, maxOut int) ([]byte, error) {
	return decompressAppend(nil, codec, src, maxOut)
}

// decompressAppend is Decompress into dst[:0], reusing dst's capacity. On error the
// returned slice may be nil or a buffer worth keeping.
func decompressAppend(dst []byte, codec int, src []byte, maxOut int) ([]byte, error) {
	maxOut = min(maxOut, math.MaxInt/2) // keeps maxOut+slack from overflowing
	var err error
	switch codec {
	case CodecNone:
		if len(src) > maxOut {
			return dst, tooLarge(codec, maxOut)
		}
		return append(dst[:0], src...), nil
	case CodecGzip, CodecSnappy, CodecLZ4, CodecZstd:
		if len(src) == 0 { // every codec frames even empty input
			return dst, fmt.Errorf("%w: empty %s payload", ErrCorrupt, codecName(codec))
		}
	}
	switch codec {
	case CodecGzip:
		dst, err = gunzip(dst, src, maxOut)
	case CodecSnappy:
		dst, err = unsnappy(dst, src, maxOut)
	case CodecLZ4:
		dst, err = unlz4(dst, src, maxOut)
	case CodecZstd:
		dst, err = unzstd(dst, src, maxOut)
	default:
		return dst, fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, codec)
	}
	if err != nil && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w: %s payload: %v", ErrCorrupt, codecName(codec), err)
	}
	return dst, err
}

func tooLarge(codec, maxOut int) error {
	return fmt.Errorf("%w: %s payload decompresses past %d bytes", ErrTooLarge, codecName(codec), maxOut)
}

// readBounded appends all of r to dst[:0], failing once more than maxOut bytes come out.
// hint is the expected size (already bounded by maxOut).
func readBounded(codec int, r io.Reader, dst []byte, hint, maxOut int) ([]byte, error) {
	dst = dst[:0]
	if maxOut < 0 {
		maxOut = 0
	}
	// One spare byte lets the final Read report io.EOF without growing the buffer.
	dst = slices.Grow(dst, min(max(hint, 512), maxOut)+1)
	for {
		if len(dst) == cap(dst) {
			if len(dst) > maxOut {
				return dst, tooLarge(codec, maxOut)
			}
			dst = slices.Grow(dst, min(cap(dst), maxOut+1-len(dst)))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > maxOut {
			return dst, tooLarge(codec, maxOut)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

type gzipReader struct {
	src bytes.Reader
	zr  gzip.Reader
}

var gzipReaders = sync.Pool{New: func() any { return new(gzipReader) }}

func gunzip(dst, src []byte, maxOut int) ([]byte, error) {
	hint := 0
	if len(src) >= 4 { // ISIZE trailer: the size mod 2^32 of the (last) member
		// DEFLATE expands at most ~1032:1, so a lying trailer cannot make us over-allocate.
		hint = min(int(binary.LittleEndian.Uint32(src[len(src)-4:])), len(src)*1032, maxOut)
	}
	g := gzipReaders.Get().(*gzipReader)
	defer func() {
		g.src.Reset(nil)
		gzipReaders.Put(g)
	}()
	g.src.Reset(src)
	if err := g.zr.Reset(&g.src); err != nil {
		return dst, err
	}
	return readBounded(CodecGzip, &g.zr, dst, hint, maxOut)
}

type lz4Reader struct {
	src bytes.Reader
	zr  *lz4.Reader
}

var lz4Readers = sync.Pool{New: func() any { return &lz4Reader{zr: lz4.NewReader(nil)} }}

func unlz4(dst, src []byte, maxOut int) ([]byte, error) {
	l := lz4Readers.Get().(*lz4Reader)
	defer func() {
		l.zr.Reset(nil)
		l.src.Reset(nil)
		lz4Readers.Put(l)
	}()
	l.src.Reset(src)
	l.zr.Reset(&l.src)
	// LZ4 expands at most ~255:1.
	return readBounded(CodecLZ4, l.zr, dst, min(4*len(src), maxOut), maxOut)
}

// unsnappy decodes a bare snappy block or xerial-framed snappy (magic, two versions, then
// chunks of a big-endian int32 length and a snappy block). Blocks are decoded strictly:
// the s2 extensions klauspost's fast decoder accepts are not valid snappy for other clients.
func unsnappy(dst, src []byte, maxOut int) ([]byte, error) {
	dst = dst[:0]
	if !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(dst, src, maxOut)
	}
	if len(src) < xerialHeaderSize {
		return dst, fmt.Errorf("%w: snappy: truncated xerial header", ErrCorrupt)
	}
	for p := xerialHeaderSize; p < len(src); {
		if len(src)-p < 4 {
			return dst, fmt.Errorf("%w: snappy: truncated xerial chunk length at byte %d", ErrCorrupt, p)
		}
		n := int(binary.BigEndian.Uint32(src[p:]))
		p += 4
		if n > len(src)-p {
			return dst, fmt.Errorf("%w: snappy: xerial chunk of %d bytes, %d left", ErrCorrupt, n, len(src)-p)
		}
		var err error
		if dst, err = snappyBlock(dst, src[p:p+n], maxOut); err != nil {
			return dst, err
		}
		p += n
	}
	return dst, nil
}

// snappyBlock appends the decoded snappy block src to dst, keeping len(dst) <= maxOut.
func snappyBlock(dst, src []byte, maxOut int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return dst, err
	}
	if n > maxOut-len(dst) {
		return dst, tooLarge(CodecSnappy, maxOut)
	}
	dst = slices.Grow(dst, n)
	if _, err := snappy.DecodeStrict(dst[len(dst):len(dst)+n], src); err != nil {
		return dst, err
	}
	return dst[:len(dst)+n], nil
}
