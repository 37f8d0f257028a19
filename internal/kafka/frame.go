package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

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
		buf := make([]byte, size)
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
	buf := make([]byte, size)
	copy(buf, first)
	if _, err := io.ReadFull(r, buf[frameChunk:]); err != nil {
		return nil, truncated(err)
	}
	return buf, nil
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
