package group

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeTopics is a TopicSource.
type fakeTopics struct {
	mu    sync.Mutex
	parts map[string]int32
	ids   map[string][16]byte
}

func newFakeTopics(kv ...any) *fakeTopics {
	f := &fakeTopics{parts: map[string]int32{}, ids: map[string][16]byte{}}
	for i := 0; i < len(kv); i += 2 {
		f.set(kv[i].(string), int32(kv[i+1].(int)))
	}
	return f
}

func (f *fakeTopics) set(topic string, n int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parts[topic] = n
	if _, ok := f.ids[topic]; !ok {
		var id [16]byte
		copy(id[:], topic)
		id[15] = 0xee
		f.ids[topic] = id
	}
}

func (f *fakeTopics) Partitions(topic string) ([16]byte, int32, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.parts[topic]
	return f.ids[topic], n, ok
}

func (f *fakeTopics) TopicByID(id [16]byte) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for t, i := range f.ids {
		if i == id {
			return t, true
		}
	}
	return "", false
}

// cclient simulates a KIP-848 client: it owns what it was last assigned (revoking at
// once) and reports it on every heartbeat.
type cclient struct {
	h        *harness
	topics   *fakeTopics
	group    string
	id       string
	instance *string
	epoch    int32
	subs     []string
	assignor *string
	owned    map[TopicPartition]bool
	pending  map[TopicPartition]bool // assignment being revoked to (keepalive)
}

func newCClient(h *harness, topics *fakeTopics, group, id string, subs ...string) *cclient {
	return &cclient{h: h, topics: topics, group: group, id: id, subs: subs, owned: map[TopicPartition]bool{}}
}

func (c *cclient) ownedTopics() []ConsumerTopicPartitions {
	by := map[string][]int32{}
	for tp := range c.owned {
		by[tp.Topic] = append(by[tp.Topic], tp.Partition)
	}
	out := []ConsumerTopicPartitions{}
	for t, ps := range by {
		id, _, _ := c.topics.Partitions(t)
		out = append(out, ConsumerTopicPartitions{TopicID: id, Partitions: ps})
	}
	return out
}

// keepalive sends a heartbeat without owned partitions: the client is still revoking
// (it keeps owning everything until its next full heartbeat), but takes new partitions.
func (c *cclient) keepalive() {
	c.h.t.Helper()
	r := c.h.c.ConsumerHeartbeat(ctx(c.h.t), ConsumerHeartbeatRequest{Group: c.group, MemberID: c.id, MemberEpoch: c.epoch, RebalanceTimeout: -1})
	if r.ErrorCode != 0 {
		c.h.t.Fatalf("keepalive: %+v", r)
	}
	c.epoch = r.MemberEpoch
	if r.HasAssignment {
		c.pending = c.assignment(r)
		for tp := range c.pending {
			c.owned[tp] = true
		}
	}
}

func (c *cclient) assignment(resp ConsumerHeartbeatResponse) map[TopicPartition]bool {
	out := map[TopicPartition]bool{}
	for _, t := range resp.Assignment {
		name, ok := c.topics.TopicByID(t.TopicID)
		if !ok {
			c.h.t.Fatalf("unknown topic id in assignment %x", t.TopicID)
		}
		for _, p := range t.Partitions {
			out[TopicPartition{Topic: name, Partition: p}] = true
		}
	}
	return out
}

// hb sends a full heartbeat and applies the answer.
func (c *cclient) hb() ConsumerHeartbeatResponse {
	c.h.t.Helper()
	if c.pending != nil {
		c.owned, c.pending = c.pending, nil // revocation done
	}
	req := ConsumerHeartbeatRequest{
		Group: c.group, MemberID: c.id, MemberEpoch: c.epoch, InstanceID: c.instance,
		RebalanceTimeout: 30 * time.Second, SubscribedTopicNames: c.subs, ServerAssignor: c.assignor,
		Topics: c.ownedTopics(), ClientID: "cl",
	}
	if c.epoch == 0 {
		req.Topics = nil
	}
	resp := c.h.c.ConsumerHeartbeat(ctx(c.h.t), req)
	if resp.ErrorCode != ErrNone {
		return resp
	}
	c.id, c.epoch = resp.MemberID, resp.MemberEpoch
	if resp.HasAssignment {
		c.owned = c.assignment(resp)
	}
	return resp
}

func (c *cclient) mustHB() ConsumerHeartbeatResponse {
	c.h.t.Helper()
	r := c.hb()
	if r.ErrorCode != ErrNone {
		c.h.t.Fatalf("%s heartbeat: code %d %s", c.id, r.ErrorCode, r.ErrorMessage)
	}
	return r
}

