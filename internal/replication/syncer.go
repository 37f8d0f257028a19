package replication

import (
	"sync"

	"github.com/chronik-stream/chronik/internal/wal"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Raft runs with AsyncStorageWrites: a worker does not wait for its round's writes to
// become durable. It stores the round's entries (their payloads go to the groups' stores,
// in log order), sends what raft lets it send at once, applies what is committed, and
// hands the WAL records and the stores to its syncer, which makes them durable with one
// group commit and only then appends the entries to the groups' raft storage and delivers
// the responses raft attached to them (the node's own acknowledgement, a follower's
// MsgAppResp, a vote). Meanwhile the worker goes on with the next round, so the
// acknowledgements of other replicas commit entries without waiting for this node's sync
// (this node applies them once its own sync is done: raft hands out only stable entries
// to apply when storage writes are asynchronous), and the next writes are stored while
// the previous sync is in flight.

// appendJob is one group's MsgStorageAppend, stored by the worker, waiting for its sync.
type appendJob struct {
	g   *group
	msg raftpb.Message // Entries as raft appends them, the HardState fields, Snapshot, Responses
	// stored are the results for SubmitLocal proposals among the entries, delivered
	// once the entries are durable here.
	stored []storedReply
}

type storedReply struct {
	id  uint64
	val any
}

// syncJob is what one round hands to the syncer.
type syncJob struct {
	batch    *wal.Batch
	stores   []EntryStore
	appends  []appendJob
	mustSync bool // some response waits for durability
}

func (j *syncJob) empty() bool { return j.batch.Empty() && len(j.appends) == 0 }

// syncer makes a worker's rounds durable in order, merging the rounds queued while a
// sync is in flight into the next one.
type syncer struct {
	w     *worker
	mu    sync.Mutex
	queue []*syncJob
	sig   chan struct{}
}

func newSyncer(w *worker) *syncer { return &syncer{w: w, sig: make(chan struct{}, 1)} }

func (s *syncer) submit(j *syncJob) {
	s.mu.Lock()
	s.queue = append(s.queue, j)
	s.mu.Unlock()
	select {
	case s.sig <- struct{}{}:
	default:
	}
}

// take waits for queued jobs; nil when the host stops.
func (s *syncer) take() []*syncJob {
	for {
		s.mu.Lock()
		jobs := s.queue
		s.queue = nil
		s.mu.Unlock()
		if len(jobs) > 0 {
			return jobs
		}
		select {
		case <-s.w.h.stop:
			return nil
		case <-s.sig:
		}
	}
}

func (s *syncer) run() {
	for {
		jobs := s.take()
		if jobs == nil {
			return
		}
		if err := s.commit(jobs); err != nil {
			s.w.h.cfg.Logger.Error("wal commit failed; stopping node replication", "err", err)
			s.w.h.failAll(err)
			continue
		}
		s.finish(jobs)
	}
}

// commit writes the jobs' WAL records in order, syncing once at the end when a response
// needs it, while the touched stores sync in parallel.
func (s *syncer) commit(jobs []*syncJob) error {
	var stores []EntryStore
	mustSync := false
	for _, j := range jobs {
		mustSync = mustSync || j.mustSync
		for _, es := range j.stores {
			if !containsStore(stores, es) {
				stores = append(stores, es)
			}
		}
	}
	if !mustSync {
		stores = nil // nothing waits for durability: the stores sync with a later commit
	}
	wl := s.w.h.cfg.WAL
	return syncStores(stores, func() error {
		for i, j := range jobs {
			var err error
			if mustSync && i == len(jobs)-1 {
				err = wl.Commit(j.batch)
			} else {
				err = wl.CommitLazy(j.batch)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func containsStore(stores []EntryStore, es EntryStore) bool {
	for _, s := range stores {
		if s == es {
			return true
		}
	}
	return false
}

// finish appends the durable entries to the groups' raft storage and delivers what waited
// for them: local results (acks=1), the responses to raft on this node (through the
// group's inbox, for its worker to step) and to other nodes.
func (s *syncer) finish(jobs []*syncJob) {
	h := s.w.h
	out := map[uint64][]Message{}
	for _, j := range jobs {
		for _, a := range j.appends {
			g, m := a.g, &a.msg
			if m.Snapshot != nil && !raft.IsEmptySnap(*m.Snapshot) {
				_ = g.storage.ApplySnapshot(*m.Snapshot)
			}
			_ = g.storage.Append(m.Entries)
			if hs := appendHardState(m); !raft.IsEmptyHardState(hs) {
				_ = g.storage.SetHardState(hs)
			}
			for _, r := range a.stored {
				g.deliver(r.id, result{val: r.val})
			}
			for _, resp := range m.Responses {
				if resp.To == h.cfg.NodeID {
					g.enqueueMessage(resp)
					continue
				}
				out[resp.To] = append(out[resp.To], Message{Group: g.id, Msg: resp})
			}
		}
	}
	if h.cfg.Transport != nil {
		for to, msgs := range out {
			h.cfg.Transport.Send(to, msgs)
		}
	}
}

// appendHardState is the HardState a MsgStorageAppend carries (empty when it has none).
func appendHardState(m *raftpb.Message) raftpb.HardState {
	return raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
}
