package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/chronik-stream/chronik/internal/record"
	"github.com/chronik-stream/chronik/internal/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.etcd.io/raft/v3/raftpb"
)

// The partition is a replication.EntryStore: a produce's batches are written once, to the
// segment files, when raft appends the entry; the node WAL keeps a cmdStored descriptor.
var _ replication.EntryStore = (*Partition)(nil)

const headRoom = replication.HeaderRoom

// Prepare implements replication.EntryStore: the leader checks a produce's idempotent
// batches against the producer state as appended so far (applied entries, entries in
// flight, proposals prepared before this one). A refused batch, and a retry of a batch
// already applied, are answered at once; a retry of a batch still in flight becomes a
// cmdDuplicate entry, answered with the original's offset once it applies. Offsets are
// assigned later, by Store.
func (p *Partition) Prepare(id uint64, payload []byte) ([]byte, any, bool) {
	p.lastPrepared = false
	if len(payload) < 9 || payload[0] != cmdProduce {
		return payload, nil, false
	}
	if p.failure() != nil {
		return nil, &ProduceResult{Err: kerr.KafkaStorageError}, true
	}
	appendTime := int64(binary.BigEndian.Uint64(payload[1:]))
	batches, err := record.Split(payload[9:])
	if err != nil || len(batches) == 0 {
		return nil, &ProduceResult{Err: kerr.CorruptMessage}, true
	}
	for _, b := range batches {
		c := checkSequence(p.appended, b.Header)
		if c.err != nil {
			return nil, &ProduceResult{Err: c.err}, true
		}
		if c.dup {
			if off, ok := findBatch(p.producers, b.Header); ok {
				return nil, &ProduceResult{BaseOffset: off, LogAppendTime: appendTime, LogStartOffset: p.StartOffset()}, true
			}
			return encodeDuplicate(b.Header, appendTime), nil, false
		}
	}
	pr := prepared{id: id, producers: idempotent(batches)}
	p.prepared = append(p.prepared, pr)
	for _, h := range pr.producers {
		recordBatch(p.appended, h, -1)
	}
	p.lastPrepared = true
	return payload, nil, false
}

// Unprepare implements replication.EntryStore.
func (p *Partition) Unprepare() {
	if p.lastPrepared {
		p.prepared = p.prepared[:len(p.prepared)-1]
		p.rebuildAppended()
		p.lastPrepared = false
	}
}

// Store implements replication.EntryStore: each produce entry's batches are appended to
// the log. The leader's own entries get their offsets here (from the end of the log
// before them), the raft term as partition leader epoch, and the append time; a
// follower's entries arrive with all three set and must continue the log exactly.
func (p *Partition) Store(ents []raftpb.Entry) ([]raftpb.Entry, error) {
	if len(ents) == 0 {
		return ents, nil
	}
	if err := p.truncateFrom(ents[0].Index); err != nil {
		return nil, p.fail(err)
	}
	out := ents
	for i := range ents {
		e := &ents[i]
		if e.Type != raftpb.EntryNormal || len(e.Data) < headRoom+9 || e.Data[headRoom] != cmdProduce {
			continue
		}
		in, size, err := p.storeProduce(e)
		if err != nil {
			return nil, p.fail(err)
		}
		if &out[0] == &ents[0] {
			out = slices.Clone(ents)
		}
		out[i].Data = encodeStored(e.Data[:headRoom], in, size)
	}
	if len(p.prepared) > 0 { // proposals raft replaced in the same round
		p.prepared = p.prepared[:0]
		p.rebuildAppended()
	}
	return out, nil
}

