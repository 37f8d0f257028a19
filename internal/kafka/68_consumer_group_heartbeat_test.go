package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// KIP-848 end to end: franz-go consumers with ServerSideBalancer against a Server whose
// coordinator assigns partitions.

// fakeTopicSource is the coreFake's topics as a group.TopicSource (the broker implements
// it on its own metadata).
type fakeTopicSource struct{ f *coreFake }

func (s fakeTopicSource) Partitions(topic string) ([16]byte, int32, bool) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	t := s.f.topics[topic]
	if t == nil {
		return [16]byte{}, 0, false
	}
	return t.id, int32(len(t.parts)), true
}

func (s fakeTopicSource) TopicByID(id [16]byte) (string, bool) { return s.f.TopicNameByID(id) }

// newConsumerGroups is newFakeGroupsOn with the consumer group protocol enabled and a
// short heartbeat interval.
func newConsumerGroups(f *coreFake, store *group.MemStore) *group.Coordinator {
	c := group.NewCoordinator(group.Config{
		Store: store, Logger: coreLogger(), Topics: fakeTopicSource{f},
		ConsumerHeartbeatInterval: 100 * time.Millisecond,
	})
	for p := range int32(group.DefaultPartitions) {
		if err := c.Load(context.Background(), p); err != nil {
			panic(err)
		}
	}
	return c
}

func TestConsumerGroupFranz848Uniform(t *testing.T) {
	testConsumerGroupFranz848(t, kgo.StickyBalancer(), "uniform")
}

func TestConsumerGroupFranz848Range(t *testing.T) {
	testConsumerGroupFranz848(t, kgo.RangeBalancer(), "range")
}

// testConsumerGroupFranz848: two consumers using the consumer group protocol share a
// 4-partition topic; one leaves and the other gets everything; the committed offsets are
// where a restarted consumer resumes; no record is consumed twice.
func testConsumerGroupFranz848(t *testing.T, balancer kgo.GroupBalancer, assignor string) {
	_, f, addr := startCore(t, Config{})
	const topic, groupID, parts = "kt", "kg", 4
	f.createTopic(topic, parts)
	store := group.NewMemStore(group.DefaultPartitions)
	f.setGroups(newConsumerGroups(f, store))
	produceValues(t, addr, topic, "a", 40, parts)

	opts := []kgo.Opt{kgo.Balancers(balancer), kgo.ServerSideBalancer(), kgo.DisableAutoCommit()}
	a := startGroupConsumer(t, addr, "a", groupID, topic, opts...)
	a.waitFor("all 4 partitions", func() bool { return len(a.owned) == parts })
	a.waitFor("the first records", func() bool { return a.seenAll("a", 40) })
	if err := a.cl.CommitUncommittedOffsets(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	b := startGroupConsumer(t, addr, "b", groupID, topic, opts...)
	b.waitFor("a share of the partitions", func() bool { return len(b.owned) == parts/2 })
	a.waitFor("the rest of the partitions", func() bool { return len(a.owned) == parts/2 && len(a.owned)+b.ownedN() == parts })
	produceValues(t, addr, topic, "m", 40, parts)
	for _, c := range []*groupConsumer{a, b} {
		c.waitFor("its share of the new records", func() bool {
			for p := range int32(parts) {
				if c.owned[p] && c.seen[fmt.Sprintf("m-%d", p)] == 0 {
					return false
				}
			}
			return true
		})
	}
	a.waitFor("every new record polled by one of them", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i := range 40 {
			v := fmt.Sprintf("m-%d", i)
			if a.seen[v]+b.seen[v] != 1 {
				return false
			}
		}
		return true
	})

	// ConsumerGroupDescribe.
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{groupID, "nope"}
	resp, err := req.RequestWith(testCtx(t), coreClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	d := resp.Groups[0]
	if d.ErrorCode != 0 || d.State != "Stable" || d.AssignorName != assignor || len(d.Members) != 2 || d.Epoch != d.AssignmentEpoch {
		t.Fatalf("describe: %+v", d)
	}
	for _, m := range d.Members {
		if m.MemberEpoch != d.Epoch || m.MemberType != 1 || len(m.Assignment.TopicPartitions) != 1 || len(m.Assignment.TopicPartitions[0].Partitions) != 2 || m.Assignment.TopicPartitions[0].Topic != topic {
			t.Fatalf("describe member: %+v", m)
		}
	}
	if resp.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("describe unknown group: %+v", resp.Groups[1])
	}
	adm := kadm.NewClient(coreClient(t, addr))
	listed, err := adm.ListGroups(testCtx(t))
	if err != nil || listed[groupID].ProtocolType != "consumer" || listed[groupID].State != "Stable" || listed[groupID].GroupType != "consumer" {
		t.Fatalf("list groups: %+v %v", listed, err)
	}

	// b leaves: a takes over every partition and consumes what is produced next.
	b.commitAndClose()
	a.waitFor("every partition after b left", func() bool { return len(a.owned) == parts })
	produceValues(t, addr, topic, "b", 40, parts)
	a.waitFor("every record produced after b left", func() bool { return a.seenAll("b", 40) })
	a.commitAndClose()
	for p, o := range committed(t, addr, groupID, topic) {
		if o != 30 {
			t.Fatalf("partition %d committed at %d, want 30", p, o)
		}
	}
	for _, c := range []*groupConsumer{a, b} {
		c.mu.Lock()
		for v, n := range c.seen {
			if n != 1 {
				t.Errorf("%s polled %q %d times", c.name, v, n)
			}
		}
		if len(c.pollErrs) > 0 {
			t.Errorf("%s: poll errors %v", c.name, c.pollErrs)
		}
		c.mu.Unlock()
	}

	// A restarted consumer resumes at the committed offsets, also on a new coordinator
	// (a failover: members of consumer groups join again, offsets survive).
	old := f.setGroups(newConsumerGroups(f, store))
	old.Close()
	c := startGroupConsumer(t, addr, "c", groupID, topic, opts...)
	produceValues(t, addr, topic, "c", 8, parts)
	c.waitFor("the new records", func() bool { return c.seenAll("c", 8) })
	c.mu.Lock()
	for _, v := range c.order {
		if !strings.HasPrefix(v, "c-") {
			t.Errorf("restarted consumer polled %q again", v)
		}
	}
	c.mu.Unlock()

	// A classic member cannot join the consumer group.
	classic := startGroupConsumer(t, addr, "classic", groupID, topic)
	classic.waitFor("a join error", func() bool {
		for _, err := range classic.pollErrs {
			if strings.Contains(err.Error(), kerr.InconsistentGroupProtocol.Message) {
				return true
			}
		}
		return false
	})
	classic.close()
	c.commitAndClose()
	for p, o := range committed(t, addr, groupID, topic) {
		if o != 32 {
			t.Fatalf("partition %d committed at %d, want 32", p, o)
		}
	}
}

