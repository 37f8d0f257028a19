package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka frames every request and response as an int32 big-endian size followed by that
// many bytes.

// frameSizeError reports a frame whose size prefix is negative or above the limit.
type frameSizeError struct {
	size, limit int32
}

func (e *frameSizeError) Error() string {
	return fmt.Sprintf("request frame size %d outside [0, %d]", e.size, e.limit)
}

// frameChunk is how much of a large frame is allocated ahead of the bytes arriving, so
// that a peer announcing a huge frame and sending little costs little memory.
const frameChunk = 1 << 20

// readFrame reads one size-prefixed frame. It returns io.EOF when r ends cleanly before a
// frame, io.ErrUnexpectedEOF for a truncated frame, and a *frameSizeError for a size
// prefix that is negative or larger than limit.
func readFrame(r io.Reader, limit int32) ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(sz[:]))
	if size < 0 || size > limit {
		return nil, &frameSizeError{size: size, limit: limit}
	}
	if size <= frameChunk {
		buf := newFrame(int(size))
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, truncated(err)
		}
		return buf, nil
	}
	// Read the first chunk into a small buffer; once the peer has sent it, allocate the
	// whole frame at once (one copy of the first chunk instead of repeated growth).
	first := make([]byte, frameChunk)
	if _, err := io.ReadFull(r, first); err != nil {
		return nil, truncated(err)
	}
	buf := newFrame(int(size))
	copy(buf, first)
	if _, err := io.ReadFull(r, buf[frameChunk:]); err != nil {
		return nil, truncated(err)
	}
	return buf, nil
}

// Frame buffers from minPooledFrame to maxPooledFrame bytes come from pools, one per
// power-of-two capacity, and a request whose handler keeps nothing of its frame hands it
// back (releaseFrame): large produces would otherwise allocate and zero megabytes each.
const (
	minPooledFrame = 64 << 10
	maxPooledFrame = 8 << 20
)

var framePools [bits.UintSize]sync.Pool // by log2 of the capacity; holds *[]byte

// frameClass is the smallest k with 1<<k >= n.
func frameClass(n int) int { return bits.Len(uint(n - 1)) }

// newFrame returns a buffer of length size, pooled when its size is in the pooled range.
func newFrame(size int) []byte {
	if size < minPooledFrame || size > maxPooledFrame {
		return make([]byte, size)
	}
	k := frameClass(size)
	if b, ok := framePools[k].Get().(*[]byte); ok {
		return (*b)[:size]
	}
	return make([]byte, size, 1<<k)
}

// frameFootprint is the memory a request's frame holds until it is released: its
// capacity, which for a pooled frame is the size rounded up to a power of two. The
// connection's bound on requests in flight counts this, not the frame's length, so that
// the bound holds for the memory and not only for the bytes read.
func frameFootprint(frame []byte) int { return cap(frame) }

// releaseFrame returns a frame from newFrame to its pool. Nothing may use b afterwards.
func releaseFrame(b []byte) {
	c := cap(b)
	if c < minPooledFrame || c > maxPooledFrame || c&(c-1) != 0 {
		return
	}
	b = b[:0]
	framePools[frameClass(c)].Put(&b)
}

// truncated turns an EOF inside a frame into io.ErrUnexpectedEOF.
func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendResponse appends the framed response to resp with the given correlation id to
// dst. Response header v0 (correlation id only) is used for ApiVersions, whatever its
// version (so that a client can always parse it), and for non-flexible versions; other
// flexible responses use header v1, which adds an empty tagged-field section.
func appendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if resp.IsFlexible() && resp.Key() != 18 {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
