package group

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func commit(group string, gen int32, member string, offsets ...CommitOffset) CommitRequest {
	return CommitRequest{Group: group, Generation: gen, MemberID: member, Offsets: offsets}
}

func off(topic string, p int32, o int64) CommitOffset {
	md := fmt.Sprintf("md-%d", o)
	return CommitOffset{Topic: topic, Partition: p, Offset: o, LeaderEpoch: 3, Metadata: &md}
}

func (h *harness) fetch(group string, tps ...TopicPartition) map[TopicPartition]int64 {
	h.t.Helper()
	code, got := h.c.FetchOffsets(ctx(h.t), group, NoFetchMember, tps, tps == nil)
	if code != 0 {
		h.t.Fatalf("fetch %s: code %d", group, code)
	}
	out := map[TopicPartition]int64{}
	for _, f := range got {
		out[TopicPartition{f.Topic, f.Partition}] = f.Offset
	}
	return out
}

func TestSimpleConsumerCommits(t *testing.T) {
	h := newHarness(t)
	codes := h.c.CommitOffsets(ctx(t), commit("simple", -1, "", off("t", 0, 10), off("t", 1, 20)))
	if codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("commit: %v", codes)
	}
	got := h.fetch("simple", TopicPartition{"t", 0}, TopicPartition{"t", 1}, TopicPartition{"t", 2})
	if got[TopicPartition{"t", 0}] != 10 || got[TopicPartition{"t", 1}] != 20 || got[TopicPartition{"t", 2}] != -1 {
		t.Fatalf("fetch: %v", got)
	}
	_, all := h.c.FetchOffsets(ctx(t), "simple", NoFetchMember, nil, true)
	if len(all) != 2 || all[0].Metadata != "md-10" || all[0].LeaderEpoch != 3 {
		t.Fatalf("fetch all: %+v", all)
	}
	// Unknown group: offsets -1, no error.
	if got := h.fetch("nobody", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != -1 {
		t.Fatalf("unknown group: %v", got)
	}
	// A generation >= 0 for a group that does not exist is refused.
	if codes := h.c.CommitOffsets(ctx(t), commit("fresh", 3, "m", off("t", 0, 1))); codes[0] != ErrIllegalGeneration {
		t.Fatalf("commit: %v", codes)
	}
	// Metadata too large.
	big := string(make([]byte, DefaultMaxMetadataSize+1))
	codes = h.c.CommitOffsets(ctx(t), commit("simple", -1, "", CommitOffset{Topic: "t", Partition: 5, Offset: 1, Metadata: &big}, off("t", 6, 1)))
	if codes[0] != ErrOffsetMetadataTooLarge || codes[1] != 0 {
		t.Fatalf("big metadata: %v", codes)
	}
	// Once the group has members, simple commits are refused.
	ids := h.stableGroup("simple", 1)
	if codes := h.c.CommitOffsets(ctx(t), commit("simple", -1, "", off("t", 0, 11))); codes[0] != ErrUnknownMemberID {
		t.Fatalf("simple commit to active group: %v", codes)
	}
	if codes := h.c.CommitOffsets(ctx(t), commit("simple", 1, ids[0], off("t", 0, 12))); codes[0] != 0 {
		t.Fatalf("member commit: %v", codes)
	}
	if codes := h.c.CommitOffsets(ctx(t), commit("simple", 0, ids[0], off("t", 0, 12))); codes[0] != ErrIllegalGeneration {
		t.Fatalf("stale commit: %v", codes)
	}
	if got := h.fetch("simple", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != 12 {
		t.Fatalf("fetch: %v", got)
	}
}

func TestCommitFailureIsNotApplied(t *testing.T) {
	h := newHarness(t)
	h.c.CommitOffsets(ctx(t), commit("g", -1, "", off("t", 0, 1)))
	h.store.FailAppends(func(int32, []Record) error { return errors.New("disk on fire") })
	if codes := h.c.CommitOffsets(ctx(t), commit("g", -1, "", off("t", 0, 2))); codes[0] != ErrCoordinatorNotAvailable {
		t.Fatalf("commit: %v", codes)
	}
	h.store.FailAppends(func(int32, []Record) error { return fmt.Errorf("raft: %w", ErrNotLeader) })
	if codes := h.c.CommitOffsets(ctx(t), commit("g", -1, "", off("t", 0, 2))); codes[0] != ErrNotCoordinator {
		t.Fatalf("commit: %v", codes)
	}
	h.store.FailAppends(func(int32, []Record) error { return context.DeadlineExceeded })
	if codes := h.c.CommitOffsets(ctx(t), commit("g", -1, "", off("t", 0, 2))); codes[0] != ErrRequestTimedOut {
		t.Fatalf("commit: %v", codes)
	}
	if got := h.fetch("g", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != 1 {
		t.Fatalf("fetch: %v", got)
	}
}

func TestOffsetsSurviveUnloadLoad(t *testing.T) {
	h := newHarness(t)
	ids := h.stableGroup("g", 2)
	h.c.CommitOffsets(ctx(t), commit("g", 2, ids[0], off("t", 0, 100), off("t", 1, 200)))
	h.c.CommitOffsets(ctx(t), commit("g", 2, ids[1], off("t", 1, 201)))
	h.c.CommitOffsets(ctx(t), commit("s", -1, "", off("u", 0, 7)))
	h.c.CommitOffsets(ctx(t), commit("s", -1, "", off("u", 0, 8)))

	p := h.c.PartitionFor("g")
	join := h.joinAsync(joinReq("g", ids[0])) // waits in a rebalance: answered NOT_COORDINATOR
	h.waitJoins("g", 1)
	h.c.Unload(p)
	if r := recv(t, join); r.ErrorCode != ErrNotCoordinator {
		t.Fatalf("waiting join: %+v", r)
	}
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: ids[0], Generation: 2}); code != ErrNotCoordinator {
		t.Fatalf("heartbeat after unload: %d", code)
	}
	if code, _ := h.c.FetchOffsets(ctx(t), "g", NoFetchMember, nil, true); code != ErrNotCoordinator {
		t.Fatalf("fetch after unload: %d", code)
	}
	if err := h.c.Load(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	got := h.fetch("g", TopicPartition{"t", 0}, TopicPartition{"t", 1})
	if got[TopicPartition{"t", 0}] != 100 || got[TopicPartition{"t", 1}] != 201 {
		t.Fatalf("fetch after load: %v", got)
	}
	ps := h.c.PartitionFor("s")
	h.c.Unload(ps)
	h.c.Load(ctx(t), ps)
	if got := h.fetch("s", TopicPartition{"u", 0}); got[TopicPartition{"u", 0}] != 8 {
		t.Fatalf("simple group after load: %v", got)
	}
	// The members are back, Stable in generation 2 with their assignments.
	d := h.c.DescribeGroups(ctx(t), []string{"g"})[0]
	if d.State != "Stable" || len(d.Members) != 2 || string(d.Members[1].Assignment) != "\x01" || d.Protocol != "range" {
		t.Fatalf("describe after load: %+v", d)
	}
	if code := h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g", MemberID: ids[1], Generation: 2}); code != 0 {
		t.Fatalf("heartbeat after load: %d", code)
	}
	if s := h.c.Sync(ctx(t), SyncRequest{Group: "g", MemberID: ids[1], Generation: 2}); s.ErrorCode != 0 || string(s.Assignment) != "\x01" {
		t.Fatalf("sync after load: %+v", s)
	}
	// A member that does not heartbeat after the failover expires as usual.
	h.clock.Advance(11 * time.Second)
	if st := h.state("g"); st != "PreparingRebalance" && st != "Empty" {
		t.Fatalf("state %s", st)
	}
}

