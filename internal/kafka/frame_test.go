package kafka

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Frames in the pooled range get a power-of-two capacity and go back to their pool;
// others are exact and releasing them is a no-op. A recycled frame holds what was read
// into it, never an earlier request's bytes past its length.
func TestFramePool(t *testing.T) {
	for _, size := range []int{0, 10, minPooledFrame - 1, minPooledFrame, minPooledFrame + 1, 3 << 20, maxPooledFrame, maxPooledFrame + 1} {
		b := newFrame(size)
		if len(b) != size {
			t.Fatalf("newFrame(%d) has length %d", size, len(b))
		}
		pooled := size >= minPooledFrame && size <= maxPooledFrame
		if c := cap(b); pooled && (c < size || c&(c-1) != 0 || c >= 2*size) {
			t.Fatalf("newFrame(%d) has capacity %d, want the next power of two", size, c)
		}
		// The connection accounts what the frame holds: all of a pooled frame's
		// capacity, exactly the size of any other.
		want := size
		if pooled {
			want = 1 << frameClass(size)
		}
		if f := frameFootprint(b); f != want {
			t.Fatalf("frameFootprint(newFrame(%d)) = %d, want %d", size, f, want)
		}
		releaseFrame(b)
	}
	src := bytes.Repeat([]byte{7}, 100<<10)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(src)))
	frame = append(frame, src...)
	got, err := readFrame(bytes.NewReader(frame), 1<<20)
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("readFrame: %d bytes, %v", len(got), err)
	}
	releaseFrame(got)
	again, err := readFrame(bytes.NewReader(frame), 1<<20)
	if err != nil || !bytes.Equal(again, src) {
		t.Fatalf("readFrame into a recycled buffer: %d bytes, %v", len(again), err)
	}
}
