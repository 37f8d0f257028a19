package kafka

import (
	"sync/atomic"
	"time"
)

// durationBounds are the upper bounds, in seconds, of the request duration histogram's
// buckets (a last, unbounded bucket holds the rest).
var durationBounds = [...]float64{0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// RequestDurationBounds are durationBounds for exporters (not to be modified).
var RequestDurationBounds = durationBounds[:]

// durationHist counts request durations into durationBounds' buckets; safe for
// concurrent use.
type durationHist struct {
	counts  [len(durationBounds) + 1]atomic.Uint64
	sumNano atomic.Uint64
}

func (h *durationHist) add(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(RequestDurationBounds) && s > RequestDurationBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNano.Add(uint64(max(d, 0)))
}

// DurationHistogram is a snapshot of one API key's request durations, in the shape
// Prometheus histograms take: Cumulative[i] counts the requests that took at most
// RequestDurationBounds[i] seconds, Count all of them.
type DurationHistogram struct {
	Count      uint64
	Sum        time.Duration
	Cumulative []uint64
}

func (h *durationHist) snapshot() DurationHistogram {
	out := DurationHistogram{Sum: time.Duration(h.sumNano.Load()), Cumulative: make([]uint64, len(RequestDurationBounds))}
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
		if i < len(out.Cumulative) {
			out.Cumulative[i] = n
		}
	}
	out.Count = n
	return out
}
