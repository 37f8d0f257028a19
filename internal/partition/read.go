package partition

import (
	"errors"
	"time"

	plog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// HighWatermark is the end offset of the committed log: every stored batch is
// committed, so it is also the log end offset.
func (p *Partition) HighWatermark() int64 { return p.log.EndOffset() }

// StartOffset is the log start offset.
func (p *Partition) StartOffset() int64 { return p.log.StartOffset() }

// Size is the bytes the partition's log occupies.
func (p *Partition) Size() int64 { return p.log.Size() }

// Read returns whole batches from offset on (see log.Read); an offset outside
// [StartOffset, HighWatermark] is kerr.OffsetOutOfRange.
func (p *Partition) Read(offset int64, maxBytes int) ([]byte, error) {
	b, err := p.log.Read(offset, maxBytes)
	if errors.Is(err, plog.ErrOffsetOutOfRange) {
		return nil, kerr.OffsetOutOfRange
	}
	return b, err
}

// OffsetForTimestamp returns the first offset whose record timestamp is >= ts, with that
// timestamp; found=false when every record is older.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	batch, ok, err := p.log.FindTimestamp(ts)
	if err != nil || !ok {
		return -1, -1, false, err
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

// MaxTimestamp returns the offset and timestamp of the record with the largest timestamp
// (ListOffsets -3); found=false when the log is empty.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, found bool, err error) {
	ts, batchOffset, ok := p.log.MaxTimestamp()
	if !ok {
		return -1, -1, false, nil
	}
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

// EnforceRetention deletes old segments by time and size (see log.EnforceRetention).
func (p *Partition) EnforceRetention(now time.Time, retentionMs, retentionBytes int64) (int, error) {
	return p.log.EnforceRetention(now, retentionMs, retentionBytes)
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
