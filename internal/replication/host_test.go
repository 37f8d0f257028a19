package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/wal"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// listSM is a state machine that records every applied payload.
type listSM struct {
	mu      sync.Mutex
	applied uint64
	items   []string
	durable uint64
}

func (s *listSM) Applied() uint64 { s.mu.Lock(); defer s.mu.Unlock(); return s.durable }
func (s *listSM) Apply(index uint64, data []byte) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applied = index
	if data != nil {
		s.items = append(s.items, string(data))
		return len(s.items)
	}
	return nil
}
func (s *listSM) Checkpoint() (uint64, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.durable = s.applied
	return s.applied, nil, nil
}
func (s *listSM) Restore(context.Context, uint64, []byte) error { return nil }
func (s *listSM) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.items...)
}

func payload(s string) []byte { return append(make([]byte, HeaderRoom), s...) }

type testNode struct {
	id   uint64
	dir  string
	w    *wal.WAL
	host *Host
	sm   *listSM
}

func startNode(t *testing.T, net *MemNetwork, id uint64, dir string, voters []uint64) *testNode {
	t.Helper()
	w, rec, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{NodeID: id, WAL: w, Tick: 10 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1, CheckpointEvery: time.Hour}
	if net != nil {
		cfg.Transport = net.Transport(id)
		cfg.Live = net.Live(id)
	}
	h := NewHost(cfg, rec)
	if net != nil {
		net.Register(id, h)
	}
	sm := &listSM{}
	if err := h.AddGroup(7, voters, sm); err != nil {
		t.Fatal(err)
	}
	h.Start()
	n := &testNode{id: id, dir: dir, w: w, host: h, sm: sm}
	t.Cleanup(n.stop)
	return n
}

func (n *testNode) stop() {
	n.host.Stop()
	n.w.Close()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func leaderOf(nodes []*testNode) *testNode {
	for _, n := range nodes {
		if l, _, _ := n.host.Leader(7); l == n.id {
			return n
		}
	}
	return nil
}

func TestSingleVoterProposeAndRecover(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, nil, 1, dir, []uint64{1})
	waitFor(t, "leadership", func() bool { return leaderOf([]*testNode{n}) != nil })
	for i := 0; i < 50; i++ {
		v, err := n.host.Propose(context.Background(), 7, payload(fmt.Sprint(i)))
		if err != nil || v.(int) != i+1 {
			t.Fatalf("propose %d: %v %v", i, v, err)
		}
	}
	n.stop()
	// Restart from the WAL alone: the state machine starts empty (nothing durable), and
	// every committed entry is applied again.
	n2 := startNode(t, nil, 1, dir, []uint64{1})
	waitFor(t, "replay", func() bool { return len(n2.sm.snapshot()) == 50 })
	waitFor(t, "leadership", func() bool { return leaderOf([]*testNode{n2}) != nil })
	if v, err := n2.host.Propose(context.Background(), 7, payload("x")); err != nil || v.(int) != 51 {
		t.Fatalf("after restart: %v %v", v, err)
	}
}