func TestConsumerGroupCodesAreKafkas(t *testing.T) {
	for _, c := range []struct {
		got  int16
		want *kerr.Error
	}{
		{group.ErrUnsupportedVersion, kerr.UnsupportedVersion},
		{group.ErrInvalidRequest, kerr.InvalidRequest},
		{group.ErrFencedMemberEpoch, kerr.FencedMemberEpoch},
		{group.ErrUnreleasedInstanceID, kerr.UnreleasedInstanceID},
		{group.ErrStaleMemberEpoch, kerr.StaleMemberEpoch},
	} {
		if c.got != c.want.Code {
			t.Errorf("%s: %d, want %d", c.want.Message, c.got, c.want.Code)
		}
	}
}

// TestConsumerGroupClassicAPIs: the classic group APIs at the versions that know about
// consumer-protocol groups. A member of such a group commits with
// OffsetCommit v9 (the version Kafka requires of such members), its member epoch in the
// generation field: its current epoch commits; a newer one is STALE_MEMBER_EPOCH; an
// unknown member is UNKNOWN_MEMBER_ID, and neither moves the committed offsets. OffsetFetch
// v9 checks the fetching member the same way, and not a fetch with member epoch -1.
// DescribeGroups describes classic groups only: the group is Dead before v6 and
// GROUP_ID_NOT_FOUND, with a message, from v6.
func TestConsumerGroupClassicAPIs(t *testing.T) {
	s, f, _ := startCore(t, Config{})
	f.createTopic("ct", 2)
	f.setGroups(newConsumerGroups(f, group.NewMemStore(group.DefaultPartitions)))
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.MemberEpoch = 1, "cg9", "m1", 0
	hb.RebalanceTimeoutMillis, hb.SubscribedTopicNames = 30000, []string{"ct"}
	joined := adminCall[*kmsg.ConsumerGroupHeartbeatResponse](t, s, hb)
	if joined.ErrorCode != 0 || joined.MemberEpoch != 1 || joined.Assignment == nil || len(joined.Assignment.Topics) != 1 {
		t.Fatalf("join: %+v", joined)
	}
	commit := func(member string, epoch int32, offset int64) []int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.MemberID, req.Generation = 9, "cg9", member, epoch
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "ct"
		for p := range int32(2) {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, offset
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		var codes []int16
		for _, p := range adminCall[*kmsg.OffsetCommitResponse](t, s, req).Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		return codes
	}
	if got := commit("m1", 1, 7); fmt.Sprint(got) != "[0 0]" {
		t.Fatalf("commit at the member's epoch: %v", got)
	}
	if got, want := commit("m1", 5, 8), kerr.StaleMemberEpoch.Code; got[0] != want || got[1] != want {
		t.Fatalf("commit at a newer epoch: %v, want %d", got, want)
	}
	if got, want := commit("nobody", 1, 9), kerr.UnknownMemberID.Code; got[0] != want || got[1] != want {
		t.Fatalf("commit by an unknown member: %v, want %d", got, want)
	}
	fetch := func(member *string, epoch int32) kmsg.OffsetFetchResponseGroup {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 9
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group, g.MemberID, g.MemberEpoch = "cg9", member, epoch
		g.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "ct", Partitions: []int32{0, 1}}}
		req.Groups = []kmsg.OffsetFetchRequestGroup{g}
		r := adminCall[*kmsg.OffsetFetchResponse](t, s, req)
		if len(r.Groups) != 1 {
			t.Fatalf("offset fetch: %+v", r)
		}
		return r.Groups[0]
	}
	m1, nobody := "m1", "nobody"
	for _, g := range []kmsg.OffsetFetchResponseGroup{fetch(&m1, 1), fetch(nil, -1)} {
		if g.ErrorCode != 0 || len(g.Topics) != 1 || len(g.Topics[0].Partitions) != 2 {
			t.Fatalf("offset fetch: %+v", g)
		}
		for _, p := range g.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.Offset != 7 {
				t.Fatalf("committed offsets after the refused commits: %+v", g.Topics[0].Partitions)
			}
		}
	}
	if g := fetch(&m1, 5); g.ErrorCode != kerr.StaleMemberEpoch.Code || len(g.Topics) != 0 {
		t.Fatalf("offset fetch at a newer epoch: %+v", g)
	}
	if g := fetch(&nobody, 1); g.ErrorCode != kerr.UnknownMemberID.Code || len(g.Topics) != 0 {
		t.Fatalf("offset fetch by an unknown member: %+v", g)
	}
	for _, v := range []int16{5, 6} {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Version, req.Groups = v, []string{"cg9"}
		d := adminCall[*kmsg.DescribeGroupsResponse](t, s, req).Groups[0]
		if v < 6 && (d.ErrorCode != 0 || d.State != "Dead" || len(d.Members) != 0) ||
			v >= 6 && (d.ErrorCode != kerr.GroupIDNotFound.Code || d.ErrorMessage == nil || !strings.Contains(*d.ErrorMessage, "not a classic group")) {
			t.Fatalf("describe v%d of a consumer-protocol group: %+v", v, d)
		}
	}
}

