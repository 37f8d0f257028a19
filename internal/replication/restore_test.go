package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/wal"
)

// testRetain is how many applied entries a test host keeps for lagging followers.
const testRetain = 20

// gatedSM is a listSM whose Restore waits for the test to open the gate.
type gatedSM struct {
	listSM
	entered chan struct{} // closed when Restore is first called
	gate    chan struct{} // Restore returns once this is closed
	opened  sync.Once
	ended   chan error // what each Restore call returned
}

func (s *gatedSM) open() { s.opened.Do(func() { close(s.gate) }) }

func (s *gatedSM) Restore(ctx context.Context, index uint64, data []byte) error {
	select {
	case <-s.entered:
	default:
		close(s.entered)
	}
	err := s.listSM.Restore(ctx, index, data)
	select {
	case <-s.gate:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.ended <- err
	return err
}

// startOneWorker starts a host with a single worker and the given groups (all voters
// of each group are listed in voters[id]).
func startOneWorker(t *testing.T, net *MemNetwork, id uint64, sms map[uint64]StateMachine, voters map[uint64][]uint64) *Host {
	t.Helper()
	w, rec, err := wal.Open(t.TempDir(), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHost(Config{NodeID: id, WAL: w, Tick: 10 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1,
		CheckpointEvery: time.Hour, Workers: 1, RetainEntries: testRetain, Transport: net.Transport(id), Live: net.Live(id)}, rec)
	net.Register(id, h)
	for gid, sm := range sms {
		if err := h.AddGroup(gid, voters[gid], sm); err != nil {
			t.Fatal(err)
		}
	}
	h.Start()
	t.Cleanup(func() { h.Stop(); w.Close() })
	return h
}

// restoring sets up three nodes with one worker each, all in group 7, where node 3 also
// holds single-voter group 8; node 3 is cut off while the leader (another node) commits
// and compacts, then healed, and is sent a snapshot that gated holds. It returns once
// node 3's Restore was entered.
func restoring(t *testing.T) (hosts map[uint64]*Host, leader *Host, gated *gatedSM) {
	t.Helper()
	net := NewMemNetwork()
	t.Cleanup(net.Close)
	three := []uint64{1, 2, 3}
	voters := map[uint64][]uint64{7: three, 8: {3}}
	gated = &gatedSM{entered: make(chan struct{}), gate: make(chan struct{}), ended: make(chan error, 16)}
	hosts = map[uint64]*Host{
		1: startOneWorker(t, net, 1, map[uint64]StateMachine{7: &listSM{}}, voters),
		2: startOneWorker(t, net, 2, map[uint64]StateMachine{7: &listSM{}}, voters),
		3: startOneWorker(t, net, 3, map[uint64]StateMachine{7: gated, 8: &listSM{}}, voters),
	}
	t.Cleanup(gated.open) // before the hosts stop, should the test fail while it is shut
	lead := func() uint64 {
		for id, h := range hosts {
			if l, _, _ := h.Leader(7); l == id {
				return id
			}
		}
		return 0
	}
	waitFor(t, "a leader", func() bool { return lead() != 0 })
	if lead() == 3 {
		if err := hosts[3].TransferLeadership(7, 1); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "leadership to move off node 3", func() bool { return lead() != 0 && lead() != 3 })
	}
	net.Isolate(3, three...)
	leader = hosts[lead()]
	for i := 0; i < 5*testRetain; i++ {
		if _, err := leader.Propose(context.Background(), 7, payload(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	leader.CheckpointAll()
	g := leader.group(7)
	waitFor(t, "the leader's log to be compacted", func() bool { first, _ := g.storage.FirstIndex(); return first > testRetain })
	net.Heal()
	select {
	case <-gated.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("node 3 was not sent a snapshot")
	}
	return hosts, leader, gated
}

// A follower restoring a snapshot keeps serving its other groups, even those on the
// same worker; once the restore is done it takes its place in the group again.
func TestRestoreRunsBesideTheWorker(t *testing.T) {
	hosts, leader, gated := restoring(t)
	// The restore is blocked; node 3's other group, on the same worker, still commits.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := hosts[3].Propose(ctx, 8, payload("beside")); err != nil {
		t.Fatalf("group 8 while group 7 restores: %v", err)
	}
	gated.open()
	if _, err := leader.Propose(ctx, 7, payload("after")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node 3 to apply past the snapshot", func() bool {
		items := gated.snapshot()
		return len(items) > 0 && items[len(items)-1] == "after"
	})
}

// Removing the group, or stopping the host, ends a restore under way at once.
func TestRestoreEndsWithTheGroupOrHost(t *testing.T) {
	ended := func(t *testing.T, gated *gatedSM, what string) {
		t.Helper()
		select {
		case err := <-gated.ended:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("restore ended with %v after %s, want context.Canceled", err, what)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the restore went on after %s", what)
		}
	}
	t.Run("remove", func(t *testing.T) {
		hosts, _, gated := restoring(t)
		if err := hosts[3].RemoveGroup(7); err != nil {
			t.Fatal(err)
		}
		ended(t, gated, "the group was removed")
	})
	t.Run("stop", func(t *testing.T) {
		hosts, _, gated := restoring(t)
		stopped := make(chan struct{})
		go func() { hosts[3].Stop(); close(stopped) }()
		ended(t, gated, "the host was stopped")
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Fatal("Stop did not return")
		}
	})
}
