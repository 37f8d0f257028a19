package replication

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/chronik-stream/chronik/internal/wal"
	"go.etcd.io/raft/v3/raftpb"
)

// A snapshot from the leader can take long to restore (the partition copies the data it
// lacks from the leader), so it runs beside the worker: the MsgStorageAppend that carries
// it is held, and the group is skipped by its worker's rounds until the state machine has
// restored. Its worker's other groups go on meanwhile. Raft needs nothing else from the
// group before that append is persisted and acknowledged, and messages for it wait in its
// inbox.

// restoreJob is a snapshot restore under way; the append that carried the snapshot waits
// in it.
type restoreJob struct {
	msg  raftpb.Message
	done atomic.Bool
}

// restoredAppend is a held snapshot append whose restore is done, to be stored and synced
// in the round that took it back.
type restoredAppend struct {
	g   *group
	msg raftpb.Message
}

// startRestore hands the snapshot of m (a MsgStorageAppend) to the state machine in the
// background.
func (w *worker) startRestore(g *group, m raftpb.Message) {
	job := &restoreJob{msg: m}
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
		if w.restore(ctx, g, *m.Snapshot) {
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
func (w *worker) restore(ctx context.Context, g *group, snap raftpb.Snapshot) bool {
	md := snap.Metadata
	backoff := 100 * time.Millisecond
	start := time.Now()
	for {
		err := g.sm.Restore(ctx, md.Index, snap.Data)
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

// finishRestore takes back a group whose restore is done: its held append joins this
// round, after the WAL's record of the new compaction point (written only now, so that
// a crash during the restore leaves the old, consistent state). It reports false while
// the restore is still running.
func (w *worker) finishRestore(g *group) bool {
	job := g.restoring
	if !job.done.Load() {
		return false
	}
	g.restoring = nil
	md := job.msg.Snapshot.Metadata
	g.conf = md.ConfState
	w.batch.Compact(g.id, wal.Compaction{Index: md.Index, Term: md.Term, ConfState: md.ConfState})
	w.restored = append(w.restored, restoredAppend{g: g, msg: job.msg})
	return true
}