// TestConsumerGroupHeartbeatVersions checks v0 and v1 through the handler: v0 gets a
// member id from the coordinator, v1 must bring one; a regex is not supported; without
// topic metadata the protocol is off.
func TestConsumerGroupHeartbeatVersions(t *testing.T) {
	s, f, _ := startCore(t, Config{})
	f.createTopic("vt", 3)
	f.setGroups(newConsumerGroups(f, group.NewMemStore(group.DefaultPartitions)))
	hb := func(v int16, member string, epoch int32, mod func(*kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatResponse {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Version, req.Group, req.MemberID, req.MemberEpoch = v, "vg", member, epoch
		req.RebalanceTimeoutMillis = 30000
		req.SubscribedTopicNames = []string{"vt"}
		if mod != nil {
			mod(req)
		}
		return adminCall[*kmsg.ConsumerGroupHeartbeatResponse](t, s, req)
	}
	r := hb(0, "", 0, nil)
	if r.ErrorCode != 0 || r.MemberID == nil || *r.MemberID == "" || r.MemberEpoch != 1 || r.HeartbeatIntervalMillis != 100 ||
		r.Assignment == nil || len(r.Assignment.Topics) != 1 || len(r.Assignment.Topics[0].Partitions) != 3 {
		t.Fatalf("v0 join: %+v", r)
	}
	if r := hb(1, "", 0, nil); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("v1 without member id: %+v", r)
	}
	r = hb(1, "m1", 0, nil)
	if r.ErrorCode != 0 || *r.MemberID != "m1" || r.MemberEpoch != 2 || r.Assignment == nil || len(r.Assignment.Topics) != 0 {
		t.Fatalf("v1 join: %+v", r)
	}
	// Keepalive: nothing changed, no assignment.
	r = hb(1, "m1", 2, func(req *kmsg.ConsumerGroupHeartbeatRequest) {
		req.RebalanceTimeoutMillis, req.SubscribedTopicNames = -1, nil
	})
	if r.ErrorCode != 0 || r.MemberEpoch != 2 || r.Assignment != nil {
		t.Fatalf("v1 keepalive: %+v", r)
	}
	if r := hb(1, "m1", 9, nil); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Fatalf("fenced: %+v", r)
	}
	re := "v.*"
	if r := hb(1, "m2", 0, func(req *kmsg.ConsumerGroupHeartbeatRequest) {
		req.SubscribedTopicRegex, req.SubscribedTopicNames = &re, nil
	}); r.ErrorCode != kerr.UnsupportedVersion.Code || r.ErrorMessage == nil {
		t.Fatalf("regex: %+v", r)
	}
	if r := hb(1, "m1", -1, nil); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	f.setGroups(newFakeGroups()) // no TopicSource
	if r := hb(1, "m3", 0, nil); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("without topic metadata: %+v", r)
	}
}

