// Package replication is the multi-raft host: it runs many raft groups (one per
// partition plus the controller) on a fixed pool of workers. A worker steps its groups,
// gathers their Readys, writes them with one node-WAL commit (one fsync shared by all
// groups and workers), sends the messages batched per peer node, then applies committed
// entries. One ticker drives every group.
package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-stream/chronik/internal/wal"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Errors returned by Propose.
var (
	// ErrNotLeader: this node does not lead the group; the proposal was not accepted.
	ErrNotLeader = errors.New("not the leader of the group")
	// ErrLeadershipLost: the proposal was accepted but leadership moved before it was
	// applied here; it may or may not commit.
	ErrLeadershipLost = errors.New("leadership lost before the proposal was applied")
	// ErrUnknownGroup: no such group on this node.
	ErrUnknownGroup = errors.New("unknown raft group")
	// ErrStopped: the host is shutting down.
	ErrStopped = errors.New("replication host stopped")
)

// Message is a raft message of one group, as carried by a Transport.
type Message struct {
	Group uint64
	Msg   raftpb.Message
}

// Transport carries raft messages between nodes.
type Transport interface {
	// Send hands messages for node `to` to the network. It must not block on the network:
	// it queues or drops (raft retries). The host does not reuse msgs after the call.
	Send(to uint64, msgs []Message)
}

// StateMachine is the replicated state of one group. The host never calls Apply and
// Restore concurrently: Apply from the group's worker, Restore from a goroutine of its own
// while the worker leaves the group alone. Checkpoint may be called from another
// goroutine, so implementations lock what Apply, Restore and Checkpoint share.
type StateMachine interface {
	// Applied is the index of the last entry whose effect is durable in the state (the
	// state machine recovered it on open); the host re-delivers entries after it.
	Applied() uint64
	// Apply applies one committed entry in log order. data is the proposer's payload, or
	// nil for raft's own empty entries (which still advance the applied index). The
	// returned value goes to the local proposer of the entry, if any.
	Apply(index uint64, data []byte) any
	// Checkpoint makes every applied entry durable and returns the index covered and a
	// snapshot of the state at that index, which Restore on another replica accepts.
	Checkpoint() (index uint64, snapshot []byte, err error)
	// Restore replaces the state with the snapshot taken at index by the leader (this
	// replica fell behind the leader's log). Durable on return. ctx ends when the host
	// stops or the group is removed; the host retries a failed Restore until then.
	Restore(ctx context.Context, index uint64, snapshot []byte) error
}

// Config configures a Host.
type Config struct {
	NodeID    uint64
	WAL       *wal.WAL
	Transport Transport // nil for a single node
	Workers   int       // 0: GOMAXPROCS
	// Tick is the period of the one ticker; ElectionTicks and HeartbeatTicks are raft's
	// timeouts in ticks.
	Tick           time.Duration
	ElectionTicks  int
	HeartbeatTicks int
	// CheckpointEvery is how often state machines are checkpointed and logs compacted.
	CheckpointEvery time.Duration
	// RetainEntries is how many applied entries a multi-voter group keeps in memory past
	// its checkpoint for followers that lag a little.
	RetainEntries uint64
	Logger        *slog.Logger
	// OnLeaderChange, when set, is called from the worker after a group's leader changes.
	OnLeaderChange func(group, leader, term uint64)
	// Live, when set, tells whether a node is reachable; a quiesced group whose leader's
	// node is not wakes up (see quiesce.go).
	Live func(node uint64) bool
}

// Host runs raft groups.
type Host struct {
	cfg       Config
	recovered map[uint64]*wal.GroupState
	workers   []*worker
	propSeq   atomic.Uint64

	mu     sync.RWMutex
	groups map[uint64]*group

	stop    chan struct{}
	ctx     context.Context // ends at Stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped atomic.Bool
}