func (c *cclient) leave() ConsumerHeartbeatResponse {
	epoch := LeaveGroupMemberEpoch
	if c.instance != nil {
		epoch = LeaveGroupStaticMemberEpoch
	}
	r := c.h.c.ConsumerHeartbeat(ctx(c.h.t), ConsumerHeartbeatRequest{Group: c.group, MemberID: c.id, MemberEpoch: epoch, InstanceID: c.instance, RebalanceTimeout: -1})
	c.owned, c.pending = map[TopicPartition]bool{}, nil
	return r
}

func (c *cclient) ownedN(topic string) int {
	n := 0
	for tp := range c.owned {
		if tp.Topic == topic {
			n++
		}
	}
	return n
}

func consumerHarness(t *testing.T, topics *fakeTopics, mod ...func(*Config)) *harness {
	return newHarness(t, append([]func(*Config){func(c *Config) { c.Topics = topics }}, mod...)...)
}

// checkDisjoint fails if two clients own the same partition.
func checkDisjoint(t *testing.T, cs ...*cclient) {
	t.Helper()
	seen := map[TopicPartition]string{}
	for _, c := range cs {
		for tp := range c.owned {
			if o, ok := seen[tp]; ok {
				t.Fatalf("%v owned by %s and %s", tp, o, c.id)
			}
			seen[tp] = c.id
		}
	}
}

// settle heartbeats every client (in turn) until nothing changes, checking that no
// partition is ever owned twice.
func settle(t *testing.T, cs ...*cclient) {
	t.Helper()
	for round := 0; round < 20; round++ {
		changed := false
		for _, c := range cs {
			before := fmt.Sprint(c.epoch, sortedTPs(c.owned))
			c.mustHB()
			checkDisjoint(t, cs...)
			if fmt.Sprint(c.epoch, sortedTPs(c.owned)) != before {
				changed = true
			}
		}
		if !changed {
			return
		}
	}
	t.Fatal("group did not settle")
}

func sortedTPs(m map[TopicPartition]bool) []TopicPartition {
	var out []TopicPartition
	for tp := range m {
		out = append(out, tp)
	}
	sortTPs(out)
	return out
}

func (h *harness) cgroup(id string) (state string, epoch int32) {
	l, code := h.c.lockGroup(id, false, false)
	if code != ErrNone || l.g == nil {
		return "", -1
	}
	defer l.unlock()
	if l.g.consumer == nil {
		return "classic", -1
	}
	return l.g.consumer.stateName(), l.g.consumer.epoch
}

func TestConsumerJoinBalanceLeave(t *testing.T) {
	topics := newFakeTopics("t", 6)
	h := consumerHarness(t, topics)
	a := newCClient(h, topics, "g", "A", "t")
	r := a.mustHB()
	if r.MemberEpoch != 1 || a.ownedN("t") != 6 || r.HeartbeatInterval != DefaultConsumerHeartbeatInterval {
		t.Fatalf("first member: %+v owned %d", r, a.ownedN("t"))
	}
	b := newCClient(h, topics, "g", "B", "t")
	r = b.mustHB()
	if r.MemberEpoch != 2 || b.ownedN("t") != 0 {
		// A still owns everything: B gets its partitions once A revoked them.
		t.Fatalf("second member: %+v owned %v", r, b.owned)
	}
	r = a.mustHB() // told to revoke 3
	if r.MemberEpoch != 1 || a.ownedN("t") != 3 {
		t.Fatalf("A revoking: %+v owned %v", r, a.owned)
	}
	if st, _ := h.cgroup("g"); st != "Reconciling" {
		t.Fatalf("state %s", st)
	}
	settle(t, a, b)
	if a.ownedN("t") != 3 || b.ownedN("t") != 3 || a.epoch != 2 || b.epoch != 2 {
		t.Fatalf("after settle: A %v@%d B %v@%d", a.owned, a.epoch, b.owned, b.epoch)
	}
	if st, ep := h.cgroup("g"); st != "Stable" || ep != 2 {
		t.Fatalf("state %s epoch %d", st, ep)
	}
	// Sticky: a third member takes from both, A and B keep the rest.
	c := newCClient(h, topics, "g", "C", "t")
	aBefore, bBefore := sortedTPs(a.owned), sortedTPs(b.owned)
	settle(t, a, b, c)
	if a.ownedN("t") != 2 || b.ownedN("t") != 2 || c.ownedN("t") != 2 {
		t.Fatalf("three: %v %v %v", a.owned, b.owned, c.owned)
	}
	for _, tp := range sortedTPs(a.owned) {
		if !contains(aBefore, tp) {
			t.Fatalf("A got %v it did not have (%v)", tp, aBefore)
		}
	}
	for _, tp := range sortedTPs(b.owned) {
		if !contains(bBefore, tp) {
			t.Fatalf("B got %v it did not have (%v)", tp, bBefore)
		}
	}
	// Leaves: the last one gets everything.
	if r := b.leave(); r.ErrorCode != ErrNone || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	if r := c.leave(); r.ErrorCode != ErrNone {
		t.Fatalf("leave: %+v", r)
	}
	settle(t, a)
	if a.ownedN("t") != 6 {
		t.Fatalf("A after leaves: %v", a.owned)
	}
	if r := b.hb(); r.ErrorCode != ErrUnknownMemberID {
		t.Fatalf("heartbeat after leave: %+v", r)
	}
	a.leave()
	if st, _ := h.cgroup("g"); st != "Empty" {
		t.Fatalf("state %s", st)
	}
}

