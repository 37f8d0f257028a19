// Package transport carries raft messages and a few node-to-node calls between Chronik
// nodes over one framed TCP stream per direction and peer. Raft messages queued for a
// peer while its stream is busy are written together as one frame.
package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/chronik-stream/chronik/internal/replication"
	"go.etcd.io/raft/v3/raftpb"
)

// Frame types.
const (
	frameHello    = 1 // u64 node id, u32 n, n x u64 voters
	frameHelloAck = 2 // u8 ok, rest: error text
	frameRaft     = 3 // u32 n, n x (u64 group, u32 len, raftpb.Message)
	frameRequest  = 4 // u64 call id, u8 method, payload
	frameResponse = 5 // u64 call id, u8 status (0 ok, 1 error), payload or error text
	framePing     = 6 // empty
)

// MaxFrame bounds one frame; a larger length is a protocol error.
const MaxFrame = 256 << 20

// ErrProtocol is wrapped by errors about malformed frames.
var ErrProtocol = errors.New("transport protocol error")

// readFrame reads one frame: u32 length (type byte + body), u8 type, body.
func readFrame(r *bufio.Reader, buf []byte) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 || n > MaxFrame {
		return 0, nil, fmt.Errorf("%w: frame length %d", ErrProtocol, n)
	}
	if cap(buf) < int(n-1) {
		buf = make([]byte, n-1)
	}
	buf = buf[:n-1]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return hdr[4], buf, nil
}

// appendFrameHeader starts a frame in b; finishFrame fills in its length.
func appendFrameHeader(b []byte, typ byte) ([]byte, int) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, typ)
	return b, start
}

func finishFrame(b []byte, start int) {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
}

// appendRaft encodes raft messages into one frame.
func appendRaft(b []byte, msgs []replication.Message) ([]byte, error) {
	b, start := appendFrameHeader(b, frameRaft)
	b = binary.BigEndian.AppendUint32(b, uint32(len(msgs)))
	for i := range msgs {
		b = binary.BigEndian.AppendUint64(b, msgs[i].Group)
		size := msgs[i].Msg.Size()
		b = binary.BigEndian.AppendUint32(b, uint32(size))
		off := len(b)
		b = slices.Grow(b, size)[:off+size] // no zeroing when b has room: MarshalTo fills it
		if _, err := msgs[i].Msg.MarshalTo(b[off:]); err != nil {
			return b[:start], err
		}
	}
	finishFrame(b, start)
	return b, nil
}

// decodeRaft decodes a raft frame body. The messages do not alias body, which the
// reader reuses: raftpb's Unmarshal copies entry data, contexts and snapshot data.
func decodeRaft(body []byte) ([]replication.Message, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("%w: short raft frame", ErrProtocol)
	}
	n := binary.BigEndian.Uint32(body)
	body = body[4:]
	if int(n) > len(body)/12 {
		return nil, fmt.Errorf("%w: %d messages in %d bytes", ErrProtocol, n, len(body))
	}
	msgs := make([]replication.Message, 0, n)
	for i := uint32(0); i < n; i++ {
		if len(body) < 12 {
			return nil, fmt.Errorf("%w: truncated raft message", ErrProtocol)
		}
		group := binary.BigEndian.Uint64(body)
		size := binary.BigEndian.Uint32(body[8:])
		body = body[12:]
		if int(size) > len(body) {
			return nil, fmt.Errorf("%w: raft message of %d bytes in %d", ErrProtocol, size, len(body))
		}
		raw := body[:size]
		body = body[size:]
		var m raftpb.Message
		if err := m.Unmarshal(raw); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		msgs = append(msgs, replication.Message{Group: group, Msg: m})
	}
	if len(body) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes in raft frame", ErrProtocol)
	}
	return msgs, nil
}

func appendHello(b []byte, node uint64, voters []uint64) []byte {
	b, start := appendFrameHeader(b, frameHello)
	b = binary.BigEndian.AppendUint64(b, node)
	b = binary.BigEndian.AppendUint32(b, uint32(len(voters)))
	for _, v := range voters {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	finishFrame(b, start)
	return b
}

func decodeHello(body []byte) (uint64, []uint64, error) {
	if len(body) < 12 {
		return 0, nil, fmt.Errorf("%w: short hello", ErrProtocol)
	}
	node := binary.BigEndian.Uint64(body)
	n := binary.BigEndian.Uint32(body[8:])
	body = body[12:]
	if uint64(n)*8 != uint64(len(body)) {
		return 0, nil, fmt.Errorf("%w: hello voter count %d does not match its length", ErrProtocol, n)
	}
	voters := make([]uint64, n)
	for i := range voters {
		voters[i] = binary.BigEndian.Uint64(body[i*8:])
	}
	return node, voters, nil
}

func appendSimple(b []byte, typ byte, id uint64, code byte, payload []byte) []byte {
	b, start := appendFrameHeader(b, typ)
	b = binary.BigEndian.AppendUint64(b, id)
	b = append(b, code)
	b = append(b, payload...)
	finishFrame(b, start)
	return b
}

// decodeCall decodes a request or response body: call id, method or status, payload.
func decodeCall(body []byte) (uint64, byte, []byte, error) {
	if len(body) < 9 {
		return 0, 0, nil, fmt.Errorf("%w: short call frame", ErrProtocol)
	}
	return binary.BigEndian.Uint64(body), body[8], body[9:], nil
}