// storeProduce appends one produce entry's batches and records it in flight.
func (p *Partition) storeProduce(e *raftpb.Entry) (inflight, int, error) {
	payload := e.Data[headRoom:]
	records := payload[9:]
	in := inflight{index: e.Index, start: p.nextOffset(), appendTime: int64(binary.BigEndian.Uint64(payload[1:]))}
	batches, err := record.Split(records)
	if err != nil || len(batches) == 0 {
		return in, 0, fmt.Errorf("partition %s-%d: entry %d holds no valid batch: %v", p.Topic, p.Index, e.Index, err)
	}
	own := len(p.prepared) > 0 && p.prepared[0].id == replication.ProposalID(e.Data)
	next := in.start
	for i := range batches {
		b := &batches[i]
		if own {
			record.SetBaseOffset(b.Bytes, next)
			record.SetPartitionLeaderEpoch(b.Bytes, int32(e.Term))
			if in.appendTime >= 0 {
				record.SetLogAppendTime(b.Bytes, in.appendTime)
			}
			b.Header.BaseOffset = next
		} else if b.Header.BaseOffset != next {
			return in, 0, fmt.Errorf("partition %s-%d: entry %d has a batch at offset %d where the log is at %d", p.Topic, p.Index, e.Index, b.Header.BaseOffset, next)
		}
		next = b.Header.LastOffset() + 1
	}
	in.end = next
	in.producers = idempotent(batches)
	in.maxTs = batchesMaxTimestamp(batches, in.appendTime)
	if end := p.log.EndOffset(); end != in.start {
		return in, 0, fmt.Errorf("partition %s-%d: log ends at %d, entry %d starts at %d", p.Topic, p.Index, end, e.Index, in.start)
	}
	if err := p.log.Append(records); err != nil {
		return in, 0, err
	}
	p.tail = append(p.tail, in)
	if own {
		p.prepared = p.prepared[1:] // its batches are in the appended view already
	} else {
		for _, h := range in.producers {
			recordBatch(p.appended, h, h.BaseOffset)
		}
	}
	return in, len(records), nil
}

// Sync implements replication.EntryStore: the segment data written so far is made
// durable (indexes are rebuilt on recovery when they lag, and synced by Checkpoint).
func (p *Partition) Sync() error { return p.log.SyncData() }

// StoredResult implements replication.EntryStore: a produce entry that is stored but
// not applied is answered with its offsets (acks=1); others wait for their apply.
func (p *Partition) StoredResult(e raftpb.Entry) (any, bool) {
	for i := len(p.tail) - 1; i >= 0; i-- {
		if in := p.tail[i]; in.index == e.Index {
			return &ProduceResult{BaseOffset: in.start, LogAppendTime: in.appendTime, LogStartOffset: p.StartOffset()}, true
		} else if in.index < e.Index {
			break
		}
	}
	return nil, false
}

// Load implements replication.EntryStore: the batches of each cmdStored descriptor are
// read back from the log and checked (offsets, length, CRC, the entry's term as leader
// epoch); the first entry whose data is not intact ends the load, and the log is cut
// after the last entry loaded.
func (p *Partition) Load(ents []raftpb.Entry) (int, error) {
	p.tail, p.prepared = p.tail[:0], p.prepared[:0]
	n := 0
load:
	for ; n < len(ents); n++ {
		e := &ents[n]
		if e.Type != raftpb.EntryNormal || len(e.Data) <= headRoom {
			continue
		}
		switch e.Data[headRoom] {
		case cmdStored:
			data, in, err := p.loadStored(e)
			if err != nil {
				break load
			}
			e.Data = data
			p.tail = append(p.tail, in)
		case cmdProduce:
			return 0, fmt.Errorf("partition %s-%d: the WAL holds produce entry %d in a format this version does not read", p.Topic, p.Index, e.Index)
		}
	}
	p.rebuildAppended()
	if err := p.cutLog(p.nextOffset()); err != nil {
		return 0, err
	}
	return n, nil
}

var errNotStored = errors.New("entry data is not in the log")

