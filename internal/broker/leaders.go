package broker

import (
	"context"
	"sync"
	"time"

	"github.com/chronik-stream/chronik/internal/cluster"
	"go.etcd.io/raft/v3"
)

// rebalanceEvery is how often a leader hands partitions back to their preferred replica
// (Kafka's leader.imbalance.check.interval.seconds is 300). A leader move makes clients
// refresh metadata and retry, so it is done rarely, not as soon as a replica returns.
const rebalanceEvery = 60 * time.Second

// live reports whether a broker is reachable from here.
func (b *Broker) live(id int32) bool {
	return id == b.cfg.NodeID || b.cfg.Peers == nil || b.cfg.Peers.Live(uint64(id), liveWindow)
}

// leaderOf returns a partition group's leader as this node knows it: its own raft state
// when it holds a replica, otherwise the leader last reported to the controller (if that
// broker is live). -1 when unknown.
func (b *Broker) leaderOf(group uint64) (leader int32, epoch int32) {
	if l, term, err := b.host.Leader(group); err == nil {
		if l == 0 {
			return -1, int32(term)
		}
		return int32(l), int32(term)
	}
	if l, ok := b.ctrl.LeaderOf(group); ok && b.live(l.Node) {
		return l.Node, int32(l.Term)
	}
	return -1, -1
}

// leaderReports deduplicates the leader reports sent to the controller.
type leaderReports struct {
	mu   sync.Mutex
	sent map[uint64]uint64 // group -> term reported
}

// LeaderChanged is the replication host's leader-change hook: when this node becomes a
// partition's leader it reports so to the controller, so that every node's Metadata
// names it. It never blocks the caller.
func (b *Broker) LeaderChanged(group, leader, term uint64) {
	if group == cluster.ControllerGroup {
		return
	}
	b.coordinatorLeadership(group, leader, term)
	if leader != uint64(b.cfg.NodeID) {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.reportLeader(group, term)
	}()
}