func contains(tps []TopicPartition, tp TopicPartition) bool {
	for _, x := range tps {
		if x == tp {
			return true
		}
	}
	return false
}

func TestConsumerNoDoubleOwnershipWhileRevoking(t *testing.T) {
	topics := newFakeTopics("t", 4)
	h := consumerHarness(t, topics)
	a := newCClient(h, topics, "g", "A", "t")
	a.mustHB()
	b := newCClient(h, topics, "g", "B", "t")
	// B heartbeats many times while A does not acknowledge: B never gets A's partitions.
	for range 5 {
		b.mustHB()
		if b.ownedN("t") != 0 {
			t.Fatalf("B got %v while A still owns them", b.owned)
		}
	}
	// A hears of the revocation but keeps reporting it owns everything (still committing).
	resp := h.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", MemberID: "A", MemberEpoch: a.epoch, RebalanceTimeout: -1, Topics: a.ownedTopics()})
	if resp.ErrorCode != 0 || !resp.HasAssignment || len(resp.Assignment[0].Partitions) != 2 {
		t.Fatalf("A: %+v", resp)
	}
	b.mustHB()
	if b.ownedN("t") != 0 {
		t.Fatalf("B got %v before A revoked", b.owned)
	}
	// Keepalive (no owned partitions reported) does not release them either.
	resp = h.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", MemberID: "A", MemberEpoch: a.epoch, RebalanceTimeout: -1})
	if resp.ErrorCode != 0 || resp.HasAssignment || resp.MemberEpoch != 1 {
		t.Fatalf("A keepalive: %+v", resp)
	}
	b.mustHB()
	if b.ownedN("t") != 0 {
		t.Fatalf("B got %v before A revoked", b.owned)
	}
	settle(t, a, b)
	if a.ownedN("t") != 2 || b.ownedN("t") != 2 {
		t.Fatalf("A %v B %v", a.owned, b.owned)
	}
}

func TestConsumerSessionTimeoutAndRevocationTimeout(t *testing.T) {
	topics := newFakeTopics("t", 4)
	h := consumerHarness(t, topics)
	a := newCClient(h, topics, "g", "A", "t")
	b := newCClient(h, topics, "g", "B", "t")
	a.mustHB()
	b.mustHB()
	settle(t, a, b)
	// B stops heartbeating: gone after 45s.
	for range 10 {
		h.clock.Advance(5 * time.Second)
		a.mustHB()
	}
	settle(t, a)
	if a.ownedN("t") != 4 {
		t.Fatalf("A after B expired: %v", a.owned)
	}
	if r := b.hb(); r.ErrorCode != ErrUnknownMemberID {
		t.Fatalf("expired member: %+v", r)
	}
	// A member that never acknowledges a revocation is fenced after its rebalance timeout.
	c := newCClient(h, topics, "g", "C", "t")
	c.mustHB()
	resp := h.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", MemberID: "A", MemberEpoch: a.epoch, RebalanceTimeout: -1, Topics: a.ownedTopics()})
	if resp.ErrorCode != 0 {
		t.Fatal(resp)
	}
	for range 7 { // 35s > the 30s rebalance timeout; C keeps heartbeating
		h.clock.Advance(5 * time.Second)
		c.mustHB()
		h.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", MemberID: "A", MemberEpoch: a.epoch, RebalanceTimeout: -1, Topics: a.ownedTopics()})
	}
	if r := a.hb(); r.ErrorCode != ErrUnknownMemberID {
		t.Fatalf("A not fenced: %+v", r)
	}
	settle(t, c)
	if c.ownedN("t") != 4 {
		t.Fatalf("C: %v", c.owned)
	}
}