func TestLoadInProgress(t *testing.T) {
	store := &blockingStore{MemStore: NewMemStore(1), release: make(chan struct{})}
	c := NewCoordinator(Config{Store: store, Partitions: 1, Clock: newFakeClock(), Logger: testLogger()})
	defer c.Close()
	if code := c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g"}); code != ErrNotCoordinator {
		t.Fatalf("before load: %d", code)
	}
	done := make(chan error, 1)
	go func() { done <- c.Load(context.Background(), 0) }()
	deadline := time.Now().Add(10 * time.Second)
	for c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g"}) != ErrCoordinatorLoadInProgress {
		if time.Now().After(deadline) {
			t.Fatal("never loading")
		}
		time.Sleep(time.Millisecond)
	}
	if code, _ := c.ListGroups(nil, nil); code != ErrCoordinatorLoadInProgress {
		t.Fatalf("list while loading: %d", code)
	}
	close(store.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code := c.Heartbeat(ctx(t), HeartbeatRequest{Group: "g"}); code != ErrUnknownMemberID {
		t.Fatalf("after load: %d", code)
	}
}

type blockingStore struct {
	*MemStore
	release chan struct{}
}

func (s *blockingStore) Scan(ctx context.Context, p int32, fn func(Record) error) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.MemStore.Scan(ctx, p, fn)
}

