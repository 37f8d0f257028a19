package replication

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/chronik-stream/chronik/internal/wal"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// proposal is a local proposal waiting to be applied.
type proposal struct {
	id    uint64
	data  []byte // 8-byte proposal id + payload
	done  chan result
	local bool // answered once durable here if the state machine can (SubmitLocal)
}

type result struct {
	val any
	err error
}

func putPropID(b []byte, id uint64) { binary.BigEndian.PutUint64(b, id) }

// group is one raft group on this node. The raw node, storage and state machine are used
// only by the group's worker; the inbox is shared with the producers of work.
type group struct {
	id      uint64
	host    *Host
	w       *worker
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	sm      StateMachine
	voters  int

	leader atomic.Uint64
	term   atomic.Uint64

	mu       sync.Mutex // guards the inbox and queued
	props    []*proposal
	msgs     []raftpb.Message
	controls []func(*raft.RawNode)
	compacts []compaction
	queued   bool
	removed  bool
	// restoreCancel ends the context of a snapshot restore under way (restore.go).
	restoreCancel context.CancelFunc

	pmu          sync.Mutex
	pending      map[uint64]*proposal
	localPending int // proposals in pending with local set

	// statusMu guards cached status read by other goroutines.
	statusMu      sync.Mutex
	lastStat      raft.Status
	conf          raftpb.ConfState // worker only
	round         uint64           // worker only: the last round that stepped the group
	statusTicks   int              // worker only: ticks since the cached status was refreshed
	quiesced      atomic.Bool      // the group does not tick (see quiesce.go); written by the worker
	idleTicks     int              // worker only: leader ticks without a proposal
	logBytes      int              // worker only: entry bytes appended since the last compaction
	holdTicks     atomic.Int64     // ticks left during which a leaderless replica does not tick (DelayElection)
	checkpointing atomic.Bool      // an early checkpoint (see trackLogBytes) is under way
	restoring     *restoreJob      // worker only: a snapshot restore under way (restore.go)
}

// compaction asks the worker to snapshot and compact the raft log at an index the state
// machine has made durable.
type compaction struct {
	index uint64
	data  []byte
}

// AddGroup starts this node's replica of group id. voters are the node ids of the
// group's replicas; they are used only when the group is new on this node (its state is
// otherwise recovered from the WAL). The state machine's Applied index tells raft where
// to resume applying.
func (h *Host) AddGroup(id uint64, voters []uint64, sm StateMachine) error {
	h.mu.Lock()
	if _, ok := h.groups[id]; ok {
		h.mu.Unlock()
		return fmt.Errorf("raft group %d already exists", id)
	}
	h.mu.Unlock()

	storage := raft.NewMemoryStorage()
	applied := sm.Applied()
	if applied < 1 {
		applied = 1 // index 1 is the bootstrap snapshot every group starts from
	}
	rec := h.recovered[id]
	var b wal.Batch
	var conf raftpb.ConfState
	if es, ok := sm.(EntryStore); ok && rec == nil {
		if _, err := es.Load(nil); err != nil { // drops whatever it stored past Applied
			return fmt.Errorf("raft group %d: %w", id, err)
		}
	}
	if rec == nil {
		// A new group starts from a snapshot at index 1 that holds only its configuration,
		// the same on every replica, so no bootstrap entries are needed.
		conf = raftpb.ConfState{Voters: append([]uint64(nil), voters...)}
		snap := raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 1, Term: 1, ConfState: conf}}
		if err := storage.ApplySnapshot(snap); err != nil {
			return err
		}
		b.Compact(id, wal.Compaction{Index: 1, Term: 1, ConfState: conf})
		if err := h.cfg.WAL.Commit(&b); err != nil {
			return err
		}
	} else {
		conf = rec.Compaction.ConfState
		if applied < rec.Compaction.Index {
			return fmt.Errorf("raft group %d: state machine is at index %d but the WAL was compacted to %d", id, applied, rec.Compaction.Index)
		}
		if err := restoreStorage(storage, rec, applied, sm); err != nil {
			return fmt.Errorf("raft group %d: %w", id, err)
		}
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        h.cfg.NodeID,
		ElectionTick:              h.cfg.ElectionTicks,
		HeartbeatTick:             h.cfg.HeartbeatTicks,
		Storage:                   storage,
		Applied:                   applied,
		MaxSizePerMsg:             1 << 20,
		MaxCommittedSizePerReady:  16 << 20,
		MaxUncommittedEntriesSize: 256 << 20,
		MaxInflightMsgs:           256,
		CheckQuorum:               true,
		AsyncStorageWrites:        true,
		PreVote:                   true,
		DisableProposalForwarding: true,
		Logger:                    raftLogger{h.cfg.Logger},
	})
	if err != nil {
		return fmt.Errorf("raft group %d: %w", id, err)
	}
	g := &group{id: id, host: h, rn: rn, storage: storage, sm: sm, conf: conf, voters: len(conf.Voters), pending: map[uint64]*proposal{}}
	g.w = h.workers[id%uint64(len(h.workers))]
	h.mu.Lock()
	if _, ok := h.groups[id]; ok {
		h.mu.Unlock()
		return fmt.Errorf("raft group %d already exists", id)
	}
	h.groups[id] = g
	delete(h.recovered, id)
	h.mu.Unlock()
	g.w.add(g)
	if len(conf.Voters) == 1 && conf.Voters[0] == h.cfg.NodeID {
		// A single voter need not wait an election timeout.
		g.enqueueControl(func(rn *raft.RawNode) { _ = rn.Campaign() })
	}
	return nil
}

