// Package wal is the node write-ahead log: one append-only log per node holding the raft
// entries, hard states and compaction points of every raft group on the node. Writers
// from many goroutines share one fsync per group commit.
package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"go.etcd.io/raft/v3/raftpb"
)

// Record types.
const (
	recEntries   = 1 // payload: count u32, then per entry: term u64, index u64, type u8, len u32, data
	recHardState = 2 // payload: term u64, vote u64, commit u64
	recCompact   = 3 // payload: index u64, term u64, nvoters u32, voters u64..., nlearners u32, learners u64...
	recRemove    = 4 // payload: empty; the group is gone
)

// frameHeader is u32 body length (type + group + payload), u32 CRC-32C of the body.
const frameHeader = 8

// bodyHeader is u8 type + u64 group id.
const bodyHeader = 9

// maxBody bounds one record so that a corrupt length cannot make recovery allocate wildly.
const maxBody = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by errors that report a damaged WAL.
var ErrCorrupt = errors.New("corrupt wal")

// Batch collects records for one group commit. A Batch is not safe for concurrent use;
// reuse it with Reset.
type Batch struct {
	buf     []byte
	updates []stateUpdate
}

// stateUpdate is what the WAL must remember of a group to write it into a new file's
// header: its latest hard state and compaction point.
type stateUpdate struct {
	group   uint64
	hs      *raftpb.HardState
	compact *Compaction
	remove  bool
	maxIdx  uint64
}

// Compaction is a group's compaction point: entries up to and including Index are no
// longer kept; Term and ConfState describe the log at that point (a raft snapshot's
// metadata).
type Compaction struct {
	Index     uint64
	Term      uint64
	ConfState raftpb.ConfState
}

// Reset empties the batch for reuse.
func (b *Batch) Reset() { b.buf = b.buf[:0]; b.updates = b.updates[:0] }

// Empty reports whether the batch holds no record.
func (b *Batch) Empty() bool { return len(b.buf) == 0 }

// Len is the encoded size of the batch.
func (b *Batch) Len() int { return len(b.buf) }

func (b *Batch) begin(typ byte, group uint64) int {
	start := len(b.buf)
	b.buf = append(b.buf, make([]byte, frameHeader+bodyHeader)...)
	b.buf[start+frameHeader] = typ
	binary.BigEndian.PutUint64(b.buf[start+frameHeader+1:], group)
	return start
}

func (b *Batch) end(start int) {
	body := b.buf[start+frameHeader:]
	binary.BigEndian.PutUint32(b.buf[start:], uint32(len(body)))
	binary.BigEndian.PutUint32(b.buf[start+4:], crc32.Checksum(body, castagnoli))
}

// Entries records raft entries of a group. Entries replace any previously written
// entries of the group at the same or higher indexes (raft's log truncation).
func (b *Batch) Entries(group uint64, ents []raftpb.Entry) {
	if len(ents) == 0 {
		return
	}
	s := b.begin(recEntries, group)
	b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(ents)))
	for i := range ents {
		e := &ents[i]
		b.buf = binary.BigEndian.AppendUint64(b.buf, e.Term)
		b.buf = binary.BigEndian.AppendUint64(b.buf, e.Index)
		b.buf = append(b.buf, byte(e.Type))
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(e.Data)))
		b.buf = append(b.buf, e.Data...)
	}
	b.end(s)
	b.updates = append(b.updates, stateUpdate{group: group, maxIdx: ents[len(ents)-1].Index})
}

// HardState records a group's hard state.
func (b *Batch) HardState(group uint64, hs raftpb.HardState) {
	s := b.begin(recHardState, group)
	b.buf = binary.BigEndian.AppendUint64(b.buf, hs.Term)
	b.buf = binary.BigEndian.AppendUint64(b.buf, hs.Vote)
	b.buf = binary.BigEndian.AppendUint64(b.buf, hs.Commit)
	b.end(s)
	h := hs
	b.updates = append(b.updates, stateUpdate{group: group, hs: &h})
}

// Compact records a group's compaction point.
func (b *Batch) Compact(group uint64, c Compaction) {
	b.appendCompact(group, c)
	cc := c
	b.updates = append(b.updates, stateUpdate{group: group, compact: &cc})
}

