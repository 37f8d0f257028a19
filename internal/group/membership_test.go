package group

import (
	"bytes"
	"testing"
	"time"
)

func TestJoinSyncOneMember(t *testing.T) {
	h := newHarness(t)
	id, ch := h.joinNew("g")
	r := recv(t, ch)
	if r.ErrorCode != 0 || r.Generation != 1 || r.Leader != id || r.MemberID != id || *r.Protocol != "range" || *r.ProtocolType != "consumer" {
		t.Fatalf("join: %+v", r)
	}
	if len(r.Members) != 1 || r.Members[0].MemberID != id || !bytes.Equal(r.Members[0].Metadata, subscription("t")) {
		t.Fatalf("members: %+v", r.Members)
	}
	if st := h.state("g"); st != "CompletingRebalance" {
		t.Fatalf("state %s", st)
	}
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: id, Generation: 1}); code != 0 {
		t.Fatalf("heartbeat while completing: %d", code)
	}
	s := h.c.Sync(ctx(t), SyncRequest{Group: "g", MemberID: id, Generation: 1, Assignments: []MemberAssignment{{MemberID: id, Assignment: []byte("a")}}})
	if s.ErrorCode != 0 || string(s.Assignment) != "a" || *s.Protocol != "range" {
		t.Fatalf("sync: %+v", s)
	}
	if st := h.state("g"); st != "Stable" {
		t.Fatalf("state %s", st)
	}
	for _, tc := range []struct {
		hb   HeartbeatRequest
		want int16
	}{
		{HeartbeatRequest{Group: "g", MemberID: id, Generation: 1}, ErrNone},
		{HeartbeatRequest{Group: "g", MemberID: id, Generation: 0}, ErrIllegalGeneration},
		{HeartbeatRequest{Group: "g", MemberID: "nope", Generation: 1}, ErrUnknownMemberID},
		{HeartbeatRequest{Group: "other", MemberID: id, Generation: 1}, ErrUnknownMemberID},
		{HeartbeatRequest{Group: "", MemberID: id, Generation: 1}, ErrInvalidGroupID},
	} {
		if got := h.c.Heartbeat(ctx(t), tc.hb); got != tc.want {
			t.Errorf("heartbeat %+v: %d, want %d", tc.hb, got, tc.want)
		}
	}
	// Sync again in Stable: the same assignment.
	s = h.c.Sync(ctx(t), SyncRequest{Group: "g", MemberID: id, Generation: 1})
	if s.ErrorCode != 0 || string(s.Assignment) != "a" {
		t.Fatalf("second sync: %+v", s)
	}
	// The group metadata is in the log with the assignment.
	recs, _ := h.store.Records(h.c.PartitionFor("g"))
	if len(recs) != 1 {
		t.Fatalf("records: %d", len(recs))
	}
	e, err := DecodeRecord(recs[0].Key, recs[0].Value)
	if err != nil || e.Group == nil || e.Group.Generation != 1 || len(e.Group.Members) != 1 || string(e.Group.Members[0].Assignment) != "a" {
		t.Fatalf("record: %+v %v", e, err)
	}
}

func TestJoinValidation(t *testing.T) {
	h := newHarness(t)
	req := joinReq("g", "")
	req.SessionTimeout = time.Second
	if r := h.c.Join(ctx(t), req); r.ErrorCode != ErrInvalidSessionTimeout {
		t.Fatalf("short session: %+v", r)
	}
	req = joinReq("", "")
	if r := h.c.Join(ctx(t), req); r.ErrorCode != ErrInvalidGroupID {
		t.Fatalf("empty group: %+v", r)
	}
	req = joinReq("g", "")
	req.Protocols = nil
	if r := h.c.Join(ctx(t), req); r.ErrorCode != ErrInconsistentGroupProtocol {
		t.Fatalf("no protocols: %+v", r)
	}
	if r := h.c.Join(ctx(t), joinReq("g", "unknown")); r.ErrorCode != ErrUnknownMemberID {
		t.Fatalf("unknown member: %+v", r)
	}
	h.stableGroup("g", 1)
	req = joinReq("g", "")
	req.ProtocolType = "connect"
	if r := h.c.Join(ctx(t), req); r.ErrorCode != ErrInconsistentGroupProtocol {
		t.Fatalf("other protocol type: %+v", r)
	}
	req = joinReq("g", "")
	req.Protocols = []Protocol{{Name: "roundrobin"}}
	if r := h.c.Join(ctx(t), req); r.ErrorCode != ErrInconsistentGroupProtocol {
		t.Fatalf("no common protocol: %+v", r)
	}
	// Join v0-v3: no MEMBER_ID_REQUIRED round trip.
	req = joinReq("g2", "")
	req.RequireKnownMemberID = false
	if r := h.c.Join(ctx(t), req); r.ErrorCode != 0 || r.MemberID == "" || r.Generation != 1 {
		t.Fatalf("v3 join: %+v", r)
	}
}

