package partition

import (
	"github.com/chronik-stream/chronik/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// maxCachedBatches is how many recent batches per producer are remembered for
// deduplication, as Kafka does.
const maxCachedBatches = 5

// seqBatch is one recently appended batch of an idempotent producer.
type seqBatch struct {
	FirstSeq   int32 `json:"f"`
	LastSeq    int32 `json:"l"`
	BaseOffset int64 `json:"o"`
}

// producerState is what a partition remembers of one idempotent producer. It is part of
// the replicated state: every replica derives it from the same log.
type producerState struct {
	Epoch   int16      `json:"e"`
	Batches []seqBatch `json:"b"`
}

// seqCheck is the verdict on one incoming batch of an idempotent producer.
type seqCheck struct {
	dup        bool  // a retry of a cached batch
	dupOffset  int64 // its original base offset
	err        error // a kerr error; nil if the batch may be appended
	isProducer bool  // the batch carries a producer id
}

// checkSequence applies Kafka's rules for an idempotent batch: a stale epoch is fenced,
// a new epoch must start at sequence 0, a retry of one of the last 5 batches is a
// duplicate answered with its offset, anything else must follow the last sequence.
func checkSequence(producers map[int64]*producerState, h record.Header) seqCheck {
	if h.ProducerID < 0 {
		return seqCheck{}
	}
	c := seqCheck{isProducer: true}
	lastSeq := h.BaseSequence + h.LastOffsetDelta
	st := producers[h.ProducerID]
	switch {
	case st == nil:
		if h.BaseSequence != 0 {
			c.err = kerr.OutOfOrderSequenceNumber
		}
	case h.ProducerEpoch < st.Epoch:
		c.err = kerr.InvalidProducerEpoch
	case h.ProducerEpoch > st.Epoch:
		if h.BaseSequence != 0 {
			c.err = kerr.OutOfOrderSequenceNumber
		}
	default:
		for _, b := range st.Batches {
			if b.FirstSeq == h.BaseSequence && b.LastSeq == lastSeq {
				c.dup, c.dupOffset = true, b.BaseOffset
				return c
			}
		}
		if n := len(st.Batches); n > 0 && h.BaseSequence != nextSeq(st.Batches[n-1].LastSeq) {
			c.err = kerr.OutOfOrderSequenceNumber
		}
	}
	return c
}

// nextSeq is the sequence after s; sequences wrap from MaxInt32 to 0.
func nextSeq(s int32) int32 {
	if s == 1<<31-1 {
		return 0
	}
	return s + 1
}

// recordBatch remembers an appended batch of an idempotent producer.
func recordBatch(producers map[int64]*producerState, h record.Header, baseOffset int64) {
	st := producers[h.ProducerID]
	if st == nil || h.ProducerEpoch != st.Epoch {
		st = &producerState{Epoch: h.ProducerEpoch}
		producers[h.ProducerID] = st
	}
	st.Batches = append(st.Batches, seqBatch{FirstSeq: h.BaseSequence, LastSeq: h.BaseSequence + h.LastOffsetDelta, BaseOffset: baseOffset})
	if len(st.Batches) > maxCachedBatches {
		st.Batches = append(st.Batches[:0], st.Batches[len(st.Batches)-maxCachedBatches:]...)
	}
}

func copyProducers(m map[int64]*producerState) map[int64]*producerState {
	out := make(map[int64]*producerState, len(m))
	for id, st := range m {
		out[id] = &producerState{Epoch: st.Epoch, Batches: append([]seqBatch(nil), st.Batches...)}
	}
	return out
}

// findBatch returns the base offset of the cached batch that h repeats, if any.
func findBatch(producers map[int64]*producerState, h record.Header) (int64, bool) {
	st := producers[h.ProducerID]
	if st == nil || st.Epoch != h.ProducerEpoch {
		return -1, false
	}
	last := h.BaseSequence + h.LastOffsetDelta
	for _, b := range st.Batches {
		if b.FirstSeq == h.BaseSequence && b.LastSeq == last {
			return b.BaseOffset, true
		}
	}
	return -1, false
}