func (b *Broker) reportLeader(group, term uint64) {
	b.reports.mu.Lock()
	if b.reports.sent == nil {
		b.reports.sent = map[uint64]uint64{}
	}
	if b.reports.sent[group] >= term {
		b.reports.mu.Unlock()
		return
	}
	b.reports.mu.Unlock()
	for attempt := 0; attempt < 100; attempt++ {
		if l, t, err := b.host.Leader(group); err != nil || l != uint64(b.cfg.NodeID) || t != term {
			return // superseded
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := b.propose(ctx, cluster.Command{Op: cluster.OpSetLeader, Group: group,
			Leader: &cluster.Leader{Node: b.cfg.NodeID, Term: term}})
		cancel()
		if err == nil {
			b.reports.mu.Lock()
			if b.reports.sent[group] < term {
				b.reports.sent[group] = term
			}
			b.reports.mu.Unlock()
			return
		}
		select {
		case <-b.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// rebalanceBatch bounds the leaderships one rebalance pass hands over, and
// rebalanceBacklogEvery is how soon the next pass runs when a pass hit that bound. Each
// move makes the target campaign and write a new term's first entry; hundreds at once
// (after creating a large topic, or after a node returns) stall the rounds long enough
// for other leaders to miss CheckQuorum and step down.
const (
	rebalanceBatch        = 32
	rebalanceBacklogEvery = 5 * time.Second
)

func (b *Broker) leaderLoop() {
	wait := rebalanceEvery
	for {
		select {
		case <-b.stop:
			return
		case <-time.After(wait):
		}
		wait = rebalanceEvery
		if b.rebalance() >= rebalanceBatch {
			wait = rebalanceBacklogEvery
		}
	}
}

// rebalance hands leadership of partitions this node leads back to their preferred
// replica (the first of the assignment) when it is live and fully caught up, so that
// leaders stay spread over the nodes as the assignment placed them. It moves at most
// rebalanceBatch leaderships and returns how many it moved.
func (b *Broker) rebalance() int {
	state := b.ctrl.Snapshot()
	moved := 0
	for _, r := range b.localReplicas() {
		if moved >= rebalanceBatch {
			break
		}
		t, ok := state.Topics[r.topic]
		if !ok || int(r.index) >= len(t.Partitions) {
			continue
		}
		pref := t.Partitions[r.index].Replicas[0]
		if pref == b.cfg.NodeID || !b.live(pref) {
			continue
		}
		st, err := b.host.Status(r.group)
		if err != nil || st.Lead != st.ID {
			continue
		}
		if pr, ok := st.Progress[uint64(pref)]; ok && pr.Match >= st.Commit {
			if b.host.TransferLeadership(r.group, uint64(pref)) == nil {
				moved++
			}
		}
	}
	return moved
}

func (b *Broker) localReplicas() []*replica {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]*replica, 0, len(b.replicas))
	for _, r := range b.replicas {
		out = append(out, r)
	}
	return out
}

// handoverBatch bounds the leadership transfers one handover pass starts, and
// handoverPass is the time between passes: as with rebalanceBatch, a node that hands
// hundreds of groups over at once stalls the other nodes' rounds (each target campaigns
// and writes a new term's first entry) long enough for their own leaders to miss
// CheckQuorum, which a graceful stop must not cause.
const (
	handoverBatch = 64
	handoverPass  = 100 * time.Millisecond
)

// MoveLeadershipsAway hands every group this node leads (the controller included) to a
// live replica and waits until they moved or ctx ends. Used before a graceful stop so
// clients fail over without waiting for an election timeout. Each pass (every
// handoverPass) starts at most handoverBatch transfers; a group keeps the target it was
// first given, and new targets go to the peer given the fewest so far, so the
// leaderships spread over the remaining nodes.
func (b *Broker) MoveLeadershipsAway(ctx context.Context) {
	if b.cfg.Peers == nil {
		return
	}
	h := handover{target: map[uint64]uint64{}, given: map[uint64]int{}}
	for {
		if h.pass(b) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(handoverPass):
		}
	}
}

// handover is the state of one MoveLeadershipsAway: the target chosen for each group
// and how many groups each peer was given.
type handover struct {
	target map[uint64]uint64 // group -> peer
	given  map[uint64]int    // peer -> groups
}

// pass starts up to handoverBatch transfers and returns how many groups this node still
// leads that have a live peer to go to.
func (h *handover) pass(b *Broker) int {
	pending, started := 0, 0
	for _, g := range b.host.Groups() {
		if l, _, err := b.host.Leader(g); err != nil || l != uint64(b.cfg.NodeID) {
			continue
		}
		st, err := b.host.Status(g) // a leader's cached status, with its followers' progress
		if err != nil || st.Progress == nil {
			continue
		}
		to := h.pick(b, g, st)
		if to == 0 {
			continue // no live peer: nothing to wait for
		}
		pending++
		if started < handoverBatch && b.host.TransferLeadership(g, to) == nil {
			started++
		}
	}
	return pending
}

// pick returns the group's target: the one it was given if that peer is still live,
// else the live peer given the fewest groups, caught-up peers first (raft brings a
// lagging target up to date before it hands over). 0 when no peer is live.
func (h *handover) pick(b *Broker, g uint64, st raft.Status) uint64 {
	live := func(id uint64) bool {
		_, voter := st.Progress[id]
		return voter && id != st.ID && b.live(int32(id))
	}
	if to, found := h.target[g]; found && live(to) {
		return to
	}
	var best uint64
	bestCaughtUp := false
	for id, pr := range st.Progress {
		if !live(id) {
			continue
		}
		caughtUp := pr.Match >= st.Commit
		fewer := best == 0 || h.given[id] < h.given[best] || h.given[id] == h.given[best] && id < best
		if best == 0 || caughtUp && !bestCaughtUp || caughtUp == bestCaughtUp && fewer {
			best, bestCaughtUp = id, caughtUp
		}
	}
	if best != 0 {
		if old, found := h.target[g]; found {
			h.given[old]--
		}
		h.target[g] = best
		h.given[best]++
	}
	return best
}