// TestConsumerGroupFranz848Static: a static member that restarts within its session gets
// its partitions back without the other member losing any, and with the group epoch
// unchanged.
func TestConsumerGroupFranz848Static(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	const topic, groupID, parts = "skt", "skg", 4
	f.createTopic(topic, parts)
	f.setGroups(newConsumerGroups(f, group.NewMemStore(group.DefaultPartitions)))
	opts := func(inst string) []kgo.Opt {
		return []kgo.Opt{kgo.Balancers(kgo.StickyBalancer()), kgo.ServerSideBalancer(), kgo.InstanceID(inst)}
	}
	a := startGroupConsumer(t, addr, "a", groupID, topic, opts("inst-a")...)
	a.waitFor("all partitions", func() bool { return len(a.owned) == parts })
	b := startGroupConsumer(t, addr, "b", groupID, topic, opts("inst-b")...)
	b.waitFor("half the partitions", func() bool { return len(b.owned) == parts/2 })
	a.waitFor("half the partitions", func() bool { return len(a.owned) == parts/2 })
	describe := func() kmsg.ConsumerGroupDescribeResponseGroup {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{groupID}
		resp, err := req.RequestWith(testCtx(t), coreClient(t, addr))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Groups[0]
	}
	d1 := describe()
	b.mu.Lock()
	bOwned := fmt.Sprint(b.owned)
	b.mu.Unlock()
	b.close()
	b2 := startGroupConsumer(t, addr, "b2", groupID, topic, opts("inst-b")...)
	b2.waitFor("b's partitions", func() bool { return fmt.Sprint(b2.owned) == bOwned })
	d2 := describe()
	if d2.Epoch != d1.Epoch || len(d2.Members) != 2 || d2.State != "Stable" {
		t.Fatalf("after the static restart: %+v (before: %+v)", d2, d1)
	}
	if a.ownedN() != parts/2 {
		t.Fatalf("a owns %d partitions", a.ownedN())
	}
}

// TestConsumerGroupFranz848Failover replaces the coordinator under a live consumer: its
// member is unknown to the new coordinator, it joins again and keeps consuming from the
// committed offsets.
func TestConsumerGroupFranz848Failover(t *testing.T) {
	testCoordinatorFailover(t, "kft", "kfg", newConsumerGroups, kgo.Balancers(kgo.StickyBalancer()), kgo.ServerSideBalancer())
}

// TestConsumerGroupFranz848RegexFallsBack: a regex subscription is not supported by the
// consumer group protocol here; franz-go falls back to the classic protocol and consumes.
func TestConsumerGroupFranz848RegexFallsBack(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	const topic, groupID, parts = "rx-topic", "rxg", 2
	f.createTopic(topic, parts)
	f.setGroups(newConsumerGroups(f, group.NewMemStore(group.DefaultPartitions)))
	produceValues(t, addr, topic, "a", 10, parts)
	a := startGroupConsumer(t, addr, "a", groupID, "rx-.*", kgo.ConsumeRegex(), kgo.Balancers(kgo.StickyBalancer()), kgo.ServerSideBalancer())
	a.waitFor("the records", func() bool { return a.seenAll("a", 10) })
	adm := kadm.NewClient(coreClient(t, addr))
	described, err := adm.DescribeGroups(testCtx(t), groupID)
	if err != nil || described[groupID].State != "Stable" || described[groupID].Protocol != "sticky" {
		t.Fatalf("describe (classic): %+v %v", described[groupID], err)
	}
}
