package replication

import (
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"

	"github.com/chronik-stream/chronik/internal/wal"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// worker owns a subset of the groups and processes them in rounds: step, gather Readys,
// store the new entries, send, apply, and hand the round's writes to its syncer (see
// syncer.go), without waiting for them to be durable.
type worker struct {
	h     *Host
	sig   chan struct{}
	ticks atomic.Int64
	sync  *syncer

	mu     sync.Mutex
	queue  []*group
	groups map[uint64]*group

	// round state
	batch    *wal.Batch // this round's WAL records, handed to the syncer
	readies  []groupReady
	restored []restoredAppend // snapshot appends whose restore finished this round
	out      map[uint64][]Message
	roundNo  uint64
}

type groupReady struct {
	g  *group
	rd raft.Ready
}

func newWorker(h *Host) *worker {
	w := &worker{h: h, sig: make(chan struct{}, 1), groups: map[uint64]*group{}, out: map[uint64][]Message{}, batch: &wal.Batch{}}
	w.sync = newSyncer(w)
	return w
}

func (w *worker) wake() {
	select {
	case w.sig <- struct{}{}:
	default:
	}
}

func (w *worker) add(g *group) {
	w.mu.Lock()
	w.groups[g.id] = g
	w.mu.Unlock()
}

func (w *worker) remove(g *group) {
	w.mu.Lock()
	delete(w.groups, g.id)
	w.mu.Unlock()
}

// enqueue is called with g.mu held and g.queued newly set.
func (w *worker) enqueue(g *group) {
	w.mu.Lock()
	w.queue = append(w.queue, g)
	w.mu.Unlock()
	w.wake()
}

func (w *worker) run() {
	for {
		select {
		case <-w.h.stop:
			return
		case <-w.sig:
		}
		w.round()
	}
}

// round processes every queued group once (and every group on a tick).
func (w *worker) round() {
	ticks := w.ticks.Swap(0)
	w.mu.Lock()
	queue := w.queue
	w.queue = nil
	var ticked []*group
	if ticks > 0 {
		ticked = make([]*group, 0, len(w.groups))
		for _, g := range w.groups {
			ticked = append(ticked, g)
		}
	}
	w.mu.Unlock()

	w.readies = w.readies[:0]
	w.roundNo++
	for _, g := range ticked {
		w.step(g, ticks)
	}
	for _, g := range queue {
		w.step(g, 0)
	}
	w.process(ticks > 0)
}

// step drains a group's inbox into its raw node, ticks it, and collects its Ready.
func (w *worker) step(g *group, ticks int64) {
	if g.round == w.roundNo {
		return // already stepped this round; its inbox waits for the next one
	}
	g.round = w.roundNo
	if g.restoring != nil {
		g.mu.Lock()
		g.queued = false // the inbox waits; the next message or the restore's end re-queues
		if !g.removed && w.finishRestore(g) {
			g.signalLocked() // step the inbox next round, after the held Ready is advanced
		}
		g.mu.Unlock()
		return
	}
	g.mu.Lock()
	props, msgs, ctrls, comps := g.props, g.msgs, g.controls, g.compacts
	g.props, g.msgs, g.controls, g.compacts = nil, nil, nil, nil
	g.queued = false
	removed := g.removed
	g.mu.Unlock()
	if removed {
		return
	}
	for i := range msgs {
		m := &msgs[i]
		if wakes(m) {
			g.wake()
		}
		_ = g.rn.Step(*m)
		if isQuiesceRequest(m) {
			g.noteQuiesceRequest(m)
		}
	}
	if len(ctrls) > 0 || len(props) > 0 {
		g.wake()
	}
	for _, f := range ctrls {
		f(g.rn)
	}
	w.propose(g, props)
	if g.quiesced.Load() && ticks > 0 && !w.leaderLive(g) {
		w.wakeLeaderless(g)
	}
	if !g.quiesced.Load() && ticks > 0 && !g.holdElection(ticks) {
		for t := ticks; t > 0; t-- {
			g.rn.Tick()
		}
		if g.leader.Load() == w.h.cfg.NodeID && g.voters > 1 {
			for _, m := range g.maybeQuiesce(ticks) {
				w.out[m.To] = append(w.out[m.To], Message{Group: g.id, Msg: m})
			}
		}
	}
	for _, c := range comps {
		w.compact(g, c)
	}
	w.collect(g)
}

// propose appends local proposals to the group's raft log. A state machine that stores
// its own payloads prepares each one first (see EntryStore.Prepare).
func (w *worker) propose(g *group, props []*proposal) {
	if len(props) == 0 {
		return
	}
	es, _ := g.sm.(EntryStore)
	if es != nil && g.rn.BasicStatus().RaftState != raft.StateLeader {
		for _, p := range props {
			g.deliver(p.id, result{err: ErrNotLeader})
		}
		return
	}
	for _, p := range props {
		data := p.data
		if es != nil {
			out, reply, done := es.Prepare(p.id, data[HeaderRoom:])
			if done {
				g.deliver(p.id, result{val: reply})
				continue
			}
			if len(out) != len(data)-HeaderRoom || (len(out) > 0 && &out[0] != &data[HeaderRoom]) {
				data = append(append(make([]byte, 0, HeaderRoom+len(out)), data[:HeaderRoom]...), out...)
			}
		}
		if err := g.rn.Propose(data); err != nil {
			if es != nil {
				es.Unprepare()
			}
			g.deliver(p.id, result{err: ErrNotLeader})
		}
	}
}

// leaderLive reports whether the node leading the group is live, as the transport sees
// it (always true without a liveness source).
func (w *worker) leaderLive(g *group) bool {
	lead := g.leader.Load()
	if lead == 0 || lead == w.h.cfg.NodeID || w.h.cfg.Live == nil {
		return lead != 0 || w.h.cfg.Live == nil
	}
	return w.h.cfg.Live(lead)
}

func (w *worker) collect(g *group) {
	if !g.rn.HasReady() {
		return
	}
	w.readies = append(w.readies, groupReady{g: g, rd: g.rn.Ready()})
}

// checkpointBytes is how many bytes of entries a group's in-memory raft log may gain
// between compactions before the group is checkpointed early: at high throughput the
// regular interval would keep seconds of data in memory.
const checkpointBytes = 64 << 20

// trackLogBytes counts the bytes appended to a group's in-memory log and starts an early
// checkpoint (in the background: it syncs files) once they pass checkpointBytes.
func (w *worker) trackLogBytes(g *group, ents []raftpb.Entry) {
	for i := range ents {
		g.logBytes += len(ents[i].Data)
	}
	if g.logBytes < checkpointBytes || !g.checkpointing.CompareAndSwap(false, true) {
		return
	}
	w.h.wg.Add(1)
	go func() {
		defer w.h.wg.Done()
		if err := g.checkpoint(); err != nil {
			w.h.cfg.Logger.Warn("checkpoint failed", "group", g.id, "err", err)
			g.checkpointing.Store(false)
		}
	}()
}

// compact snapshots the raft log at an index the state machine made durable and drops
// the entries behind it (keeping a margin for lagging followers), in memory and in the
// WAL.
func (w *worker) compact(g *group, c compaction) {
	g.logBytes = 0
	g.checkpointing.Store(false)
	snap, _ := g.storage.Snapshot()
	if c.index <= snap.Metadata.Index {
		return
	}
	if last, _ := g.storage.LastIndex(); c.index > last {
		return
	}
	if _, err := g.storage.CreateSnapshot(c.index, &g.conf, c.data); err != nil {
		return
	}
	to := c.index
	first, _ := g.storage.FirstIndex()
	if g.voters > 1 {
		to = w.retainFrom(g, c.index, first)
	}
	if to < first {
		return
	}
	term, err := g.storage.Term(to)
	if err != nil {
		return
	}
	if err := g.storage.Compact(to); err != nil {
		return
	}
	w.batch.Compact(g.id, wal.Compaction{Index: to, Term: term, ConfState: g.conf})
}

// retainBytes bounds the bytes of applied entries a multi-voter group keeps in memory
// for followers that lag a little (besides the RetainEntries count).
const retainBytes = 16 << 20

// retainFrom returns where a multi-voter group's log is compacted after a checkpoint at
// index: up to RetainEntries entries and retainBytes bytes before it are kept. A result
// below first means nothing is compacted.
func (w *worker) retainFrom(g *group, index, first uint64) uint64 {
	lo := first
	if index >= first+w.h.cfg.RetainEntries {
		lo = index - w.h.cfg.RetainEntries + 1
	}
	ents, err := g.storage.Entries(lo, index+1, math.MaxUint64)
	if err != nil {
		return first - 1
	}
	to, size := index, 0
	for i := len(ents) - 1; i >= 0; i-- {
		if size += ents[i].Size(); size > retainBytes {
			break
		}
		to--
	}
	return to
}

// process acts on the round's Readys: the new entries are stored (their payloads written
// in log order, the leader's finalised in place before they are sent), the messages raft
// may send at once are sent, the round's writes go to the syncer, and committed entries
// are applied. Compaction records of groups with nothing else to do travel with the
// round's batch and are written lazily (losing them in a crash only means replaying more).
func (w *worker) process(tick bool) {
	job := &syncJob{batch: w.batch}
	for _, ra := range w.restored {
		if err := w.storeAppend(job, ra.g, ra.msg); err != nil {
			w.failStore(ra.g, err)
			return
		}
	}
	w.restored = w.restored[:0]
	for i := range w.readies {
		r := &w.readies[i]
		for _, m := range r.rd.Messages {
			switch m.To {
			case raft.LocalAppendThread:
				if m.Snapshot != nil && !raft.IsEmptySnap(*m.Snapshot) {
					w.startRestore(r.g, m)
					continue
				}
				if err := w.storeAppend(job, r.g, m); err != nil {
					w.failStore(r.g, err)
					return
				}
			case raft.LocalApplyThread:
			default:
				w.out[m.To] = append(w.out[m.To], Message{Group: r.g.id, Msg: m})
			}
		}
	}
	w.flush()
	if job.empty() {
		w.batch.Reset()
	} else {
		w.sync.submit(job)
		w.batch = &wal.Batch{}
	}
	for i := range w.readies {
		r := &w.readies[i]
		g := r.g
		for _, m := range r.rd.Messages {
			if m.To != raft.LocalApplyThread {
				continue
			}
			w.apply(g, m.Entries)
			for _, resp := range m.Responses {
				_ = g.rn.Step(resp)
			}
		}
		if r.rd.SoftState != nil {
			w.leaderChange(g, r.rd.SoftState.Lead)
		}
		if tick {
			w.refreshStatus(g)
		}
		if g.rn.HasReady() {
			g.mu.Lock()
			g.signalLocked()
			g.mu.Unlock()
		}
	}
}

func (w *worker) failStore(g *group, err error) {
	w.h.cfg.Logger.Error("storing entries failed; stopping node replication", "group", g.id, "err", err)
	w.h.failAll(err)
}

// storeAppend stores one MsgStorageAppend's entries and adds it to the round's job: the
// WAL records (entries as the store describes them, the hard state) and what is to be
// done once they are durable.
func (w *worker) storeAppend(job *syncJob, g *group, m raftpb.Message) error {
	ents := m.Entries
	a := appendJob{g: g, msg: m}
	if es, ok := g.sm.(EntryStore); ok && len(m.Entries) > 0 {
		var err error
		if ents, err = es.Store(m.Entries); err != nil {
			return err
		}
		if !containsStore(job.stores, es) {
			job.stores = append(job.stores, es)
		}
		a.stored = g.storedReplies(es, m.Entries)
	}
	job.batch.Entries(g.id, ents)
	if hs := appendHardState(&m); !raft.IsEmptyHardState(hs) {
		job.batch.HardState(g.id, hs)
	}
	w.trackLogBytes(g, m.Entries)
	job.appends = append(job.appends, a)
	job.mustSync = job.mustSync || len(m.Responses) > 0
	return nil
}

// flush sends the gathered messages, one Send per destination node. A snapshot is
// reported as delivered once handed to the transport; if it is lost, the follower's
// rejection makes raft send it again.
func (w *worker) flush() {
	for to, msgs := range w.out {
		if len(msgs) == 0 {
			continue
		}
		if w.h.cfg.Transport != nil {
			w.h.cfg.Transport.Send(to, msgs)
		}
		for _, m := range msgs {
			if m.Msg.Type == raftpb.MsgSnap {
				if g := w.h.group(m.Group); g != nil {
					g.enqueueControl(func(rn *raft.RawNode) { rn.ReportSnapshot(m.Msg.To, raft.SnapshotFinish) })
				}
			}
		}
		w.out[to] = nil
	}
}

func (w *worker) apply(g *group, ents []raftpb.Entry) {
	for i := range ents {
		e := &ents[i]
		switch e.Type {
		case raftpb.EntryNormal:
			if len(e.Data) < 8 {
				g.sm.Apply(e.Index, nil)
				continue
			}
			id := binary.BigEndian.Uint64(e.Data)
			val := g.sm.Apply(e.Index, e.Data[8:])
			g.deliver(id, result{val: val})
		case raftpb.EntryConfChange, raftpb.EntryConfChangeV2:
			if cc, err := decodeConfChange(e); err == nil {
				g.conf = *g.rn.ApplyConfChange(cc)
				g.voters = len(g.conf.Voters)
			}
			g.sm.Apply(e.Index, nil)
		}
	}
}

// decodeConfChange decodes a configuration change entry of either version.
func decodeConfChange(e *raftpb.Entry) (raftpb.ConfChangeI, error) {
	if e.Type == raftpb.EntryConfChange {
		var cc raftpb.ConfChange
		err := cc.Unmarshal(e.Data)
		return cc, err
	}
	var cc raftpb.ConfChangeV2
	err := cc.Unmarshal(e.Data)
	return cc, err
}

// statusEvery is how many ticks apart a leader's cached raft status (its followers'
// progress, read by ISR and leadership decisions) is refreshed.
const statusEvery = 5

// refreshStatus caches the group's raft status: the full status (with progress) for a
// leader every few ticks, an empty one otherwise.
func (w *worker) refreshStatus(g *group) {
	g.statusTicks++
	leader := g.leader.Load() == w.h.cfg.NodeID
	if leader && g.statusTicks < statusEvery && g.lastStat.Progress != nil {
		return
	}
	g.statusTicks = 0
	var st raft.Status
	if leader {
		st = g.rn.Status()
	}
	g.statusMu.Lock()
	g.lastStat = st
	g.statusMu.Unlock()
}

func (w *worker) leaderChange(g *group, lead uint64) {
	was := g.leader.Swap(lead)
	g.term.Store(g.rn.BasicStatus().Term)
	if was == w.h.cfg.NodeID && lead != w.h.cfg.NodeID {
		g.failPending(ErrLeadershipLost)
	}
	if was != lead {
		g.statusTicks = statusEvery // refresh the cached status at once
		w.refreshStatus(g)
	}
	if was != lead && w.h.cfg.OnLeaderChange != nil {
		w.h.cfg.OnLeaderChange(g.id, lead, g.term.Load())
	}
}

// failAll fails every pending proposal after a fatal storage error.
func (h *Host) failAll(err error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, g := range h.groups {
		g.failPending(err)
	}
}