func TestConsumerEpochFencing(t *testing.T) {
	topics := newFakeTopics("t", 2)
	h := consumerHarness(t, topics)
	a := newCClient(h, topics, "g", "A", "t")
	a.mustHB()
	r := h.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", MemberID: "A", MemberEpoch: 7, RebalanceTimeout: -1})
	if r.ErrorCode != ErrFencedMemberEpoch {
		t.Fatalf("future epoch: %+v", r)
	}
	b := newCClient(h, topics, "g", "B", "t")
	b.mustHB()
	settle(t, a, b)
	// A lost its last answer: its previous epoch with a subset of its partitions is fine.
	r = h.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", MemberID: "A", MemberEpoch: 1, RebalanceTimeout: -1, Topics: a.ownedTopics()})
	if r.ErrorCode != ErrNone || r.MemberEpoch != 2 || !r.HasAssignment {
		t.Fatalf("previous epoch: %+v", r)
	}
	r = h.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", MemberID: "A", MemberEpoch: 1, RebalanceTimeout: -1})
	if r.ErrorCode != ErrFencedMemberEpoch {
		t.Fatalf("previous epoch without owned partitions: %+v", r)
	}
	// Rejoin with the same id at epoch 0 (the client abandoned its assignment).
	a.epoch, a.owned = 0, map[TopicPartition]bool{}
	a.mustHB()
	settle(t, a, b)
	if a.ownedN("t") != 1 || b.ownedN("t") != 1 {
		t.Fatalf("A %v B %v", a.owned, b.owned)
	}
}

func TestConsumerValidation(t *testing.T) {
	topics := newFakeTopics("t", 2)
	h := consumerHarness(t, topics)
	re := "t.*"
	cases := []struct {
		req  ConsumerHeartbeatRequest
		code int16
	}{
		{ConsumerHeartbeatRequest{MemberID: "x", SubscribedTopicNames: []string{"t"}}, ErrInvalidRequest},
		{ConsumerHeartbeatRequest{Group: "g", MemberID: "x", RebalanceTimeout: -1, SubscribedTopicNames: []string{"t"}}, ErrInvalidRequest},
		{ConsumerHeartbeatRequest{Group: "g", MemberID: "x"}, ErrInvalidRequest},
		{ConsumerHeartbeatRequest{Group: "g", MemberID: "x", SubscribedTopicRegex: &re}, ErrUnsupportedVersion},
		{ConsumerHeartbeatRequest{Group: "g", MemberEpoch: -2, RebalanceTimeout: -1}, ErrInvalidRequest},
		{ConsumerHeartbeatRequest{Group: "g", MemberID: "x", MemberEpoch: -3, RebalanceTimeout: -1}, ErrInvalidRequest},
		{ConsumerHeartbeatRequest{Group: "g", MemberID: "x", MemberEpoch: 3, RebalanceTimeout: -1}, ErrUnknownMemberID},
		{ConsumerHeartbeatRequest{Group: "g", SubscribedTopicNames: []string{"t"}, Topics: []ConsumerTopicPartitions{{Partitions: []int32{0}}}}, ErrInvalidRequest},
	}
	for i, c := range cases {
		if r := h.c.ConsumerHeartbeat(ctx(t), c.req); r.ErrorCode != c.code {
			t.Errorf("case %d: code %d (%s), want %d", i, r.ErrorCode, r.ErrorMessage, c.code)
		}
	}
	if _, code := h.c.ListGroups(nil, nil); code != nil {
		t.Fatalf("failed joins left groups behind: %+v", code)
	}
	// v0: no member id, the coordinator picks one.
	r := h.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", SubscribedTopicNames: []string{"t"}})
	if r.ErrorCode != 0 || r.MemberID == "" || r.MemberEpoch != 1 {
		t.Fatalf("v0 join: %+v", r)
	}
	// Without a TopicSource the protocol is off.
	h2 := newHarness(t)
	if r := h2.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", MemberID: "x", SubscribedTopicNames: []string{"t"}}); r.ErrorCode != ErrUnsupportedVersion {
		t.Fatalf("no topic source: %+v", r)
	}
}

