package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a lock-free log-linear latency histogram: every power of two of nanoseconds is
// split into subBuckets linear buckets, so a recorded value is off by less than
// 1/subBuckets (under 1%). It is safe for concurrent add and costs 64 KiB.
type hist struct {
	counts [64 * subBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const subBits = 7
const subBuckets = 1 << subBits

func bucketOf(ns uint64) int {
	if ns < subBuckets {
		return int(ns)
	}
	e := bits.Len64(ns) - subBits // >= 1
	return e*subBuckets + int(ns>>(e-1)) - subBuckets
}

// bucketValue is the upper bound (inclusive) of a bucket's range, in nanoseconds.
func bucketValue(b int) uint64 {
	if b < subBuckets {
		return uint64(b)
	}
	e := b / subBuckets
	m := uint64(b%subBuckets + subBuckets)
	return (m+1)<<(e-1) - 1
}

func (h *hist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// count is the number of recorded values.
func (h *hist) count() uint64 { return h.n.Load() }

// quantile returns the value below or at which a fraction q of the recorded values lie
// (0 when nothing was recorded).
func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var seen uint64
	for b := range h.counts {
		seen += h.counts[b].Load()
		if seen >= rank {
			v := time.Duration(bucketValue(b))
			if m := time.Duration(h.max.Load()); v > m {
				v = m
			}
			return v
		}
	}
	return time.Duration(h.max.Load())
}