// restoreStorage rebuilds a group's raft storage from its WAL state, with a snapshot
// carrying the state machine's checkpoint so lagging followers can be caught up.
func restoreStorage(storage *raft.MemoryStorage, rec *wal.GroupState, applied uint64, sm StateMachine) error {
	cpIndex, cpData, err := sm.Checkpoint()
	if err != nil {
		return fmt.Errorf("checkpoint at start: %w", err)
	}
	if es, ok := sm.(EntryStore); ok {
		return restoreStored(storage, rec, applied, es, cpIndex, cpData)
	}
	snap := raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: rec.Compaction.Index, Term: rec.Compaction.Term, ConfState: rec.Compaction.ConfState}}
	if cpIndex == rec.Compaction.Index {
		snap.Data = cpData
	}
	if err := storage.ApplySnapshot(snap); err != nil {
		return err
	}
	if err := storage.Append(rec.Entries); err != nil {
		return err
	}
	last, _ := storage.LastIndex()
	if applied > last {
		return fmt.Errorf("state machine is at index %d, past the WAL's last entry %d", applied, last)
	}
	if cpIndex > rec.Compaction.Index && cpIndex <= last {
		cs := rec.Compaction.ConfState
		if _, err := storage.CreateSnapshot(cpIndex, &cs, cpData); err != nil {
			return err
		}
	}
	hs := rec.HardState
	if hs.Commit < applied {
		hs.Commit = applied // applied entries were committed; the commit index was written lazily
	}
	if hs.Commit < rec.Compaction.Index {
		hs.Commit = rec.Compaction.Index
	}
	return storage.SetHardState(hs)
}

// restoreStored rebuilds the raft storage of a group whose state machine stores its own
// payloads: from a snapshot at the state machine's applied index (its checkpoint), with
// the entries after it as far as the store could load them. Entries lost with a store
// write that never reached the disk were never acknowledged; raft fetches them again.
func restoreStored(storage *raft.MemoryStorage, rec *wal.GroupState, applied uint64, es EntryStore, cpIndex uint64, cpData []byte) error {
	term := rec.Compaction.Term
	var after []raftpb.Entry
	for i, e := range rec.Entries {
		if e.Index == applied {
			term = e.Term
		}
		if e.Index > applied {
			after = rec.Entries[i:]
			break
		}
	}
	last := rec.Compaction.Index
	if n := len(rec.Entries); n > 0 {
		last = rec.Entries[n-1].Index
	}
	if applied > last {
		return fmt.Errorf("state machine is at index %d, past the WAL's last entry %d", applied, last)
	}
	n, err := es.Load(after)
	if err != nil {
		return err
	}
	after = after[:n]
	snap := raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: applied, Term: term, ConfState: rec.Compaction.ConfState}}
	if cpIndex == applied {
		snap.Data = cpData
	}
	if err := storage.ApplySnapshot(snap); err != nil {
		return err
	}
	if err := storage.Append(after); err != nil {
		return err
	}
	hs := rec.HardState
	last, _ = storage.LastIndex()
	hs.Commit = min(max(hs.Commit, applied), last)
	return storage.SetHardState(hs)
}