func TestConsumerClassicDoNotMix(t *testing.T) {
	topics := newFakeTopics("t", 2)
	h := consumerHarness(t, topics)
	a := newCClient(h, topics, "g", "A", "t")
	a.mustHB()
	jr := h.c.Join(ctx(t), joinReq("g", ""))
	if jr.ErrorCode != ErrInconsistentGroupProtocol {
		t.Fatalf("classic join of consumer group: %+v", jr)
	}
	if d := h.c.DescribeGroups(ctx(t), []string{"g"}); d[0].ErrorCode != ErrGroupIDNotFound {
		t.Fatalf("describe: %+v", d)
	}
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: "A", Generation: 1}); code != ErrUnknownMemberID {
		t.Fatalf("classic heartbeat: %d", code)
	}
	_, gs := h.c.ListGroups(nil, nil)
	if len(gs) != 1 || gs[0].Type != "consumer" || gs[0].State != "Stable" || gs[0].ProtocolType != "consumer" {
		t.Fatalf("list: %+v", gs)
	}
	if res := h.c.DeleteGroups(ctx(t), []string{"g"}); res[0].ErrorCode != ErrNonEmptyGroup {
		t.Fatalf("delete: %+v", res)
	}
	// A classic group with members refuses consumer heartbeats.
	h.stableGroup("classic", 1)
	c := newCClient(h, topics, "classic", "X", "t")
	if r := c.hb(); r.ErrorCode != ErrGroupIDNotFound {
		t.Fatalf("consumer heartbeat to classic group: %+v", r)
	}
	// An empty consumer group becomes classic on a JoinGroup.
	a.leave()
	jr = h.c.Join(ctx(t), JoinRequest{Group: "g", SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second, ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: subscription("t")}}})
	if jr.ErrorCode != 0 {
		t.Fatalf("classic join of empty consumer group: %+v", jr)
	}
	if st, _ := h.cgroup("g"); st != "classic" {
		t.Fatalf("group type %s", st)
	}
}

func TestConsumerOffsets(t *testing.T) {
	topics := newFakeTopics("t", 2)
	h := consumerHarness(t, topics)
	a := newCClient(h, topics, "g", "A", "t")
	a.mustHB()
	commit := func(member string, gen int32, p int32) int16 {
		return h.c.CommitOffsets(ctx(t), CommitRequest{Group: "g", MemberID: member, Generation: gen, Offsets: []CommitOffset{{Topic: "t", Partition: p, Offset: 10, LeaderEpoch: -1}}})[0]
	}
	if code := commit("A", 1, 0); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	if code := commit("A", 2, 0); code != ErrStaleMemberEpoch {
		t.Fatalf("commit with a future epoch: %d", code)
	}
	if code := commit("Z", 1, 0); code != ErrUnknownMemberID {
		t.Fatalf("commit unknown member: %d", code)
	}
	if code := commit("", -1, 0); code != ErrUnknownMemberID {
		t.Fatalf("simple commit to non-empty group: %d", code)
	}
	b := newCClient(h, topics, "g", "B", "t")
	b.mustHB()
	settle(t, a, b)
	// A moved from epoch 1 to 2 keeping one partition: a commit of it at epoch 1 is fine
	// (it owned it then), B's partition at B's first epoch too.
	var kept int32
	for tp := range a.owned {
		kept = tp.Partition
	}
	if code := commit("A", 1, kept); code != 0 {
		t.Fatalf("commit with previous epoch: %d", code)
	}
	if code := commit("A", 1, 1-kept); code != ErrStaleMemberEpoch {
		t.Fatalf("commit of a partition no longer owned with previous epoch: %d", code)
	}
	if code := commit("B", b.epoch, 1-kept); code != 0 {
		t.Fatalf("B commit: %d", code)
	}
	code, offs := h.c.FetchOffsets(ctx(t), "g", NoFetchMember, nil, true)
	if code != 0 || len(offs) != 2 {
		t.Fatalf("fetch: %d %+v", code, offs)
	}
	a.leave()
	b.leave()
	if code := commit("", -1, 0); code != 0 {
		t.Fatalf("simple commit to empty group: %d", code)
	}
	// Offsets of subscribed topics cannot be deleted while members subscribe.
	c := newCClient(h, topics, "g", "C", "t")
	c.mustHB()
	if _, codes := h.c.DeleteOffsets(ctx(t), "g", []TopicPartition{{"t", 0}}); codes[0] != ErrGroupSubscribedToTopic {
		t.Fatalf("offset delete: %v", codes)
	}
}