func TestJoinTwoMembersAndLeave(t *testing.T) {
	h := newHarness(t)
	a, ch := h.joinNew("g")
	r := recv(t, ch)
	h.c.Sync(ctx(t), SyncRequest{Group: "g", MemberID: a, Generation: r.Generation, Assignments: []MemberAssignment{{MemberID: a, Assignment: []byte("all")}}})

	b, chB := h.joinNew("g")
	h.waitJoins("g", 1)
	if st := h.state("g"); st != "PreparingRebalance" {
		t.Fatalf("state %s", st)
	}
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: a, Generation: 1}); code != ErrRebalanceInProgress {
		t.Fatalf("heartbeat during rebalance: %d", code)
	}
	// A member of the old generation may still commit while the group prepares.
	if codes := h.c.CommitOffsets(ctx(t), CommitRequest{Group: "g", MemberID: a, Generation: 1, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: -1}}}); codes[0] != 0 {
		t.Fatalf("commit during rebalance: %v", codes)
	}
	chA := h.joinAsync(joinReq("g", a))
	ra, rb := recv(t, chA), recv(t, chB)
	if ra.ErrorCode != 0 || rb.ErrorCode != 0 || ra.Generation != 2 || rb.Generation != 2 {
		t.Fatalf("joins: %+v %+v", ra, rb)
	}
	if ra.Leader != a || rb.Leader != a || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("leader: %+v %+v", ra, rb)
	}
	// The follower's sync waits for the leader's.
	sb := h.syncAsync(SyncRequest{Group: "g", MemberID: b, Generation: 2})
	h.waitSyncs("g", 1)
	if code := h.c.CommitOffsets(ctx(t), CommitRequest{Group: "g", MemberID: a, Generation: 2, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 6}}}); code[0] != ErrRebalanceInProgress {
		t.Fatalf("commit while completing: %v", code)
	}
	sa := h.c.Sync(ctx(t), SyncRequest{Group: "g", MemberID: a, Generation: 2, Assignments: []MemberAssignment{
		{MemberID: a, Assignment: []byte("p0")}, {MemberID: b, Assignment: []byte("p1")}}})
	if sa.ErrorCode != 0 || string(sa.Assignment) != "p0" {
		t.Fatalf("leader sync: %+v", sa)
	}
	if s := recv(t, sb); s.ErrorCode != 0 || string(s.Assignment) != "p1" {
		t.Fatalf("follower sync: %+v", s)
	}

	// A leaves: B's heartbeat says rebalance, B rejoins alone and leads generation 3.
	code, res := h.c.Leave(ctx(t), "g", []LeaveMember{{MemberID: a}, {MemberID: "ghost"}})
	if code != 0 || res[0].ErrorCode != 0 || res[1].ErrorCode != ErrUnknownMemberID {
		t.Fatalf("leave: %d %+v", code, res)
	}
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: b, Generation: 2}); code != ErrRebalanceInProgress {
		t.Fatalf("heartbeat: %d", code)
	}
	rb = h.c.Join(ctx(t), joinReq("g", b))
	if rb.ErrorCode != 0 || rb.Generation != 3 || rb.Leader != b || len(rb.Members) != 1 {
		t.Fatalf("rejoin: %+v", rb)
	}
	// B leaves too: the group is Empty (generation 4) and that is in the log.
	if _, res := h.c.Leave(ctx(t), "g", []LeaveMember{{MemberID: b}}); res[0].ErrorCode != 0 {
		t.Fatalf("leave: %+v", res)
	}
	if st := h.state("g"); st != "Empty" {
		t.Fatalf("state %s", st)
	}
	recs, _ := h.store.Records(h.c.PartitionFor("g"))
	e, _ := DecodeRecord(recs[len(recs)-1].Key, recs[len(recs)-1].Value)
	if e.Group == nil || e.Group.Generation != 4 || len(e.Group.Members) != 0 || e.Group.Protocol != nil {
		t.Fatalf("last record: %+v", e.Group)
	}
}

