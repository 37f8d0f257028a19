// Package partition is the replicated state machine of one Kafka partition. It is a
// replication.EntryStore: a produce's batches are written to the partition's segment files
// once, when raft appends the entry on each replica (the leader assigns the offsets then),
// and the node WAL holds only a descriptor. Applying committed entries in raft order
// advances the high watermark, keeps the idempotent-producer state and runs
// delete-records; reads stop at the high watermark.
package partition

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	plog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Command types, the first byte of a partition group's raft entry payload.
const (
	cmdProduce       = 1 // u8 type, i64 log append time (-1: CreateTime), record batches
	cmdDeleteRecords = 2 // u8 type, i64 new log start offset
	cmdDuplicate     = 3 // u8 type, i64 producer id, i16 epoch, i32 first seq, i32 last seq, i64 append time
	cmdStored        = 4 // WAL only: u8 type, i64 append time, i64 first offset, u32 bytes in the log
)

// EncodeProduce builds the raft payload of a produce, preceded by headroom zero bytes
// for the replication layer. appendTime is the leader's clock for topics with
// LogAppendTime, else -1; it travels in the entry so that every replica stamps the same
// time.
func EncodeProduce(headroom int, records []byte, appendTime int64) []byte {
	head := make([]byte, headroom+9)
	head[headroom] = cmdProduce
	binary.BigEndian.PutUint64(head[headroom+1:], uint64(appendTime))
	// bytes.Join allocates without zeroing what it then overwrites: for large produces
	// the zeroing cost as much as the copy.
	return bytes.Join([][]byte{head, records}, nil)
}

// EncodeDeleteRecords builds the raft payload of a DeleteRecords, preceded by headroom
// zero bytes for the replication layer.
func EncodeDeleteRecords(headroom int, offset int64) []byte {
	b := make([]byte, headroom+9)
	b[headroom] = cmdDeleteRecords
	binary.BigEndian.PutUint64(b[headroom+1:], uint64(offset))
	return b
}

// ProduceResult is what applying a produce returns to its proposer.
type ProduceResult struct {
	BaseOffset     int64
	LogAppendTime  int64
	LogStartOffset int64
	Err            error // a kerr error when the batch was refused (state unchanged)
}

// Partition is one replica's partition state.
type Partition struct {
	Topic string
	Index int32
	dir   string
	log   *plog.Log

	mu        sync.Mutex // serialises Apply against checkpoint snapshots
	cpMu      sync.Mutex // serialises checkpoints
	applied   uint64
	producers map[int64]*producerState // as of the applied index
	tsMu      sync.Mutex               // guards maxTs (not mu: Restore holds mu for long)
	maxTs     maxTimestamp             // the largest timestamp of the applied batches
	failed    error
	hw        atomic.Int64 // high watermark: the end offset of the applied entries
	// cpEnd is the end offset in the last checkpoint written. Segments below the log start
	// offset are deleted only once a checkpoint covers it, and retention keeps what lies
	// past cpEnd: recovery replays the entries after the checkpoint and needs their data.
	cpEnd atomic.Int64

	// The log past the high watermark, used by the group's worker only (see stored.go).
	tail         []inflight               // stored entries not applied yet, in log order
	prepared     []prepared               // the leader's checked proposals not stored yet
	appended     map[int64]*producerState // producers as of the last stored or prepared entry
	lastPrepared bool                     // the last Prepare added to prepared

	lastCheckpoint atomic.Uint64
	fetch          Fetcher

	watchMu  sync.Mutex
	watchers map[int]func()
	nextID   int
}