func TestConsumerStaticMembership(t *testing.T) {
	topics := newFakeTopics("t", 4)
	h := consumerHarness(t, topics)
	inst := "i1"
	a := newCClient(h, topics, "g", "A", "t")
	a.instance = &inst
	b := newCClient(h, topics, "g", "B", "t")
	a.mustHB()
	b.mustHB()
	settle(t, a, b)
	_, epoch := h.cgroup("g")
	aOwned := sortedTPs(a.owned)
	if r := a.leave(); r.ErrorCode != 0 || r.MemberEpoch != -2 {
		t.Fatalf("static leave: %+v", r)
	}
	// No rebalance: B keeps its share, the partitions of A wait for its instance.
	settle(t, b)
	if b.ownedN("t") != 2 {
		t.Fatalf("B: %v", b.owned)
	}
	// Another process with the same instance id while A is still in: refused.
	dup := newCClient(h, topics, "g", "A2", "t")
	dup.instance = &inst
	a3 := newCClient(h, topics, "g", "A3", "t")
	a3.instance = &inst
	r := a3.mustHB()
	if _, e := h.cgroup("g"); e != epoch || fmt.Sprint(sortedTPs(a3.owned)) != fmt.Sprint(aOwned) {
		t.Fatalf("static rejoin: %+v epoch %d->%d owned %v want %v", r, epoch, e, a3.owned, aOwned)
	}
	if r := dup.hb(); r.ErrorCode != ErrUnreleasedInstanceID {
		t.Fatalf("duplicate instance: %+v", r)
	}
	// The old member id is fenced.
	if r := h.c.ConsumerHeartbeat(ctx(t), ConsumerHeartbeatRequest{Group: "g", MemberID: "A", MemberEpoch: epoch, InstanceID: &inst, RebalanceTimeout: -1}); r.ErrorCode != ErrUnknownMemberID {
		t.Fatalf("old static member: %+v", r)
	}
	// A static member that leaves and does not come back expires with its session.
	a3.leave()
	for range 10 {
		h.clock.Advance(5 * time.Second)
		b.mustHB()
	}
	settle(t, b)
	if b.ownedN("t") != 4 {
		t.Fatalf("B after static expiry: %v", b.owned)
	}
}

func TestConsumerMetadataChanges(t *testing.T) {
	topics := newFakeTopics("t", 2)
	h := consumerHarness(t, topics)
	a := newCClient(h, topics, "g", "A", "t", "u")
	a.mustHB()
	if a.ownedN("t") != 2 || a.ownedN("u") != 0 {
		t.Fatalf("A: %v", a.owned)
	}
	topics.set("u", 3) // created
	topics.set("t", 4) // grown
	settle(t, a)
	if a.ownedN("t") != 4 || a.ownedN("u") != 3 {
		t.Fatalf("A after metadata change: %v", a.owned)
	}
	// Subscription change.
	a.subs = []string{"u"}
	settle(t, a)
	if a.ownedN("t") != 0 || a.ownedN("u") != 3 {
		t.Fatalf("A after unsubscribe: %v", a.owned)
	}
}

func TestConsumerRangeAssignorAndDescribe(t *testing.T) {
	topics := newFakeTopics("t", 5)
	h := consumerHarness(t, topics)
	rng := "range"
	a := newCClient(h, topics, "g", "A", "t")
	b := newCClient(h, topics, "g", "B", "t")
	a.assignor, b.assignor = &rng, &rng
	a.mustHB()
	b.mustHB()
	settle(t, a, b)
	if fmt.Sprint(sortedTPs(a.owned)) != "[{t 0} {t 1} {t 2}]" || fmt.Sprint(sortedTPs(b.owned)) != "[{t 3} {t 4}]" {
		t.Fatalf("range: A %v B %v", sortedTPs(a.owned), sortedTPs(b.owned))
	}
	ds := h.c.DescribeConsumerGroups(ctx(t), []string{"g", "nope"})
	d := ds[0]
	if d.ErrorCode != 0 || d.State != "Stable" || d.Assignor != "range" || d.Epoch != 2 || d.AssignmentEpoch != 2 || len(d.Members) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	if m := d.Members[0]; m.MemberID != "A" || len(m.Assignment) != 1 || len(m.Assignment[0].Partitions) != 3 || m.Assignment[0].Topic != "t" || len(m.TargetAssignment) != 1 {
		t.Fatalf("member: %+v", m)
	}
	if ds[1].ErrorCode != ErrGroupIDNotFound {
		t.Fatalf("unknown group: %+v", ds[1])
	}
	// Unknown assignor: the default (uniform).
	bogus := "bogus"
	a.assignor, b.assignor = &bogus, &bogus
	settle(t, a, b)
	if d := h.c.DescribeConsumerGroups(ctx(t), []string{"g"})[0]; d.Assignor != "uniform" {
		t.Fatalf("assignor %q", d.Assignor)
	}
}