func TestThreeVotersFailover(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	voters := []uint64{1, 2, 3}
	var nodes []*testNode
	for _, id := range voters {
		nodes = append(nodes, startNode(t, net, id, t.TempDir(), voters))
	}
	waitFor(t, "a leader", func() bool { return leaderOf(nodes) != nil })
	l := leaderOf(nodes)
	for i := 0; i < 20; i++ {
		if _, err := l.host.Propose(context.Background(), 7, payload(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		waitFor(t, "replication", func() bool { return len(n.sm.snapshot()) == 20 })
	}
	// Cut the leader off: the others elect a new one; the old one accepts nothing.
	net.Isolate(l.id, voters...)
	var others []*testNode
	for _, n := range nodes {
		if n != l {
			others = append(others, n)
		}
	}
	waitFor(t, "new leader", func() bool { return leaderOf(others) != nil })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := l.host.Propose(ctx, 7, payload("stale"))
	cancel()
	if err == nil {
		t.Fatal("isolated old leader acknowledged a write")
	}
	nl := leaderOf(others)
	if _, err := nl.host.Propose(context.Background(), 7, payload("after")); err != nil {
		t.Fatal(err)
	}
	net.Heal()
	for _, n := range nodes {
		waitFor(t, "convergence", func() bool {
			s := n.sm.snapshot()
			return len(s) == 21 && s[20] == "after"
		})
	}
	if _, err := l.host.Propose(context.Background(), 7, payload("x")); !errors.Is(err, ErrNotLeader) && leaderOf(nodes) != l {
		t.Fatalf("old leader: %v", err)
	}
}

func TestIdleGroupQuiescesAndFailsOver(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	voters := []uint64{1, 2, 3}
	var nodes []*testNode
	for _, id := range voters {
		nodes = append(nodes, startNode(t, net, id, t.TempDir(), voters))
	}
	waitFor(t, "a leader", func() bool { return leaderOf(nodes) != nil })
	l := leaderOf(nodes)
	if _, err := l.host.Propose(context.Background(), 7, payload("a")); err != nil {
		t.Fatal(err)
	}
	allQuiesced := func() bool {
		for _, n := range nodes {
			if !n.host.Quiesced(7) {
				return false
			}
		}
		return true
	}
	waitFor(t, "quiescence", allQuiesced)
	// A proposal wakes the group and commits.
	if _, err := l.host.Propose(context.Background(), 7, payload("b")); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		waitFor(t, "replication after wake", func() bool { return len(n.sm.snapshot()) == 2 })
	}
	waitFor(t, "quiescence again", allQuiesced)
	// The leader's node goes silent: the quiesced followers notice and elect a new one.
	net.Isolate(l.id, voters...)
	var others []*testNode
	for _, n := range nodes {
		if n != l {
			others = append(others, n)
		}
	}
	waitFor(t, "failover from a quiesced leader", func() bool { return leaderOf(others) != nil })
	if _, err := leaderOf(others).host.Propose(context.Background(), 7, payload("c")); err != nil {
		t.Fatal(err)
	}
}

// A leader that stalls (its outgoing messages delayed past the election timeout) loses
// leadership; writes acknowledged by the new leader survive and the old leader, once it
// resumes, converges on them without acknowledging anything of its own.
func TestPausedLeaderResumes(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	voters := []uint64{1, 2, 3}
	var nodes []*testNode
	for _, id := range voters {
		nodes = append(nodes, startNode(t, net, id, t.TempDir(), voters))
	}
	waitFor(t, "a leader", func() bool { return leaderOf(nodes) != nil })
	old := leaderOf(nodes)
	acked := []string{}
	propose := func(n *testNode, v string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := n.host.Propose(ctx, 7, payload(v))
		if err == nil {
			acked = append(acked, v)
		}
		return err
	}
	if err := propose(old, "before"); err != nil {
		t.Fatal(err)
	}
	// Pause: everything the old leader sends arrives late; what it receives is cut.
	for _, id := range voters {
		if id != old.id {
			net.Delay(old.id, id, 400*time.Millisecond)
			net.Cut(id, old.id)
		}
	}
	var others []*testNode
	for _, n := range nodes {
		if n != old {
			others = append(others, n)
		}
	}
	waitFor(t, "new leader", func() bool { return leaderOf(others) != nil })
	if err := propose(old, "stale"); err == nil {
		t.Fatal("a paused, deposed leader acknowledged a write")
	}
	for i := 0; i < 10; i++ {
		if err := propose(leaderOf(others), fmt.Sprint("during", i)); err != nil {
			t.Fatal(err)
		}
	}
	net.Heal()
	for _, id := range voters {
		net.Delay(old.id, id, 0)
	}
	for _, n := range nodes {
		waitFor(t, "convergence", func() bool {
			got := n.sm.snapshot()
			if len(got) < len(acked) {
				return false
			}
			for i, v := range acked {
				if got[i] != v {
					return false
				}
			}
			return true
		})
	}
}

// A node killed without any shutdown (no checkpoint, WAL files left as they are) comes
// back with every entry it acknowledged, from its WAL alone.
func TestCrashRecoversAcknowledgedEntries(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, nil, 1, dir, []uint64{1})
	waitFor(t, "leadership", func() bool { return leaderOf([]*testNode{n}) != nil })
	const writers, each = 4, 50
	done := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if _, err := n.host.Propose(context.Background(), 7, payload(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for w := 0; w < writers; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// Crash: stop the goroutines without a checkpoint and reopen the same files.
	n.host.Stop()
	n2 := startNode(t, nil, 1, dir, []uint64{1})
	waitFor(t, "replay", func() bool { return len(n2.sm.snapshot()) == writers*each })
	seen := map[string]bool{}
	for _, v := range n2.sm.snapshot() {
		if seen[v] {
			t.Fatalf("entry %s applied twice", v)
		}
		seen[v] = true
	}
}

// Checkpoints of an idle group are recorded in the WAL, so its old files can be dropped.
func TestCheckpointOfIdleGroupReleasesWALFiles(t *testing.T) {
	dir := t.TempDir()
	w, rec, err := wal.Open(dir, wal.Options{SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	h := NewHost(Config{NodeID: 1, WAL: w, Tick: 10 * time.Millisecond, CheckpointEvery: time.Hour}, rec)
	idle, busy := &listSM{}, &listSM{}
	if err := h.AddGroup(1, []uint64{1}, idle); err != nil {
		t.Fatal(err)
	}
	if err := h.AddGroup(2, []uint64{1}, busy); err != nil {
		t.Fatal(err)
	}
	h.Start()
	defer h.Stop()
	waitFor(t, "leaders", func() bool {
		l1, _, _ := h.Leader(1)
		l2, _, _ := h.Leader(2)
		return l1 == 1 && l2 == 1
	})
	if _, err := h.Propose(context.Background(), 1, payload("once")); err != nil {
		t.Fatal(err)
	}
	h.CheckpointAll() // group 1 is idle from here on
	big := string(make([]byte, 4<<10))
	waitFor(t, "old WAL files dropped", func() bool {
		for i := 0; i < 20; i++ {
			if _, err := h.Propose(context.Background(), 2, payload(big)); err != nil {
				t.Fatal(err)
			}
		}
		h.CheckpointAll()
		return w.Files() <= 3
	})
}

// Replicas that delay their election let the replica that campaigns at once win, and
// still elect a leader among themselves when it never comes.
func TestDelayElection(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	voters := []uint64{1, 2, 3}
	var nodes []*testNode
	for _, id := range []uint64{2, 3} {
		n := startNode(t, net, id, t.TempDir(), voters)
		n.host.DelayElection(7, 10)
		nodes = append(nodes, n)
	}
	waitFor(t, "a leader without node 1", func() bool { return leaderOf(nodes) != nil })

	net2 := NewMemNetwork()
	defer net2.Close()
	var all []*testNode
	for _, id := range voters {
		n := startNode(t, net2, id, t.TempDir(), voters)
		if id != 1 {
			n.host.DelayElection(7, 10)
		}
		all = append(all, n)
	}
	all[0].host.Campaign(7)
	waitFor(t, "a leader", func() bool { return leaderOf(all) != nil })
	if l := leaderOf(all); l.id != 1 {
		t.Fatalf("node %d won the election over the campaigning node 1", l.id)
	}
}

// A multi-voter group keeps at most RetainEntries entries and retainBytes bytes before a
// compaction point.
func TestRetainFrom(t *testing.T) {
	h := NewHost(Config{NodeID: 1, RetainEntries: 4}, nil)
	w := newWorker(h)
	storage := raft.NewMemoryStorage()
	var ents []raftpb.Entry
	for i := uint64(1); i <= 10; i++ {
		ents = append(ents, raftpb.Entry{Index: i, Term: 1, Data: make([]byte, 10)})
	}
	if err := storage.Append(ents); err != nil {
		t.Fatal(err)
	}
	g := &group{storage: storage}
	if to := w.retainFrom(g, 9, 1); to != 5 { // keeps 6..9
		t.Fatalf("count bound: compact to %d, want 5", to)
	}
	if to := w.retainFrom(g, 3, 1); to != 0 { // keeps 1..3: nothing to compact
		t.Fatalf("short log: compact to %d, want 0", to)
	}
	big := raftpb.Entry{Index: 11, Term: 1, Data: make([]byte, retainBytes)}
	if err := storage.Append([]raftpb.Entry{big}); err != nil {
		t.Fatal(err)
	}
	if to := w.retainFrom(g, 11, 1); to != 11 { // one entry is over the byte bound alone
		t.Fatalf("byte bound: compact to %d, want 11", to)
	}
}