// Open opens (or creates) the partition in dir and recovers it to its last checkpoint.
// Log data past the checkpoint's high watermark stays until Load (from AddGroup) keeps
// what the WAL's entries describe.
func Open(topic string, index int32, dir string, logCfg plog.Config) (*Partition, error) {
	l, err := plog.Open(dir, logCfg)
	if err != nil {
		return nil, err
	}
	cp, err := readCheckpoint(dir)
	if err != nil {
		l.Close()
		return nil, err
	}
	switch {
	case cp.EndOffset < l.StoredFrom():
		// Only a snapshot restore drops data the checkpoint still needs: it crashed
		// before its own checkpoint, so start over from the old one.
		err = l.Reset(cp.EndOffset)
	case l.EndOffset() < cp.EndOffset:
		err = fmt.Errorf("partition %s-%d: log ends at %d but its checkpoint says %d: synced data is missing", topic, index, l.EndOffset(), cp.EndOffset)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	if cp.StartOffset > l.StartOffset() {
		if err := l.DeleteBefore(cp.StartOffset); err != nil {
			l.Close()
			return nil, err
		}
	}
	p := &Partition{Topic: topic, Index: index, dir: dir, log: l, applied: cp.Applied, producers: cp.Producers, watchers: map[int]func(){}}
	if p.producers == nil {
		p.producers = map[int64]*producerState{}
	}
	p.appended = copyProducers(p.producers)
	p.maxTs = checkpointMaxTimestamp(cp, l)
	p.hw.Store(cp.EndOffset)
	p.cpEnd.Store(cp.EndOffset)
	p.lastCheckpoint.Store(cp.Applied)
	return p, nil
}

// Applied implements replication.StateMachine: the index of the last checkpoint.
func (p *Partition) Applied() uint64 { return p.lastCheckpoint.Load() }

// Apply implements replication.StateMachine. It returns a *ProduceResult for produces
// and duplicates, and the new log start offset (int64) or an error for delete-records.
func (p *Partition) Apply(index uint64, data []byte) any {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applied = index
	if len(data) < 9 {
		return nil
	}
	if p.failed != nil {
		return &ProduceResult{Err: kerr.KafkaStorageError}
	}
	arg := int64(binary.BigEndian.Uint64(data[1:]))
	switch data[0] {
	case cmdProduce:
		return p.applyProduce(index)
	case cmdDuplicate:
		return p.applyDuplicate(data)
	case cmdDeleteRecords:
		if arg > p.hw.Load() {
			return kerr.OffsetOutOfRange
		}
		if err := p.log.SetStart(arg); err != nil { // the segments go at the next checkpoint
			p.failed = err
			return kerr.KafkaStorageError
		}
		return p.log.StartOffset()
	}
	return nil
}

// applyProduce commits the stored entry at index: the high watermark moves past its
// batches and the producer state takes them in.
func (p *Partition) applyProduce(index uint64) *ProduceResult {
	if len(p.tail) == 0 || p.tail[0].index != index {
		p.failed = fmt.Errorf("partition %s-%d: applying produce entry %d that was not stored", p.Topic, p.Index, index)
		return &ProduceResult{Err: kerr.KafkaStorageError}
	}
	in := p.tail[0]
	p.tail = p.tail[1:]
	for _, h := range in.producers {
		recordBatch(p.producers, h, h.BaseOffset)
	}
	p.tsMu.Lock()
	p.maxTs.add(in.maxTs.ts, in.maxTs.batch)
	p.tsMu.Unlock()
	p.hw.Store(in.end)
	p.wake()
	return &ProduceResult{BaseOffset: in.start, LogAppendTime: in.appendTime, LogStartOffset: p.log.StartOffset()}
}

// Checkpoint implements replication.StateMachine: it syncs the log and records the
// applied index with the producer state, so recovery can start from here; then the
// segments below the recorded log start offset are deleted.
func (p *Partition) Checkpoint() (uint64, []byte, error) {
	p.cpMu.Lock() // one checkpoint at a time: they share the temporary file
	defer p.cpMu.Unlock()
	p.mu.Lock()
	cp := checkpoint{Applied: p.applied, EndOffset: p.hw.Load(), StartOffset: p.log.StartOffset(), Producers: copyProducers(p.producers)}
	if m := p.committedMaxTimestamp(); m.ts >= 0 {
		cp.MaxTimestamp, cp.MaxTimestampBatch = &m.ts, m.batch
	}
	p.mu.Unlock()
	data, err := encodeCheckpoint(cp)
	if err != nil {
		return 0, nil, err
	}
	if cp.Applied != p.lastCheckpoint.Load() {
		if err := p.log.Sync(); err != nil {
			return 0, nil, err
		}
		if err := writeCheckpoint(p.dir, data); err != nil {
			return 0, nil, err
		}
		p.cpEnd.Store(cp.EndOffset)
		p.lastCheckpoint.Store(cp.Applied)
	}
	// Never past the checkpoint on disk: recovery replays the entries after it.
	if err := p.log.DeleteBefore(min(cp.StartOffset, p.cpEnd.Load())); err != nil {
		return 0, nil, err
	}
	return cp.Applied, data, nil
}

// Fetcher reads committed batches of this partition from its leader: whole batches from
// offset on (at most about maxBytes), with the leader's log start and end offsets.
type Fetcher func(ctx context.Context, offset int64, maxBytes int) (batches []byte, start, end int64, err error)

// SetFetcher installs how Restore copies data from the leader.
func (p *Partition) SetFetcher(f Fetcher) {
	p.mu.Lock()
	p.fetch = f
	p.mu.Unlock()
}

// Restore implements replication.StateMachine: this replica fell behind the leader's
// raft log, so it copies the leader's committed batches up to the snapshot's end offset
// (starting over at the leader's log start when its own data is older than that), then
// adopts the snapshot's producer state and checkpoints.
func (p *Partition) Restore(ctx context.Context, index uint64, snap []byte) error {
	cp, err := decodeCheckpoint(snap)
	if err != nil {
		return err
	}
	p.cpMu.Lock()
	defer p.cpMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if end := p.log.EndOffset(); end > cp.EndOffset {
		if err := p.log.TruncateTo(cp.EndOffset); err != nil {
			return fmt.Errorf("partition %s-%d: local log ends at %d past the snapshot's %d: %w", p.Topic, p.Index, end, cp.EndOffset, err)
		}
	}
	if cp.StartOffset > p.log.EndOffset() {
		if err := p.log.Reset(cp.StartOffset); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for p.log.EndOffset() < cp.EndOffset {
		if p.fetch == nil {
			return fmt.Errorf("partition %s-%d: no leader to copy offsets %d..%d from", p.Topic, p.Index, p.log.EndOffset(), cp.EndOffset)
		}
		data, start, _, err := p.fetch(ctx, p.log.EndOffset(), 4<<20)
		if err != nil {
			return fmt.Errorf("partition %s-%d: copy from leader at %d: %w", p.Topic, p.Index, p.log.EndOffset(), err)
		}
		if start > p.log.EndOffset() {
			if err := p.log.Reset(start); err != nil {
				return err
			}
			continue
		}
		if err := p.appendCopied(data, cp.EndOffset); err != nil {
			return err
		}
	}
	if err := p.log.Sync(); err != nil {
		return err
	}
	p.applied, p.producers = index, cp.Producers
	if p.producers == nil {
		p.producers = map[int64]*producerState{}
	}
	p.tail, p.prepared, p.appended = nil, nil, copyProducers(p.producers)
	p.tsMu.Lock()
	p.maxTs = checkpointMaxTimestamp(cp, p.log)
	p.tsMu.Unlock()
	p.hw.Store(cp.EndOffset)
	cp.Applied = index
	data, err := encodeCheckpoint(cp)
	if err != nil {
		return err
	}
	if err := writeCheckpoint(p.dir, data); err != nil {
		return err
	}
	p.cpEnd.Store(cp.EndOffset)
	p.lastCheckpoint.Store(index)
	if err := p.log.DeleteBefore(cp.StartOffset); err != nil {
		return err
	}
	p.wake()
	return nil
}

// appendCopied appends the batches copied from the leader that start before limit.
func (p *Partition) appendCopied(data []byte, limit int64) error {
	batches := record.SplitPartial(data)
	if len(batches) == 0 {
		return fmt.Errorf("partition %s-%d: leader returned no data at %d", p.Topic, p.Index, p.log.EndOffset())
	}
	n := 0
	for _, b := range batches {
		if b.Header.BaseOffset >= limit {
			break
		}
		if b.Header.BaseOffset != p.log.EndOffset()+int64(n) && n == 0 {
			return fmt.Errorf("partition %s-%d: leader batch at %d, expected %d", p.Topic, p.Index, b.Header.BaseOffset, p.log.EndOffset())
		}
		n += len(b.Bytes)
	}
	if n == 0 {
		return fmt.Errorf("partition %s-%d: leader has no batch before %d", p.Topic, p.Index, limit)
	}
	return p.log.Append(data[:n])
}

// Close closes the log.
func (p *Partition) Close() error { return p.log.Close() }

// Delete closes the partition and removes its data.
func (p *Partition) Delete() error { return p.log.Delete() }