func TestDeleteGroups(t *testing.T) {
	h := newHarness(t)
	ids := h.stableGroup("g", 1)
	h.c.CommitOffsets(ctx(t), commit("g", 1, ids[0], off("t", 0, 5)))
	res := h.c.DeleteGroups(ctx(t), []string{"g", "missing"})
	if res[0].ErrorCode != ErrNonEmptyGroup || res[1].ErrorCode != ErrGroupIDNotFound {
		t.Fatalf("delete: %+v", res)
	}
	h.c.Leave(ctx(t), "g", []LeaveMember{{MemberID: ids[0]}})
	if res := h.c.DeleteGroups(ctx(t), []string{"g"}); res[0].ErrorCode != 0 {
		t.Fatalf("delete: %+v", res)
	}
	if got := h.fetch("g", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != -1 {
		t.Fatalf("offsets after delete: %v", got)
	}
	if d := h.c.DescribeGroups(ctx(t), []string{"g"})[0]; d.State != "Dead" || d.ErrorCode != 0 {
		t.Fatalf("describe: %+v", d)
	}
	// Still gone after a reload.
	p := h.c.PartitionFor("g")
	h.c.Unload(p)
	h.c.Load(ctx(t), p)
	if _, gs := h.c.ListGroups(nil, nil); len(gs) != 0 {
		t.Fatalf("groups after reload: %+v", gs)
	}
	if got := h.fetch("g", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != -1 {
		t.Fatalf("offsets after reload: %v", got)
	}
	// The group can be used again.
	h.stableGroup("g", 1)
}

func TestListGroups(t *testing.T) {
	h := newHarness(t)
	h.stableGroup("stable", 1)
	h.c.CommitOffsets(ctx(t), commit("simple", -1, "", off("t", 0, 1)))
	id, ch := h.joinNew("completing")
	recv(t, ch)
	_ = id
	code, gs := h.c.ListGroups(nil, nil)
	if code != 0 || len(gs) != 3 {
		t.Fatalf("list: %d %+v", code, gs)
	}
	want := []ListedGroup{{"completing", "consumer", "CompletingRebalance", "classic"}, {"simple", "", "Empty", "classic"}, {"stable", "consumer", "Stable", "classic"}}
	for i := range want {
		if gs[i] != want[i] {
			t.Fatalf("list[%d] = %+v, want %+v", i, gs[i], want[i])
		}
	}
	_, gs = h.c.ListGroups([]string{"stable", "empty"}, nil)
	if len(gs) != 2 || gs[0].Group != "simple" || gs[1].Group != "stable" {
		t.Fatalf("filtered: %+v", gs)
	}
	_, gs = h.c.ListGroups([]string{"Dead"}, nil)
	if len(gs) != 0 {
		t.Fatalf("dead: %+v", gs)
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t)
	ids := h.stableGroup("g", 1) // subscribed to "t"
	h.c.CommitOffsets(ctx(t), commit("g", 1, ids[0], off("t", 0, 5), off("old", 0, 9)))
	code, codes := h.c.DeleteOffsets(ctx(t), "g", []TopicPartition{{"t", 0}, {"old", 0}, {"old", 1}})
	if code != 0 || codes[0] != ErrGroupSubscribedToTopic || codes[1] != 0 || codes[2] != 0 {
		t.Fatalf("offset delete: %d %v", code, codes)
	}
	got := h.fetch("g", TopicPartition{"t", 0}, TopicPartition{"old", 0})
	if got[TopicPartition{"t", 0}] != 5 || got[TopicPartition{"old", 0}] != -1 {
		t.Fatalf("fetch: %v", got)
	}
	if code, _ := h.c.DeleteOffsets(ctx(t), "nope", []TopicPartition{{"t", 0}}); code != ErrGroupIDNotFound {
		t.Fatalf("unknown group: %d", code)
	}
	// Empty group: anything goes.
	h.c.Leave(ctx(t), "g", []LeaveMember{{MemberID: ids[0]}})
	if _, codes := h.c.DeleteOffsets(ctx(t), "g", []TopicPartition{{"t", 0}}); codes[0] != 0 {
		t.Fatalf("offset delete on empty group: %v", codes)
	}
	if got := h.fetch("g", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != -1 {
		t.Fatalf("fetch: %v", got)
	}
}

func TestOffsetRetention(t *testing.T) {
	h := newHarness(t)
	h.session = 30 * time.Minute
	h.c.CommitOffsets(ctx(t), commit("simple", -1, "", off("t", 0, 1)))
	ids := h.stableGroup("active", 1)
	h.c.CommitOffsets(ctx(t), commit("active", 1, ids[0], off("t", 0, 1), off("gone", 0, 1)))
	ids2 := h.stableGroup("left", 1)
	h.c.CommitOffsets(ctx(t), commit("left", 1, ids2[0], off("t", 0, 1)))
	alive := func(d time.Duration) { // advance d, the active member heartbeating
		for range int(d / (10 * time.Minute)) {
			h.clock.Advance(10 * time.Minute)
			h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "active", MemberID: ids[0], Generation: 1})
			h.c.Heartbeat(ctx(t), HeartbeatRequest{Group: "left", MemberID: ids2[0], Generation: 1})
		}
	}
	alive(24 * time.Hour)
	h.c.Leave(ctx(t), "left", []LeaveMember{{MemberID: ids2[0]}})
	alive(6 * 24 * time.Hour)
	// 7 days after the commit: the simple group's offset and the active group's offset of
	// a topic it does not subscribe to are gone; "left" became Empty a day later.
	if got := h.fetch("simple", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != -1 {
		t.Fatalf("simple: %v", got)
	}
	if got := h.fetch("active", TopicPartition{"t", 0}, TopicPartition{"gone", 0}); got[TopicPartition{"t", 0}] != 1 || got[TopicPartition{"gone", 0}] != -1 {
		t.Fatalf("active: %v", got)
	}
	if got := h.fetch("left", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != 1 {
		t.Fatalf("left (early): %v", got)
	}
	alive(24 * time.Hour)
	if got := h.fetch("left", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != -1 {
		t.Fatalf("left: %v", got)
	}
	_, gs := h.c.ListGroups(nil, nil)
	if len(gs) != 1 || gs[0].Group != "active" {
		t.Fatalf("groups: %+v", gs)
	}
	// And the expiry is durable.
	for p := range int32(testParts) {
		h.c.Unload(p)
		h.c.Load(ctx(t), p)
	}
	if got := h.fetch("simple", TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != -1 {
		t.Fatalf("simple after reload: %v", got)
	}
	if _, gs := h.c.ListGroups(nil, nil); len(gs) != 1 {
		t.Fatalf("groups after reload: %+v", gs)
	}
}

func TestCompaction(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CompactionThreshold = 10 })
	ids := h.stableGroup("g", 1)
	p := h.c.PartitionFor("g")
	for i := range 100 {
		codes := h.c.CommitOffsets(ctx(t), commit("g", 1, ids[0], off("t", int32(i%3), int64(i))))
		if codes[0] != 0 {
			t.Fatal(codes)
		}
		recs, _ := h.store.Records(p)
		// Live state: 1 group record + 3 offsets; at most threshold-1 appended since.
		if len(recs) > 4+9 {
			t.Fatalf("after %d commits the log holds %d records", i+1, len(recs))
		}
	}
	if h.store.LogStart(p) == 0 {
		t.Fatal("log start never moved")
	}
	h.c.Unload(p)
	if err := h.c.Load(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	got := h.fetch("g", TopicPartition{"t", 0}, TopicPartition{"t", 1}, TopicPartition{"t", 2})
	if got[TopicPartition{"t", 0}] != 99 || got[TopicPartition{"t", 1}] != 97 || got[TopicPartition{"t", 2}] != 98 {
		t.Fatalf("after compaction and reload: %v", got)
	}
	if d := h.c.DescribeGroups(ctx(t), []string{"g"})[0]; d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("group after reload: %+v", d)
	}
	// An explicit compaction of a partition holding deleted state leaves only live records.
	h.c.Leave(ctx(t), "g", []LeaveMember{{MemberID: ids[0]}})
	h.c.DeleteGroups(ctx(t), []string{"g"})
	if err := h.c.Compact(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	if recs, _ := h.store.Records(p); len(recs) != 0 {
		t.Fatalf("records after deleting everything: %d", len(recs))
	}
}

func TestConcurrentCommitsAndCompaction(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CompactionThreshold = 7 })
	const writers, commits = 4, 50
	done := make(chan struct{})
	for w := range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range commits {
				g := fmt.Sprintf("g%d", w)
				if codes := h.c.CommitOffsets(context.Background(), commit(g, -1, "", off("t", 0, int64(i)))); codes[0] != 0 {
					t.Errorf("commit: %v", codes)
					return
				}
			}
		}()
	}
	for range writers {
		<-done
	}
	for p := range int32(testParts) {
		h.c.Unload(p)
		h.c.Load(ctx(t), p)
	}
	for w := range writers {
		if got := h.fetch(fmt.Sprintf("g%d", w), TopicPartition{"t", 0}); got[TopicPartition{"t", 0}] != commits-1 {
			t.Fatalf("g%d: %v", w, got)
		}
	}
}