// RemoveGroup stops the local replica of a group and records its removal in the WAL.
// Pending proposals fail with ErrUnknownGroup.
func (h *Host) RemoveGroup(id uint64) error {
	h.mu.Lock()
	g := h.groups[id]
	delete(h.groups, id)
	delete(h.recovered, id)
	h.mu.Unlock()
	if g != nil {
		g.mu.Lock()
		g.removed = true
		if g.restoreCancel != nil {
			g.restoreCancel()
		}
		g.mu.Unlock()
		g.w.remove(g)
		g.failPending(ErrUnknownGroup)
	}
	var b wal.Batch
	b.Remove(id)
	return h.cfg.WAL.Commit(&b)
}

// signal puts the group on its worker's queue.
func (g *group) signalLocked() {
	if !g.queued && !g.removed {
		g.queued = true
		g.w.enqueue(g)
	}
}

func (g *group) enqueueProposal(p *proposal) {
	g.pmu.Lock()
	g.pending[p.id] = p
	if p.local {
		g.localPending++
	}
	g.pmu.Unlock()
	g.mu.Lock()
	g.props = append(g.props, p)
	g.signalLocked()
	g.mu.Unlock()
}

func (g *group) enqueueMessage(m raftpb.Message) {
	g.mu.Lock()
	g.msgs = append(g.msgs, m)
	g.signalLocked()
	g.mu.Unlock()
}

func (g *group) enqueueControl(f func(*raft.RawNode)) {
	g.mu.Lock()
	g.controls = append(g.controls, f)
	g.signalLocked()
	g.mu.Unlock()
}

// forget drops a pending proposal whose proposer gave up.
func (g *group) forget(id uint64) { g.take(id) }

// take removes and returns a pending proposal (nil if there is none).
func (g *group) take(id uint64) *proposal {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	p := g.pending[id]
	if p != nil {
		delete(g.pending, id)
		if p.local {
			g.localPending--
		}
	}
	return p
}

// deliver hands a result to the local proposer of an applied entry, if any.
func (g *group) deliver(id uint64, r result) {
	if p := g.take(id); p != nil {
		p.done <- r
	}
}

// storedReplies returns the results for the SubmitLocal proposals among entries just
// stored, to be delivered once they are durable here: the result the state machine gives
// for a stored entry.
func (g *group) storedReplies(es EntryStore, ents []raftpb.Entry) []storedReply {
	g.pmu.Lock()
	n := g.localPending
	g.pmu.Unlock()
	if n == 0 {
		return nil
	}
	var out []storedReply
	for i := range ents {
		id := ProposalID(ents[i].Data)
		g.pmu.Lock()
		p := g.pending[id]
		g.pmu.Unlock()
		if p == nil || !p.local {
			continue
		}
		if v, ok := es.StoredResult(ents[i]); ok {
			out = append(out, storedReply{id: id, val: v})
		}
	}
	return out
}

func (g *group) failPending(err error) {
	g.pmu.Lock()
	ps := g.pending
	g.pending = map[uint64]*proposal{}
	g.localPending = 0
	g.pmu.Unlock()
	for _, p := range ps {
		p.done <- result{err: err}
	}
}

func (g *group) status() raft.Status {
	g.statusMu.Lock()
	defer g.statusMu.Unlock()
	return g.lastStat
}

// checkpoint runs on the checkpointer: the state machine makes its state durable, then
// the worker snapshots and compacts the raft log behind it.
func (g *group) checkpoint() error {
	idx, data, err := g.sm.Checkpoint()
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.compacts = append(g.compacts, compaction{index: idx, data: data})
	g.signalLocked()
	g.mu.Unlock()
	return nil
}