// loadStored rebuilds the payload of a produce entry from its descriptor and the log.
func (p *Partition) loadStored(e *raftpb.Entry) ([]byte, inflight, error) {
	d := e.Data[headRoom:]
	if len(d) < 1+8+8+4 {
		return nil, inflight{}, fmt.Errorf("partition %s-%d: entry %d: short descriptor", p.Topic, p.Index, e.Index)
	}
	in := inflight{index: e.Index, appendTime: int64(binary.BigEndian.Uint64(d[1:])), start: int64(binary.BigEndian.Uint64(d[9:]))}
	size := int(binary.BigEndian.Uint32(d[17:]))
	if in.start != p.nextOffset() {
		return nil, in, errNotStored
	}
	data := make([]byte, 0, headRoom+9+size)
	data = append(data, e.Data[:headRoom+9]...)
	data[headRoom] = cmdProduce
	for off := in.start; len(data) < headRoom+9+size; {
		b, err := p.log.ReadStored(off, headRoom+9+size-len(data)) // also below a delete-records' start
		bs := record.SplitPartial(b)
		if err != nil || len(bs) == 0 {
			return nil, in, errNotStored
		}
		data = append(data, b...)
		off = bs[len(bs)-1].Header.LastOffset() + 1
	}
	if len(data) != headRoom+9+size {
		return nil, in, errNotStored
	}
	batches, err := record.Split(data[headRoom+9:])
	if err != nil || len(batches) == 0 {
		return nil, in, errNotStored
	}
	next := in.start
	for _, b := range batches {
		h := b.Header
		if h.BaseOffset != next || h.PartitionLeaderEpoch != int32(e.Term) || !h.CRCMatches(b.Bytes) {
			return nil, in, errNotStored
		}
		next = h.LastOffset() + 1
	}
	in.end = next
	in.producers = idempotent(batches)
	in.maxTs = batchesMaxTimestamp(batches, in.appendTime)
	return data, in, nil
}

// encodeStored is the WAL descriptor of a stored produce entry: the proposal id, then
// cmdStored, the append time, the first offset and the size of its batches in the log.
func encodeStored(id []byte, in inflight, size int) []byte {
	b := make([]byte, 0, headRoom+1+8+8+4)
	b = append(b, id...)
	b = append(b, cmdStored)
	b = binary.BigEndian.AppendUint64(b, uint64(in.appendTime))
	b = binary.BigEndian.AppendUint64(b, uint64(in.start))
	return binary.BigEndian.AppendUint32(b, uint32(size))
}

// encodeDuplicate is the payload of a retry of a batch still in flight.
func encodeDuplicate(h record.Header, appendTime int64) []byte {
	b := make([]byte, 0, 1+8+2+4+4+8)
	b = append(b, cmdDuplicate)
	b = binary.BigEndian.AppendUint64(b, uint64(h.ProducerID))
	b = binary.BigEndian.AppendUint16(b, uint16(h.ProducerEpoch))
	b = binary.BigEndian.AppendUint32(b, uint32(h.BaseSequence))
	b = binary.BigEndian.AppendUint32(b, uint32(h.BaseSequence+h.LastOffsetDelta))
	return binary.BigEndian.AppendUint64(b, uint64(appendTime))
}

// applyDuplicate answers a cmdDuplicate entry with the original batch's offset: the
// original precedes it in the log, so it is applied.
func (p *Partition) applyDuplicate(d []byte) *ProduceResult {
	if len(d) < 1+8+2+4+4+8 {
		return &ProduceResult{Err: kerr.CorruptMessage}
	}
	h := record.Header{
		ProducerID:    int64(binary.BigEndian.Uint64(d[1:])),
		ProducerEpoch: int16(binary.BigEndian.Uint16(d[9:])),
		BaseSequence:  int32(binary.BigEndian.Uint32(d[11:])),
	}
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(d[15:])) - h.BaseSequence
	appendTime := int64(binary.BigEndian.Uint64(d[19:]))
	off, ok := findBatch(p.producers, h)
	if !ok {
		return &ProduceResult{Err: kerr.DuplicateSequenceNumber}
	}
	return &ProduceResult{BaseOffset: off, LogAppendTime: appendTime, LogStartOffset: p.StartOffset()}
}

// failure is the storage error that stopped this replica, if any.
func (p *Partition) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// fail records a storage error and returns it.
func (p *Partition) fail(err error) error {
	p.mu.Lock()
	if p.failed == nil {
		p.failed = err
	}
	p.mu.Unlock()
	return err
}