func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		s    string
		hash int32
		p50  int32
	}{
		{"", 0, 0},
		{"a", 97, 47},
		{"hello", 99162322, 22},
		{"polygenelubricants", -1 << 31, 0}, // Java's hashCode is Integer.MIN_VALUE
		{"\U0001F600", 1772899, 49},         // a surrogate pair
		{"my-group", -1906497762, 12},
	} {
		if h := javaStringHashCode(tc.s); h != tc.hash {
			t.Errorf("hash(%q) = %d, want %d", tc.s, h, tc.hash)
		}
		if p := PartitionFor(tc.s, 50); p != tc.p50 {
			t.Errorf("PartitionFor(%q) = %d, want %d", tc.s, p, tc.p50)
		}
	}
}

func TestAppendErrCodes(t *testing.T) {
	for _, tc := range []struct {
		err    error
		commit bool
		want   int16
	}{
		{nil, true, ErrNone},
		{fmt.Errorf("x: %w", ErrNotLeader), false, ErrNotCoordinator},
		{fmt.Errorf("x: %w", kerr.NotCoordinator), true, ErrNotCoordinator},
		{kerr.NotLeaderForPartition, false, ErrNotCoordinator},
		{kerr.MessageTooLarge, true, ErrInvalidCommitOffsetSize},
		{kerr.MessageTooLarge, false, ErrUnknownServerError},
		{kerr.RequestTimedOut, true, ErrRequestTimedOut},
		{kerr.RequestTimedOut, false, ErrCoordinatorNotAvailable},
		{kerr.NotEnoughReplicas, true, ErrCoordinatorNotAvailable},
		{context.DeadlineExceeded, true, ErrRequestTimedOut},
		{context.DeadlineExceeded, false, ErrCoordinatorNotAvailable},
		{errors.New("boom"), true, ErrCoordinatorNotAvailable},
	} {
		if got := appendErrCode(tc.err, tc.commit); got != tc.want {
			t.Errorf("appendErrCode(%v, %v) = %d, want %d", tc.err, tc.commit, got, tc.want)
		}
	}
}