// NewHost creates a host over a WAL and the group states recovered from it.
func NewHost(cfg Config, recovered map[uint64]*wal.GroupState) *Host {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.ElectionTicks <= 0 {
		cfg.ElectionTicks = 10
	}
	if cfg.HeartbeatTicks <= 0 {
		cfg.HeartbeatTicks = 1
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 5 * time.Second
	}
	if cfg.RetainEntries == 0 {
		cfg.RetainEntries = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if recovered == nil {
		recovered = map[uint64]*wal.GroupState{}
	}
	h := &Host{cfg: cfg, recovered: recovered, groups: map[uint64]*group{}, stop: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.propSeq.Store(rand.Uint64() >> 1)
	for i := 0; i < cfg.Workers; i++ {
		h.workers = append(h.workers, newWorker(h))
	}
	return h
}

// Start runs the workers, the ticker and the checkpointer.
func (h *Host) Start() {
	for _, w := range h.workers {
		h.wg.Add(2)
		go func() { defer h.wg.Done(); w.run() }()
		go func() { defer h.wg.Done(); w.sync.run() }()
	}
	h.wg.Add(2)
	go func() { defer h.wg.Done(); h.tickLoop() }()
	go func() { defer h.wg.Done(); h.checkpointLoop() }()
}

// Stop stops every goroutine and fails pending proposals. It does not close the WAL.
func (h *Host) Stop() {
	if h.stopped.Swap(true) {
		return
	}
	close(h.stop)
	h.cancel()
	h.wg.Wait()
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, g := range h.groups {
		g.failPending(ErrStopped)
	}
}

// RecoveredGroups lists the groups the WAL held when the host was created and not yet
// added back: the caller decides which to re-add and which to remove.
func (h *Host) RecoveredGroups() []uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var ids []uint64
	for id := range h.recovered {
		if _, ok := h.groups[id]; !ok {
			ids = append(ids, id)
		}
	}
	return ids
}

func (h *Host) tickLoop() {
	h.every(h.cfg.Tick, func() {
		for _, w := range h.workers {
			w.ticks.Add(1)
			w.wake()
		}
	})
}

func (h *Host) checkpointLoop() { h.every(h.cfg.CheckpointEvery, h.CheckpointAll) }

// every runs f every d until the host stops.
func (h *Host) every(d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			f()
		}
	}
}

// CheckpointAll checkpoints every group's state machine and compacts its raft log and
// the WAL up to the checkpoint.
func (h *Host) CheckpointAll() {
	h.mu.RLock()
	gs := make([]*group, 0, len(h.groups))
	for _, g := range h.groups {
		gs = append(gs, g)
	}
	h.mu.RUnlock()
	for _, g := range gs {
		if err := g.checkpoint(); err != nil {
			h.cfg.Logger.Warn("checkpoint failed", "group", g.id, "err", err)
		}
	}
}

func (h *Host) group(id uint64) *group {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.groups[id]
}

// HeaderRoom is how many leading bytes of a proposal's data the host owns: callers
// allocate them in front of their payload so the host can tag the proposal without a copy.
const HeaderRoom = 8

