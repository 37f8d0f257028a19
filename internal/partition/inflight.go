package partition

import (
	"github.com/chronik-stream/chronik/internal/record"
)

// inflight is a produce entry in this replica's log that is not applied yet: its
// batches are in the segment files past the high watermark.
type inflight struct {
	index      uint64 // raft index
	start, end int64  // offsets [start, end)
	appendTime int64
	producers  []record.Header // headers (final base offsets) of its idempotent batches
	maxTs      maxTimestamp    // its largest batch timestamp
}

// maxTimestamp is a largest batch timestamp and the base offset of the first batch that
// has it; ts < 0 when there is none.
type maxTimestamp struct {
	ts, batch int64
}

var noMaxTimestamp = maxTimestamp{ts: -1, batch: -1}

// add takes in a batch at base offset batch whose largest timestamp is ts.
func (m *maxTimestamp) add(ts, batch int64) {
	if ts > m.ts {
		m.ts, m.batch = ts, batch
	}
}

// batchesMaxTimestamp is the largest timestamp of batches, with appendTime (>= 0) for
// every batch of a LogAppendTime entry.
func batchesMaxTimestamp(batches []record.Batch, appendTime int64) maxTimestamp {
	m := noMaxTimestamp
	for _, b := range batches {
		ts := b.Header.MaxTimestamp
		if appendTime >= 0 {
			ts = appendTime
		}
		m.add(ts, b.Header.BaseOffset)
	}
	return m
}

// nextOffset is the offset the next appended batch gets: the end of the last in-flight
// entry, or the high watermark.
func (p *Partition) nextOffset() int64 {
	if n := len(p.tail); n > 0 {
		return p.tail[n-1].end
	}
	return p.hw.Load()
}

// prepared is a local proposal the leader checked (Prepare) that raft has not handed to
// Store yet.
type prepared struct {
	id        uint64          // proposal id
	producers []record.Header // its idempotent batches (base offsets not assigned yet)
}

// rebuildAppended recomputes the appended producer view: the applied state plus every
// in-flight entry and prepared proposal, in log order.
func (p *Partition) rebuildAppended() {
	p.mu.Lock()
	p.appended = copyProducers(p.producers)
	p.mu.Unlock()
	for i := range p.tail {
		for _, h := range p.tail[i].producers {
			recordBatch(p.appended, h, h.BaseOffset)
		}
	}
	for i := range p.prepared {
		for _, h := range p.prepared[i].producers {
			recordBatch(p.appended, h, -1)
		}
	}
}

// pushInflight adds an entry to the tail and its batches to the appended view.
func (p *Partition) pushInflight(e inflight) {
	p.tail = append(p.tail, e)
	for _, h := range e.producers {
		recordBatch(p.appended, h, h.BaseOffset)
	}
}

// truncateFrom drops the in-flight entries at index and later (raft replaced them) and
// cuts the log back to where the first of them started.
func (p *Partition) truncateFrom(index uint64) error {
	k := len(p.tail)
	for k > 0 && p.tail[k-1].index >= index {
		k--
	}
	if k == len(p.tail) {
		return nil
	}
	p.tail = p.tail[:k]
	p.rebuildAppended()
	return p.cutLog(p.nextOffset())
}

// cutLog truncates the log to end when it holds more.
func (p *Partition) cutLog(end int64) error {
	if p.log.EndOffset() > end {
		return p.log.TruncateTo(end)
	}
	return nil
}

// idempotent returns the headers of the batches that carry a producer id.
func idempotent(batches []record.Batch) []record.Header {
	var hs []record.Header
	for _, b := range batches {
		if b.Header.ProducerID >= 0 {
			hs = append(hs, b.Header)
		}
	}
	return hs
}
