package replication

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/chronik-stream/chronik/internal/wal"
	"go.etcd.io/raft/v3"
)

// A snapshot from the leader can take long to restore (the partition copies the data it
// lacks from the leader), so it runs beside the worker: the group's Ready is held, and
// the group is skipped by its worker's rounds until the state machine has restored. Its
// worker's other groups go on meanwhile. Raft needs nothing else from the group before the
// Ready is persisted and advanced, and messages for it wait in its inbox.

// restoreJob is a snapshot restore under way; the Ready that carried the snapshot waits
// in it.
type restoreJob struct {
	rd   raft.Ready
	done atomic.Bool
}

// startRestore hands the snapshot of rd to the state machine in the background.
func (w *worker) startRestore(g *group, rd raft.Ready) {
	job := &restoreJob{rd: rd}
	g.restoring = job
	ctx, cancel := context.WithCancel(w.h.ctx)
	g.mu.Lock()
	g.restoreCancel = cancel
	if g.removed {
		cancel()
	}
	g.mu.Unlock()
	w.h.wg.Add(1)
	go func() {
		defer w.h.wg.Done()
		defer cancel()
		if w.restore(ctx, g, rd) {
			job.done.Store(true)
			g.mu.Lock()
			g.signalLocked()
			g.mu.Unlock()
		}
	}()
}

// restore runs the state machine's Restore until it succeeds (true), or until ctx ends:
// the host stops or the group is removed (false). Raft offers no way to refuse a
// snapshot, so a failed restore (the leader unreachable while data is copied) is retried.
func (w *worker) restore(ctx context.Context, g *group, rd raft.Ready) bool {
	md := rd.Snapshot.Metadata
	backoff := 100 * time.Millisecond
	start := time.Now()
	for {
		err := g.sm.Restore(ctx, md.Index, rd.Snapshot.Data)
		if err == nil {
			w.h.cfg.Logger.Info("caught up from a snapshot", "group", g.id, "index", md.Index, "took", time.Since(start).Round(time.Millisecond))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		w.h.cfg.Logger.Warn("snapshot restore failed; retrying", "group", g.id, "index", md.Index, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// finishRestore takes back a group whose restore is done: its held Ready joins this
// round, after the WAL's record of the new compaction point (written only now, so that
// a crash during the restore leaves the old, consistent state). It reports false while
// the restore is still running.
func (w *worker) finishRestore(g *group) bool {
	job := g.restoring
	if !job.done.Load() {
		return false
	}
	g.restoring = nil
	md := job.rd.Snapshot.Metadata
	w.batch.Compact(g.id, wal.Compaction{Index: md.Index, Term: md.Term, ConfState: md.ConfState})
	w.readies = append(w.readies, groupReady{g: g, rd: job.rd})
	return true
}