func (b *Batch) appendCompact(group uint64, c Compaction) {
	s := b.begin(recCompact, group)
	b.buf = binary.BigEndian.AppendUint64(b.buf, c.Index)
	b.buf = binary.BigEndian.AppendUint64(b.buf, c.Term)
	b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(c.ConfState.Voters)))
	for _, v := range c.ConfState.Voters {
		b.buf = binary.BigEndian.AppendUint64(b.buf, v)
	}
	b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(c.ConfState.Learners)))
	for _, v := range c.ConfState.Learners {
		b.buf = binary.BigEndian.AppendUint64(b.buf, v)
	}
	b.end(s)
}

// Remove records that a group was deleted; its state is dropped on recovery.
func (b *Batch) Remove(group uint64) {
	s := b.begin(recRemove, group)
	b.end(s)
	b.updates = append(b.updates, stateUpdate{group: group, remove: true})
}

// decoded is one record read back from a file.
type decoded struct {
	typ     byte
	group   uint64
	payload []byte
}

// readFrame decodes the record at the start of b. It returns the record, the number of
// bytes it spans, and io-level status: n == 0 with a nil error means a clean end (zero
// length: the preallocated, never written part of a file).
func readFrame(b []byte) (decoded, int, error) {
	if len(b) < frameHeader {
		if allZero(b) {
			return decoded{}, 0, nil
		}
		return decoded{}, 0, fmt.Errorf("%w: torn frame header", ErrCorrupt)
	}
	n := binary.BigEndian.Uint32(b)
	sum := binary.BigEndian.Uint32(b[4:])
	if n == 0 && sum == 0 {
		return decoded{}, 0, nil
	}
	if n < bodyHeader || n > maxBody || int(n) > len(b)-frameHeader {
		return decoded{}, 0, fmt.Errorf("%w: bad or torn record length %d", ErrCorrupt, n)
	}
	body := b[frameHeader : frameHeader+int(n)]
	if crc32.Checksum(body, castagnoli) != sum {
		return decoded{}, 0, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return decoded{typ: body[0], group: binary.BigEndian.Uint64(body[1:]), payload: body[bodyHeader:]}, frameHeader + int(n), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// payloadReader reads big-endian fields, remembering the first short read.
type payloadReader struct {
	b   []byte
	err error
}

func (r *payloadReader) u64() uint64 {
	if len(r.b) < 8 {
		r.err = fmt.Errorf("%w: short payload", ErrCorrupt)
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *payloadReader) u32() uint32 {
	if len(r.b) < 4 {
		r.err = fmt.Errorf("%w: short payload", ErrCorrupt)
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *payloadReader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("%w: short payload", ErrCorrupt)
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func decodeEntries(p []byte) ([]raftpb.Entry, error) {
	r := payloadReader{b: p}
	n := r.u32()
	if int(n) > len(p)/21 {
		return nil, fmt.Errorf("%w: entry count %d too large", ErrCorrupt, n)
	}
	ents := make([]raftpb.Entry, 0, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		var e raftpb.Entry
		e.Term = r.u64()
		e.Index = r.u64()
		t := r.bytes(1)
		if r.err != nil {
			break
		}
		e.Type = raftpb.EntryType(t[0])
		e.Data = r.bytes(int(r.u32()))
		ents = append(ents, e)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: trailing bytes after entries", ErrCorrupt)
	}
	for i := 1; i < len(ents) && r.err == nil; i++ {
		if ents[i].Index != ents[i-1].Index+1 {
			r.err = fmt.Errorf("%w: entries not contiguous", ErrCorrupt)
		}
	}
	return ents, r.err
}

func decodeHardState(p []byte) (raftpb.HardState, error) {
	r := payloadReader{b: p}
	hs := raftpb.HardState{Term: r.u64(), Vote: r.u64(), Commit: r.u64()}
	return hs, r.err
}

func decodeCompact(p []byte) (Compaction, error) {
	r := payloadReader{b: p}
	c := Compaction{Index: r.u64(), Term: r.u64()}
	readIDs := func() []uint64 {
		n := r.u32()
		if int(n) > len(r.b)/8 {
			r.err = fmt.Errorf("%w: id count %d too large", ErrCorrupt, n)
			return nil
		}
		var ids []uint64
		for i := uint32(0); i < n; i++ {
			ids = append(ids, r.u64())
		}
		return ids
	}
	c.ConfState.Voters = readIDs()
	c.ConfState.Learners = readIDs()
	return c, r.err
}
