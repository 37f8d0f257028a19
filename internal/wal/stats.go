package wal

import (
	"sync/atomic"
	"time"
)

// SlowSync is the fsync duration above which a sync counts as slow.
const SlowSync = 20 * time.Millisecond

// syncStats counts the WAL's group commits (fsyncs).
type syncStats struct {
	syncs, slow, bytes atomic.Uint64
	nanos, maxNanos    atomic.Int64
}

func (s *syncStats) record(d time.Duration, n int) {
	s.syncs.Add(1)
	s.bytes.Add(uint64(n))
	s.nanos.Add(int64(d))
	if d > SlowSync {
		s.slow.Add(1)
	}
	for {
		m := s.maxNanos.Load()
		if int64(d) <= m || s.maxNanos.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Stats describes the WAL's group commits since it was opened.
type Stats struct {
	Syncs     uint64        // fsyncs done
	SlowSyncs uint64        // fsyncs that took longer than SlowSync
	Bytes     uint64        // bytes written with those fsyncs
	SyncTime  time.Duration // total time in fsync
	MaxSync   time.Duration // longest fsync
}

// Stats returns the group-commit counters.
func (w *WAL) Stats() Stats {
	return Stats{Syncs: w.stats.syncs.Load(), SlowSyncs: w.stats.slow.Load(), Bytes: w.stats.bytes.Load(),
		SyncTime: time.Duration(w.stats.nanos.Load()), MaxSync: time.Duration(w.stats.maxNanos.Load())}
}