func TestThreeMembersLeaderElection(t *testing.T) {
	h := newHarness(t)
	ids := h.stableGroup("g", 3)
	// The leader (first to join) leaves: the next in join order leads.
	if _, res := h.c.Leave(ctx(t), "g", []LeaveMember{{MemberID: ids[0]}}); res[0].ErrorCode != 0 {
		t.Fatal(res)
	}
	c1 := h.joinAsync(joinReq("g", ids[1]))
	c2 := h.joinAsync(joinReq("g", ids[2]))
	r1, r2 := recv(t, c1), recv(t, c2)
	if r1.Leader != ids[1] || r2.Leader != ids[1] || len(r1.Members) != 2 || r1.Generation != 3 {
		t.Fatalf("after leader left: %+v %+v", r1, r2)
	}
	if got := sortedIDs(r1.Members); !(got[0] == min(ids[1], ids[2]) && got[1] == max(ids[1], ids[2])) {
		t.Fatalf("members %v", got)
	}
}

func TestRebalanceTimeoutDropsLaggard(t *testing.T) {
	h := newHarness(t)
	ids := h.stableGroup("g", 2)
	// A third member joins; only ids[0] rejoins; ids[1] keeps heartbeating but never
	// rejoins and is dropped at the rebalance timeout (30s).
	c, cc := h.joinNew("g")
	h.waitJoins("g", 1)
	c0 := h.joinAsync(joinReq("g", ids[0]))
	h.waitJoins("g", 2)
	for range 5 {
		h.clock.Advance(5 * time.Second)
		if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: ids[1], Generation: 2}); code != ErrRebalanceInProgress {
			t.Fatalf("heartbeat: %d", code)
		}
	}
	h.clock.Advance(5 * time.Second)
	r0, rc := recv(t, c0), recv(t, cc)
	if r0.ErrorCode != 0 || rc.ErrorCode != 0 || r0.Generation != 3 || len(r0.Members) != 2 || rc.MemberID != c {
		t.Fatalf("joins: %+v %+v", r0, rc)
	}
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: ids[1], Generation: 2}); code != ErrUnknownMemberID {
		t.Fatalf("dropped member heartbeat: %d", code)
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t)
	ids := h.stableGroup("g", 2)
	// ids[0] heartbeats every 3s, ids[1] is silent: after 10s its session expires.
	for range 3 {
		h.clock.Advance(3 * time.Second)
		if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: ids[0], Generation: 2}); code != 0 {
			t.Fatalf("heartbeat: %d", code)
		}
	}
	h.clock.Advance(3 * time.Second)
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: ids[0], Generation: 2}); code != ErrRebalanceInProgress {
		t.Fatalf("heartbeat after expiry: %d", code)
	}
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: ids[1], Generation: 2}); code != ErrUnknownMemberID {
		t.Fatalf("expired member: %d", code)
	}
	r := h.c.Join(ctx(t), joinReq("g", ids[0]))
	if r.ErrorCode != 0 || r.Generation != 3 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %+v", r)
	}
	// Nobody syncs: after the rebalance timeout the member is dropped and the group is
	// Empty.
	h.clock.Advance(31 * time.Second)
	if st := h.state("g"); st != "Empty" {
		t.Fatalf("state %s", st)
	}
	// A pending member id (MEMBER_ID_REQUIRED) that never joins is forgotten.
	first := h.c.Join(ctx(t), joinReq("g", ""))
	h.clock.Advance(11 * time.Second)
	if r := h.c.Join(ctx(t), joinReq("g", first.MemberID)); r.ErrorCode != ErrUnknownMemberID {
		t.Fatalf("join with forgotten id: %+v", r)
	}
}