func TestConsumerFailover(t *testing.T) {
	topics := newFakeTopics("t", 2)
	h := consumerHarness(t, topics)
	a := newCClient(h, topics, "g", "A", "t")
	b := newCClient(h, topics, "g", "B", "t")
	a.mustHB()
	b.mustHB()
	settle(t, a, b)
	if code := h.c.CommitOffsets(ctx(t), CommitRequest{Group: "g", MemberID: "A", Generation: a.epoch, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 42, LeaderEpoch: -1}}})[0]; code != 0 {
		t.Fatal(code)
	}
	_, epoch := h.cgroup("g")
	p := h.c.PartitionFor("g")
	// Compaction keeps the group record; then a new coordinator loads the partition.
	if err := h.c.Compact(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	c2 := NewCoordinator(h.cfg)
	t.Cleanup(c2.Close)
	h.c.Unload(p)
	if err := c2.Load(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	h.c = c2
	// The members are back with their partitions; the epoch is bumped, so that the
	// target is computed again.
	if st, e := h.cgroup("g"); st != "Assigning" || e != epoch+1 {
		t.Fatalf("after failover: %s epoch %d, want Assigning %d", st, e, epoch+1)
	}
	if code := h.c.CommitOffsets(ctx(t), CommitRequest{Group: "g", MemberID: "A", Generation: a.epoch, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 43, LeaderEpoch: -1}}})[0]; code != 0 {
		t.Fatalf("commit after failover: %d", code)
	}
	aOwned := fmt.Sprint(sortedTPs(a.owned))
	settle(t, a, b)
	if fmt.Sprint(sortedTPs(a.owned)) != aOwned || a.epoch != epoch+1 || b.epoch != epoch+1 {
		t.Fatalf("after failover: A %v@%d (had %s) B %v@%d", sortedTPs(a.owned), a.epoch, aOwned, sortedTPs(b.owned), b.epoch)
	}
	_, offs := h.c.FetchOffsets(ctx(t), "g", NoFetchMember, []TopicPartition{{"t", 0}}, false)
	if offs[0].Offset != 43 {
		t.Fatalf("offsets after failover: %+v", offs)
	}
	// Members that left are not restored; a session that ran out while nobody
	// coordinated ends one session after the load.
	b.leave()
	reload := func() {
		t.Helper()
		c := NewCoordinator(h.cfg)
		t.Cleanup(c.Close)
		h.c.Unload(p)
		if err := c.Load(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		h.c = c
	}
	reload()
	if r := b.hb(); r.ErrorCode != ErrUnknownMemberID {
		t.Fatalf("left member after failover: %+v", r)
	}
	h.clock.Advance(46 * time.Second)
	if r := a.hb(); r.ErrorCode != ErrUnknownMemberID {
		t.Fatalf("expired member after failover: %+v", r)
	}
	_, e := h.cgroup("g")
	reload()
	if st, e2 := h.cgroup("g"); st != "Empty" || e2 != e {
		t.Fatalf("after failover of the empty group: %s epoch %d, want Empty %d", st, e2, e)
	}
	a = newCClient(h, topics, "g", "A2", "t")
	r := a.mustHB()
	if r.MemberEpoch <= e || a.ownedN("t") != 2 {
		t.Fatalf("rejoin: %+v %v", r, a.owned)
	}
	// Deleting the empty group removes its record too.
	a.leave()
	if res := h.c.DeleteGroups(ctx(t), []string{"g"}); res[0].ErrorCode != 0 {
		t.Fatal(res)
	}
	c3 := NewCoordinator(h.cfg)
	t.Cleanup(c3.Close)
	h.c.Unload(p)
	if err := c3.Load(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	h.c = c3
	if st, _ := h.cgroup("g"); st != "" {
		t.Fatalf("deleted group came back: %s", st)
	}
}

func TestAssignUniform(t *testing.T) {
	members := []string{"a", "b", "c"}
	subs := map[string][]string{"a": {"x", "y"}, "b": {"x", "y"}, "c": {"x", "y"}}
	parts := map[string]int32{"x": 7, "y": 3}
	out := assignUniform(members, subs, parts, nil)
	total := 0
	for _, m := range members {
		n := len(out[m])
		total += n
		if n < 3 || n > 4 {
			t.Fatalf("uneven: %v", out)
		}
	}
	if total != 10 {
		t.Fatalf("total %d", total)
	}
	// Heterogeneous: only c subscribes to z.
	subs["c"] = []string{"z"}
	parts["z"] = 2
	out2 := assignUniform(members, subs, parts, out)
	if len(out2["c"]) != 2 || len(out2["a"]) != 5 || len(out2["b"]) != 5 {
		t.Fatalf("heterogeneous: %v", out2)
	}
	// Sticky: a and b keep what they had.
	for _, m := range []string{"a", "b"} {
		for tp := range out[m] {
			if _, ok := out2[m][tp]; !ok && tp.Topic != "z" {
				t.Fatalf("%s lost %v", m, tp)
			}
		}
	}
	// Removing a member moves only its partitions.
	out3 := assignUniform([]string{"a", "c"}, subs, parts, out2)
	for tp := range out2["a"] {
		if _, ok := out3["a"][tp]; !ok {
			t.Fatalf("a lost %v", tp)
		}
	}
	if len(out3["a"]) != 10 {
		t.Fatalf("a: %v", out3["a"])
	}
}

func TestAssignRange(t *testing.T) {
	out := assignRange([]string{"a", "b", "c"}, map[string][]string{"a": {"x"}, "b": {"x"}, "c": {"x", "y"}}, map[string]int32{"x": 4, "y": 2})
	got := map[string][]string{}
	for m, s := range out {
		for tp := range s {
			got[m] = append(got[m], fmt.Sprint(tp.Topic, tp.Partition))
		}
		sort.Strings(got[m])
	}
	if fmt.Sprint(got) != "map[a:[x0 x1] b:[x2] c:[x3 y0 y1]]" {
		t.Fatalf("range: %v", got)
	}
}

// TestConsumerRandomNoDoubleOwnership drives random joins, leaves, expiries, subscription
// changes and slow revocations, and checks after every step that no partition is owned by
// two members (as the coordinator sees it and as the clients do), and that the group
// converges to a full, even assignment.
func TestConsumerRandomNoDoubleOwnership(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { testConsumerRandom(t, seed) })
	}
}

