package partition

import (
	"errors"
	"time"

	plog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// HighWatermark is the end offset of the committed (applied) log, but never below the
// log start offset. The log may hold batches past it that are not committed yet; reads
// never return them. After a restart the log start offset can be ahead of the applied
// entries until they are replayed (a delete-records after the last checkpoint moved it
// durably); the data below it was committed, so the start is the truthful bound then, as
// Kafka raises its high watermark to the log start offset.
func (p *Partition) HighWatermark() int64 { return max(p.hw.Load(), p.log.StartOffset()) }

// StartOffset is the log start offset.
func (p *Partition) StartOffset() int64 { return p.log.StartOffset() }

// Size is the bytes the partition's log occupies.
func (p *Partition) Size() int64 { return p.log.Size() }

// Read returns whole committed batches from offset on (see log.Read), none past the
// high watermark; an offset outside [StartOffset, HighWatermark] is
// kerr.OffsetOutOfRange.
func (p *Partition) Read(offset int64, maxBytes int) ([]byte, error) {
	hw := p.HighWatermark()
	if offset == hw {
		return nil, nil
	}
	if offset > hw {
		return nil, kerr.OffsetOutOfRange
	}
	b, err := p.log.Read(offset, maxBytes)
	if errors.Is(err, plog.ErrOffsetOutOfRange) {
		return nil, kerr.OffsetOutOfRange
	}
	return committedPrefix(b, hw), err
}

// committedPrefix cuts b (whole batches) before the first batch at or past hw.
func committedPrefix(b []byte, hw int64) []byte {
	for pos := 0; pos < len(b); {
		h, err := record.ParseHeader(b[pos:])
		if err != nil || h.BaseOffset >= hw {
			return b[:pos]
		}
		pos += h.TotalSize()
	}
	return b
}

// OffsetForTimestamp returns the first offset whose record timestamp is >= ts, with that
// timestamp; found=false when every record is older.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	batch, ok, err := p.log.FindTimestamp(ts)
	if err != nil || !ok {
		return -1, -1, false, err
	}
	if batch = committedPrefix(batch, p.hw.Load()); len(batch) == 0 {
		return -1, -1, false, nil
	}
	offset, timestamp = -1, -1
	err = record.ForEachRecord(batch, func(r record.Record) bool {
		if r.Timestamp >= ts {
			offset, timestamp, found = r.Offset, r.Timestamp, true
			return false
		}
		return true
	})
	return offset, timestamp, found, err
}

// committedMaxTimestamp is the largest timestamp of the applied batches.
func (p *Partition) committedMaxTimestamp() maxTimestamp {
	p.tsMu.Lock()
	defer p.tsMu.Unlock()
	return p.maxTs
}

// MaxTimestamp returns the offset and timestamp of the committed record with the largest
// timestamp (ListOffsets -3), the first one with it; found=false when no committed record
// has a timestamp.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, found bool, err error) {
	m := p.committedMaxTimestamp()
	if m.ts >= 0 && m.batch < p.StartOffset() {
		// Deleted since: the largest stored one then, if it is committed.
		m = noMaxTimestamp
		if ts, off, ok := p.log.MaxTimestamp(); ok && off >= p.StartOffset() && off < p.hw.Load() {
			m = maxTimestamp{ts: ts, batch: off}
		}
	}
	if m.ts < 0 {
		return -1, -1, false, nil
	}
	ts, batchOffset := m.ts, m.batch
	batch, err := p.log.Read(batchOffset, 1)
	if err != nil {
		return -1, -1, false, err
	}
	bs := record.SplitPartial(batch)
	if len(bs) == 0 {
		return -1, -1, false, nil
	}
	offset = bs[0].Header.LastOffset()
	_ = record.ForEachRecord(bs[0].Bytes, func(r record.Record) bool {
		if r.Timestamp == ts {
			offset = r.Offset
			return false
		}
		return true
	})
	return offset, ts, true, nil
}

// EnforceRetention deletes old segments by time and size (see log.EnforceRetention),
// never one holding data past the last checkpoint's end offset: recovery replays the
// entries after the checkpoint, and their data must still be there.
func (p *Partition) EnforceRetention(now time.Time, retentionMs, retentionBytes int64) (int, error) {
	return p.log.EnforceRetention(now, retentionMs, retentionBytes, p.cpEnd.Load())
}

// Subscribe calls wake whenever new data is applied, until cancel is called.
func (p *Partition) Subscribe(wake func()) (cancel func()) {
	p.watchMu.Lock()
	id := p.nextID
	p.nextID++
	p.watchers[id] = wake
	p.watchMu.Unlock()
	return func() {
		p.watchMu.Lock()
		delete(p.watchers, id)
		p.watchMu.Unlock()
	}
}

func (p *Partition) wake() {
	p.watchMu.Lock()
	defer p.watchMu.Unlock()
	for _, f := range p.watchers {
		f()
	}
}