// Propose replicates data[HeaderRoom:] through the group and returns the state machine's
// result of applying it, once applied on this node. The host overwrites
// data[:HeaderRoom] and keeps data; the caller must not modify it afterwards. Errors:
// ErrNotLeader (rejected, safe to retry elsewhere), ErrLeadershipLost (outcome unknown),
// ctx's error, ErrUnknownGroup, ErrStopped.
func (h *Host) Propose(ctx context.Context, id uint64, data []byte) (any, error) {
	p, err := h.Submit(id, data)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is a submitted proposal.
type Pending struct {
	g *group
	p *proposal
}

// Submit queues a proposal (see Propose for data's contract) and returns at once.
// Proposals submitted to a group are appended to its log in submission order.
func (h *Host) Submit(id uint64, data []byte) (*Pending, error) { return h.submit(id, data, false) }

// SubmitLocal is Submit for a proposal whose waiter wants its result once the entry is
// durable on this node (the leader), before it commits: when the group's state machine is
// an EntryStore that offers a result at that point (see EntryStore.StoredResult), Wait
// returns it then; otherwise Wait returns the applied result as for Submit. The entry
// may still be lost if this node fails before the others have it.
func (h *Host) SubmitLocal(id uint64, data []byte) (*Pending, error) {
	return h.submit(id, data, true)
}

func (h *Host) submit(id uint64, data []byte, local bool) (*Pending, error) {
	if len(data) < HeaderRoom {
		return nil, fmt.Errorf("proposal of %d bytes has no header room", len(data))
	}
	g := h.group(id)
	if g == nil {
		return nil, ErrUnknownGroup
	}
	if h.stopped.Load() {
		return nil, ErrStopped
	}
	if g.leader.Load() != h.cfg.NodeID {
		return nil, ErrNotLeader
	}
	p := &proposal{id: h.propSeq.Add(1), data: data, done: make(chan result, 1), local: local}
	putPropID(p.data, p.id)
	g.enqueueProposal(p)
	return &Pending{g: g, p: p}, nil
}

// Wait returns the proposal's result once applied here (see Propose for the errors).
// When ctx ends first the proposal is forgotten (it may still commit).
func (p *Pending) Wait(ctx context.Context) (any, error) {
	select {
	case r := <-p.p.done:
		return r.val, r.err
	case <-ctx.Done():
		p.g.forget(p.p.id)
		return nil, ctx.Err()
	}
}

// Leader returns the group's current leader (0 if unknown) and term.
func (h *Host) Leader(id uint64) (leader, term uint64, err error) {
	g := h.group(id)
	if g == nil {
		return 0, 0, ErrUnknownGroup
	}
	return g.leader.Load(), g.term.Load(), nil
}

// Status returns raft's status of the group (progress of followers when leader).
func (h *Host) Status(id uint64) (raft.Status, error) {
	g := h.group(id)
	if g == nil {
		return raft.Status{}, ErrUnknownGroup
	}
	return g.status(), nil
}

// Handle delivers messages received from node `from` to their groups.
func (h *Host) Handle(from uint64, msgs []Message) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for i := range msgs {
		if g := h.groups[msgs[i].Group]; g != nil {
			g.enqueueMessage(msgs[i].Msg)
		}
	}
}

// TransferLeadership asks the group's leader (this node) to hand leadership to `to`.
func (h *Host) TransferLeadership(id, to uint64) error {
	g := h.group(id)
	if g == nil {
		return ErrUnknownGroup
	}
	g.enqueueControl(func(rn *raft.RawNode) { rn.TransferLeader(to) })
	return nil
}

// DelayElection keeps this replica of a group that has no leader yet from ticking, and
// so from standing for election, for the next `elections` election timeouts, unless a
// leader appears first (it still answers vote requests). A new partition's other replicas
// use it so that its preferred replica, which campaigns at once, wins the first election
// even on a loaded node, and no leadership move is needed later.
func (h *Host) DelayElection(id uint64, elections int) {
	if g := h.group(id); g != nil {
		g.holdTicks.Store(int64(elections * h.cfg.ElectionTicks))
	}
}

// holdElection reports whether the group skips these ticks (see DelayElection).
func (g *group) holdElection(ticks int64) bool {
	if g.holdTicks.Load() <= 0 {
		return false
	}
	if g.leader.Load() != 0 {
		g.holdTicks.Store(0)
		return false
	}
	g.holdTicks.Add(-ticks)
	return true
}

// Campaign makes this node stand for election in the group now.
func (h *Host) Campaign(id uint64) {
	if g := h.group(id); g != nil {
		g.enqueueControl(func(rn *raft.RawNode) { _ = rn.Campaign() })
	}
}

// Groups lists the ids of the groups on this node.
func (h *Host) Groups() []uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ids := make([]uint64, 0, len(h.groups))
	for id := range h.groups {
		ids = append(ids, id)
	}
	return ids
}

func (h *Host) String() string { return fmt.Sprintf("host(node %d)", h.cfg.NodeID) }