func testConsumerRandom(t *testing.T, seed int64) {
	topics := newFakeTopics("t", 12, "u", 5)
	h := consumerHarness(t, topics)
	rnd := newRand(seed)
	var cs []*cclient
	next := 0
	check := func() {
		t.Helper()
		checkDisjoint(t, cs...)
		l, _ := h.c.lockGroup("g", false, false)
		if l.g == nil {
			return
		}
		defer l.unlock()
		cg := l.g.consumer
		seen := map[TopicPartition]string{}
		for _, m := range cg.members {
			for _, set := range []tpset{m.assigned, m.revoking} {
				for tp := range set {
					if o, ok := seen[tp]; ok {
						t.Fatalf("%v held by %s and %s", tp, o, m.id)
					}
					seen[tp] = m.id
					if cg.owner[tp] != m.id {
						t.Fatalf("owner of %v is %q, held by %s", tp, cg.owner[tp], m.id)
					}
				}
			}
		}
		if len(seen) != len(cg.owner) {
			t.Fatalf("owner map has %d entries, members hold %d", len(cg.owner), len(seen))
		}
		for _, c := range cs {
			m := cg.members[c.id]
			for tp := range c.owned {
				if m == nil {
					break
				}
				_, a := m.assigned[tp]
				_, r := m.revoking[tp]
				if !a && !r {
					t.Fatalf("client %s owns %v the coordinator does not give it", c.id, tp)
				}
			}
		}
	}
	for step := 0; step < 3000; step++ {
		switch k := rnd.Intn(20); {
		case k == 0 && len(cs) < 6:
			next++
			subs := []string{"t"}
			if rnd.Intn(2) == 0 {
				subs = append(subs, "u")
			}
			cs = append(cs, newCClient(h, topics, "g", fmt.Sprint("m", next), subs...))
			cs[len(cs)-1].mustHB()
		case k == 1 && len(cs) > 0:
			i := rnd.Intn(len(cs))
			cs[i].leave()
			cs = append(cs[:i], cs[i+1:]...)
		case k == 2 && len(cs) > 0:
			c := cs[rnd.Intn(len(cs))]
			if len(c.subs) == 1 {
				c.subs = []string{"t", "u"}
			} else {
				c.subs = []string{"t"}
			}
			c.mustHB()
		case k == 3 && rnd.Intn(20) == 0:
			// Coordinator failover (after a compaction, sometimes): members come back.
			p := h.c.PartitionFor("g")
			if rnd.Intn(2) == 0 {
				if err := h.c.Compact(context.Background(), p); err != nil {
					t.Fatal(err)
				}
			}
			c := NewCoordinator(h.cfg)
			t.Cleanup(c.Close)
			h.c.Unload(p)
			if err := c.Load(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			h.c = c
		case k < 6 && len(cs) > 0:
			// A slow client: keepalive, its revocation is not acknowledged yet.
			cs[rnd.Intn(len(cs))].keepalive()
		case len(cs) > 0:
			cs[rnd.Intn(len(cs))].mustHB()
		}
		check()
	}
	settle(t, cs...)
	check()
	total := 0
	for _, c := range cs {
		total += len(c.owned)
	}
	want := 12
	for _, c := range cs {
		if len(c.subs) == 2 {
			want = 17
		}
	}
	if len(cs) > 0 && total != want {
		t.Fatalf("after settling %d partitions are owned, want %d", total, want)
	}
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
