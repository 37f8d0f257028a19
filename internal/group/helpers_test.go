package group

import (
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manual Clock: timers fire, in time order, from Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	seq    int
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	seq     int
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves time forward by d, running every timer due on the way, in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		live := c.timers[:0]
		for _, t := range c.timers {
			if t.stopped || t.fired {
				continue
			}
			live = append(live, t)
			if !t.at.After(target) && (next == nil || t.at.Before(next.at) || (t.at.Equal(next.at) && t.seq < next.seq)) {
				next = t
			}
		}
		c.timers = live
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		next.fired = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

const testParts = 4

type harness struct {
	t     *testing.T
	c     *Coordinator
	store *MemStore
	clock *fakeClock
	cfg   Config
	// session is the session timeout of the members the harness joins (0: joinReq's).
	session time.Duration
}

// req is joinReq with the harness's session timeout.
func (h *harness) req(group, member string) JoinRequest {
	r := joinReq(group, member)
	if h.session > 0 {
		r.SessionTimeout = h.session
	}
	return r
}

func testLogger() *slog.Logger {
	if os.Getenv("GROUP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newHarness returns a coordinator over a MemStore with every partition loaded.
func newHarness(t *testing.T, mod ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, store: NewMemStore(testParts), clock: newFakeClock()}
	h.cfg = Config{Store: h.store, Partitions: testParts, Clock: h.clock, Logger: testLogger()}
	for _, f := range mod {
		f(&h.cfg)
	}
	h.c = NewCoordinator(h.cfg)
	t.Cleanup(h.c.Close)
	for p := range int32(testParts) {
		if err := h.c.Load(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// subscription encodes a ConsumerProtocolSubscription v0 of topics.
func subscription(topics ...string) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(topics)))
	for _, t := range topics {
		b = appendString(b, t)
	}
	return binary.BigEndian.AppendUint32(b, 0xffffffff) // null user data
}

func joinReq(group, member string) JoinRequest {
	return JoinRequest{
		Group: group, MemberID: member, ClientID: "client",
		SessionTimeout: 10 * time.Second, RebalanceTimeout: 30 * time.Second,
		ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: subscription("t")}},
		RequireKnownMemberID: true,
	}
}

// joinAsync starts a Join; the answer arrives on the returned channel.
func (h *harness) joinAsync(req JoinRequest) chan JoinResponse {
	ch := make(chan JoinResponse, 1)
	go func() { ch <- h.c.Join(ctx(h.t), req) }()
	return ch
}

func (h *harness) syncAsync(req SyncRequest) chan SyncResponse {
	ch := make(chan SyncResponse, 1)
	go func() { ch <- h.c.Sync(ctx(h.t), req) }()
	return ch
}

// waitFor polls cond until it holds (fails the test after 10s).
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waiting counts the members of a group with a JoinGroup (join) or SyncGroup waiting.
func (h *harness) waiting(group string) (joins, syncs int) {
	l, code := h.c.lockGroup(group, false, false)
	if code != ErrNone || l.g == nil {
		return 0, 0
	}
	defer l.unlock()
	for _, m := range l.g.members {
		if m.join != nil {
			joins++
		}
		if m.sync != nil {
			syncs++
		}
	}
	return
}

func (h *harness) waitJoins(group string, n int) {
	h.t.Helper()
	h.waitFor("joins waiting", func() bool { j, _ := h.waiting(group); return j >= n })
}

func (h *harness) waitSyncs(group string, n int) {
	h.t.Helper()
	h.waitFor("syncs waiting", func() bool { _, s := h.waiting(group); return s >= n })
}

func recv[T any](t *testing.T, ch chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
		panic("unreachable")
	}
}

// state returns the group's state name.
func (h *harness) state(group string) string {
	d := h.c.DescribeGroups(ctx(h.t), []string{group})
	return d[0].State
}

// newMember joins a fresh dynamic member (MEMBER_ID_REQUIRED round trip) and returns its
// member id with the channel of its second join.
func (h *harness) joinNew(group string) (string, chan JoinResponse) {
	h.t.Helper()
	r := h.c.Join(ctx(h.t), h.req(group, ""))
	if r.ErrorCode != ErrMemberIDRequired || r.MemberID == "" {
		h.t.Fatalf("first join: %+v", r)
	}
	return r.MemberID, h.joinAsync(h.req(group, r.MemberID))
}

// stableGroup forms a Stable group of n dynamic members (joined in order; generation 1
// for one member, 2 otherwise) with
// each member assigned its index as a byte. It returns the member ids.
func (h *harness) stableGroup(group string, n int) []string {
	h.t.Helper()
	ids := make([]string, n)
	chs := make([]chan JoinResponse, n)
	for i := range n {
		ids[i], chs[i] = h.joinNew(group)
		if i > 0 {
			h.waitJoins(group, i) // keep the join order
		}
		if i == 0 && n > 1 {
			r := recv(h.t, chs[0])
			if r.ErrorCode != 0 {
				h.t.Fatalf("join: %+v", r)
			}
			// First member formed generation 1 alone; it syncs so later joiners rebalance.
			s := h.c.Sync(ctx(h.t), SyncRequest{Group: group, MemberID: ids[0], Generation: r.Generation,
				Assignments: []MemberAssignment{{MemberID: ids[0], Assignment: []byte{0}}}})
			if s.ErrorCode != 0 {
				h.t.Fatalf("sync: %+v", s)
			}
			chs[0] = nil
		}
	}
	if n > 1 {
		chs[0] = h.joinAsync(h.req(group, ids[0]))
	}
	var gen int32
	var leader string
	for i := range n {
		r := recv(h.t, chs[i])
		if r.ErrorCode != 0 {
			h.t.Fatalf("join %d: %+v", i, r)
		}
		gen, leader = r.Generation, r.Leader
	}
	var assign []MemberAssignment
	for i, id := range ids {
		assign = append(assign, MemberAssignment{MemberID: id, Assignment: []byte{byte(i)}})
	}
	syncs := make([]chan SyncResponse, n)
	for i, id := range ids {
		if id == leader {
			continue
		}
		syncs[i] = h.syncAsync(SyncRequest{Group: group, MemberID: id, Generation: gen})
	}
	h.waitSyncs(group, n-1)
	for i, id := range ids {
		if id == leader {
			syncs[i] = h.syncAsync(SyncRequest{Group: group, MemberID: id, Generation: gen, Assignments: assign})
		}
	}
	for i := range n {
		s := recv(h.t, syncs[i])
		if s.ErrorCode != 0 || len(s.Assignment) != 1 || s.Assignment[0] != byte(i) {
			h.t.Fatalf("sync %d: %+v", i, s)
		}
	}
	if st := h.state(group); st != "Stable" {
		h.t.Fatalf("state %s", st)
	}
	return ids
}

func sortedIDs(ms []JoinMember) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.MemberID)
	}
	sort.Strings(out)
	return out
}