func TestStaticMembership(t *testing.T) {
	h := newHarness(t)
	inst := func(id string) *string { return &id }
	sreq := func(member, instance string) JoinRequest {
		r := joinReq("g", member)
		r.InstanceID = inst(instance)
		return r
	}
	// Static members join without the MEMBER_ID_REQUIRED round trip.
	r1 := h.c.Join(ctx(t), sreq("", "i1"))
	if r1.ErrorCode != 0 || r1.Generation != 1 || r1.Leader != r1.MemberID {
		t.Fatalf("static join: %+v", r1)
	}
	old := r1.MemberID
	if s := h.c.Sync(ctx(t), SyncRequest{Group: "g", MemberID: old, InstanceID: inst("i1"), Generation: 1, Assignments: []MemberAssignment{{MemberID: old, Assignment: []byte("x")}}}); s.ErrorCode != 0 {
		t.Fatal(s)
	}
	// The member restarts: same instance id, no member id, same protocols. It replaces the
	// old incarnation without a rebalance; being the leader on JoinGroup v9 it is told to
	// skip the assignment.
	req := sreq("", "i1")
	req.SupportsSkipAssignment = true
	r2 := h.c.Join(ctx(t), req)
	if r2.ErrorCode != 0 || r2.Generation != 1 || r2.MemberID == old || r2.Leader != r2.MemberID || !r2.SkipAssignment || len(r2.Members) != 1 {
		t.Fatalf("static rejoin: %+v", r2)
	}
	if st := h.state("g"); st != "Stable" {
		t.Fatalf("state %s", st)
	}
	if s := h.c.Sync(ctx(t), SyncRequest{Group: "g", MemberID: r2.MemberID, InstanceID: inst("i1"), Generation: 1}); s.ErrorCode != 0 || string(s.Assignment) != "x" {
		t.Fatalf("sync of new incarnation: %+v", s)
	}
	// The old incarnation is fenced.
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: old, InstanceID: inst("i1"), Generation: 1}); code != ErrFencedInstanceID {
		t.Fatalf("old heartbeat: %d", code)
	}
	if codes := h.c.CommitOffsets(ctx(t), CommitRequest{Group: "g", MemberID: old, InstanceID: inst("i1"), Generation: 1, Offsets: []CommitOffset{{Topic: "t"}}}); codes[0] != ErrFencedInstanceID {
		t.Fatalf("old commit: %v", codes)
	}
	if r := h.c.Join(ctx(t), sreq(old, "i1")); r.ErrorCode != ErrFencedInstanceID {
		t.Fatalf("old join: %+v", r)
	}
	// A static member rejoining with other protocols triggers a rebalance.
	req = sreq("", "i1")
	req.Protocols = []Protocol{{Name: "sticky", Metadata: subscription("t")}, {Name: "range", Metadata: subscription("t")}}
	r3 := h.c.Join(ctx(t), req)
	if r3.ErrorCode != 0 || r3.Generation != 2 || *r3.Protocol != "sticky" {
		t.Fatalf("rejoin with new protocol: %+v", r3)
	}
	// Leave by instance id (a wrong member id is fenced).
	if _, res := h.c.Leave(ctx(t), "g", []LeaveMember{{MemberID: "wrong", InstanceID: inst("i1")}}); res[0].ErrorCode != ErrFencedInstanceID {
		t.Fatalf("fenced leave: %+v", res)
	}
	if _, res := h.c.Leave(ctx(t), "g", []LeaveMember{{InstanceID: inst("i1")}, {InstanceID: inst("i9")}}); res[0].ErrorCode != 0 || res[1].ErrorCode != ErrUnknownMemberID {
		t.Fatalf("leave: %+v", res)
	}
	if st := h.state("g"); st != "Empty" {
		t.Fatalf("state %s", st)
	}
}

func TestStaticMemberReplacedWhileWaiting(t *testing.T) {
	h := newHarness(t)
	ids := h.stableGroup("g", 1)
	inst := "i2"
	// A static member joins (rebalance starts), then restarts before the rebalance ends:
	// its first JoinGroup is fenced.
	req := joinReq("g", "")
	req.InstanceID = &inst
	first := h.joinAsync(req)
	h.waitJoins("g", 1)
	second := h.joinAsync(req)
	if r := recv(t, first); r.ErrorCode != ErrFencedInstanceID {
		t.Fatalf("first incarnation: %+v", r)
	}
	h.waitJoins("g", 1)
	r0 := h.c.Join(ctx(t), joinReq("g", ids[0]))
	r2 := recv(t, second)
	if r0.ErrorCode != 0 || r2.ErrorCode != 0 || r0.Generation != 2 || len(r0.Members) != 2 {
		t.Fatalf("joins: %+v %+v", r0, r2)
	}
}

func TestInitialRebalanceDelay(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InitialRebalanceDelay = 3 * time.Second })
	a, ca := h.joinNew("g")
	h.waitJoins("g", 1)
	h.clock.Advance(2 * time.Second)
	b, cb := h.joinNew("g")
	h.waitJoins("g", 2)
	h.clock.Advance(time.Second) // first delay over, but b arrived: one more delay
	select {
	case r := <-ca:
		t.Fatalf("join completed during the delay: %+v", r)
	default:
	}
	h.clock.Advance(3 * time.Second)
	ra, rb := recv(t, ca), recv(t, cb)
	if ra.Generation != 1 || rb.Generation != 1 || ra.Leader != a || len(ra.Members) != 2 || rb.MemberID != b {
		t.Fatalf("joins: %+v %+v", ra, rb)
	}
}

func TestSyncFailureRebalances(t *testing.T) {
	h := newHarness(t)
	id, ch := h.joinNew("g")
	r := recv(t, ch)
	h.store.FailAppends(func(int32, []Record) error { return ErrNotLeader })
	s := h.c.Sync(ctx(t), SyncRequest{Group: "g", MemberID: id, Generation: r.Generation, Assignments: []MemberAssignment{{MemberID: id}}})
	if s.ErrorCode != ErrNotCoordinator {
		t.Fatalf("sync: %+v", s)
	}
	if st := h.state("g"); st != "PreparingRebalance" {
		t.Fatalf("state %s", st)
	}
}
