package record

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdDecoder is shared by all goroutines: DecodeAll is safe for concurrent use. With
// WithDecodeAllCapLimit, DecodeAll never decodes past cap(dst), which is how the output
// is bounded without a streaming decoder.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecodeAllCapLimit(true))
})

var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
})

var errZstdTruncated = fmt.Errorf("%w: zstd: truncated frame", ErrCorrupt)

const (
	zstdFrameMagic     = 0xFD2FB528
	zstdSkippableMagic = 0x184D2A50 // low 4 bits are free
	zstdMaxBlock       = 128 << 10
	zstdSlack          = 64 // > the decoder's compressedBlockOverAlloc
)

// unzstd decodes the zstd frames of src. It first walks the frame and block headers to get
// an upper bound of the output, so a single DecodeAll into a buffer of min(bound, maxOut)
// bytes either succeeds or fails; nothing is decoded twice. When the frames could decode
// past maxOut, any failure is reported as ErrTooLarge.
func unzstd(dst, src []byte, maxOut int) ([]byte, error) {
	bound, err := zstdBound(src)
	if err != nil {
		return dst, err
	}
	limit := uint64(max(maxOut, 0))
	if bound < limit {
		limit = bound
	}
	dec, err := zstdDecoder()
	if err != nil {
		return dst, err
	}
	// The decoder takes its fast paths only with some slack past the expected output.
	room := int(limit) + zstdSlack
	dst = dst[:0]
	if cap(dst) < room {
		dst = make([]byte, 0, room)
	}
	out, err := dec.DecodeAll(src, dst[:0:room])
	switch {
	case err != nil && limit < bound:
		// Running out of room surfaces as ErrDecoderSizeExceeded or, mid-block, as a
		// generic error, so any failure here counts as too large.
		return dst, fmt.Errorf("%w (%v)", tooLarge(CodecZstd, maxOut), err)
	case err != nil:
		return dst, err
	case len(out) > maxOut:
		return out, tooLarge(CodecZstd, maxOut)
	}
	return out, nil
}

// zstdBound returns an upper bound of the decoded size of the zstd frames in src, checking
// their framing (truncation, reserved block types, trailing garbage). A frame's bound is
// the lesser of its declared content size and the sum of its blocks' bounds: a raw or RLE
// block declares its size, a compressed block decodes to at most 128 KiB.
func zstdBound(src []byte) (uint64, error) {
	var total uint64
	for p := 0; p < len(src); {
		if len(src)-p < 4 {
			return 0, fmt.Errorf("%w: zstd: %d trailing bytes", ErrCorrupt, len(src)-p)
		}
		magic := binary.LittleEndian.Uint32(src[p:])
		if magic&^0xF == zstdSkippableMagic {
			if len(src)-p < 8 {
				return 0, fmt.Errorf("%w: zstd: truncated skippable frame", ErrCorrupt)
			}
			n := uint64(binary.LittleEndian.Uint32(src[p+4:]))
			p += 8
			if n > uint64(len(src)-p) {
				return 0, fmt.Errorf("%w: zstd: truncated skippable frame", ErrCorrupt)
			}
			p += int(n)
			continue
		}
		if magic != zstdFrameMagic {
			return 0, fmt.Errorf("%w: zstd: bad frame magic %#08x", ErrCorrupt, magic)
		}
		n, next, err := zstdFrameBound(src, p+4)
		if err != nil {
			return 0, err
		}
		total += n
		p = next
	}
	return total, nil
}

// zstdFrameBound walks the frame whose header starts at src[p:] (after the magic).
func zstdFrameBound(src []byte, p int) (bound uint64, next int, err error) {
	if p >= len(src) {
		return 0, 0, errZstdTruncated
	}
	fhd := src[p]
	p++
	if fhd&0x08 != 0 {
		return 0, 0, fmt.Errorf("%w: zstd: reserved frame header bit set", ErrCorrupt)
	}
	single := fhd&0x20 != 0
	if !single {
		p++ // window descriptor
	}
	p += [4]int{0, 1, 2, 4}[fhd&3] // dictionary id
	fcsSize := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcsSize == 0 && single {
		fcsSize = 1
	}
	if p+fcsSize > len(src) {
		return 0, 0, errZstdTruncated
	}
	fcs := ^uint64(0)
	switch fcsSize {
	case 1:
		fcs = uint64(src[p])
	case 2:
		fcs = uint64(binary.LittleEndian.Uint16(src[p:])) + 256
	case 4:
		fcs = uint64(binary.LittleEndian.Uint32(src[p:]))
	case 8:
		fcs = binary.LittleEndian.Uint64(src[p:])
	}
	p += fcsSize
	for last := false; !last; {
		if len(src)-p < 3 {
			return 0, 0, errZstdTruncated
		}
		bh := uint32(src[p]) | uint32(src[p+1])<<8 | uint32(src[p+2])<<16
		p += 3
		last = bh&1 != 0
		size := int(bh >> 3)
		switch bh >> 1 & 3 {
		case 0: // raw
			bound += uint64(size)
		case 1: // RLE: one byte repeated size times
			bound += uint64(size)
			size = 1
		case 2:
			bound += zstdMaxBlock
		default:
			return 0, 0, fmt.Errorf("%w: zstd: reserved block type", ErrCorrupt)
		}
		if size > len(src)-p {
			return 0, 0, errZstdTruncated
		}
		p += size
	}
	if fhd&0x04 != 0 { // content checksum
		if len(src)-p < 4 {
			return 0, 0, errZstdTruncated
		}
		p += 4
	}
	return min(bound, fcs), p, nil
}
