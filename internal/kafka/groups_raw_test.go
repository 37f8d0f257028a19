package kafka

import (
	"fmt"
	"testing"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Version-by-version checks of the group APIs, through the handlers with every request
// and response encoded and decoded at its version (adminCall).

func TestGroupRegistered(t *testing.T) {
	want := map[int16][2]int16{8: {0, 9}, 9: {0, 9}, 10: {0, 4}, 11: {0, 9}, 12: {0, 4}, 13: {0, 5}, 14: {0, 5}, 15: {0, 6}, 16: {0, 5}, 42: {0, 2}, 47: {0, 0}, 68: {0, 1}, 69: {0, 1}}
	for key, vs := range want {
		a, ok := apis[key]
		if !ok || a.minVersion != vs[0] || a.maxVersion != vs[1] {
			t.Errorf("key %d: got %+v, want versions %v", key, a, vs)
		}
	}
}

func TestGroupCodesAreKafkas(t *testing.T) {
	for _, c := range []struct {
		got  int16
		want *kerr.Error
	}{
		{group.ErrUnknownServerError, kerr.UnknownServerError},
		{group.ErrUnknownTopicOrPartition, kerr.UnknownTopicOrPartition},
		{group.ErrRequestTimedOut, kerr.RequestTimedOut},
		{group.ErrOffsetMetadataTooLarge, kerr.OffsetMetadataTooLarge},
		{group.ErrCoordinatorLoadInProgress, kerr.CoordinatorLoadInProgress},
		{group.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
		{group.ErrNotCoordinator, kerr.NotCoordinator},
		{group.ErrIllegalGeneration, kerr.IllegalGeneration},
		{group.ErrInconsistentGroupProtocol, kerr.InconsistentGroupProtocol},
		{group.ErrInvalidGroupID, kerr.InvalidGroupID},
		{group.ErrUnknownMemberID, kerr.UnknownMemberID},
		{group.ErrInvalidSessionTimeout, kerr.InvalidSessionTimeout},
		{group.ErrRebalanceInProgress, kerr.RebalanceInProgress},
		{group.ErrInvalidCommitOffsetSize, kerr.InvalidCommitOffsetSize},
		{group.ErrNonEmptyGroup, kerr.NonEmptyGroup},
		{group.ErrGroupIDNotFound, kerr.GroupIDNotFound},
		{group.ErrMemberIDRequired, kerr.MemberIDRequired},
		{group.ErrGroupMaxSizeReached, kerr.GroupMaxSizeReached},
		{group.ErrFencedInstanceID, kerr.FencedInstanceID},
		{group.ErrGroupSubscribedToTopic, kerr.GroupSubscribedToTopic},
	} {
		if c.got != c.want.Code {
			t.Errorf("%s: coordinator code %d, Kafka's %d", c.want.Message, c.got, c.want.Code)
		}
	}
}

// TestGroupRecordsAreKafkas checks the __consumer_offsets records against kmsg's
// definitions of Kafka's schemas.
func TestGroupRecordsAreKafkas(t *testing.T) {
	k := kmsg.NewOffsetCommitKey()
	if err := k.ReadFrom(group.EncodeOffsetKey(group.OffsetKey{Group: "g", Topic: "t", Partition: 3})); err != nil || k.Version != 1 || k.Group != "g" || k.Topic != "t" || k.Partition != 3 {
		t.Fatalf("offset key: %+v %v", k, err)
	}
	v := kmsg.NewOffsetCommitValue()
	if err := v.ReadFrom(group.EncodeOffsetValue(group.OffsetValue{Offset: 9, LeaderEpoch: 2, Metadata: "m", CommitTimestamp: 77})); err != nil ||
		v.Version != 3 || v.Offset != 9 || v.LeaderEpoch != 2 || v.Metadata != "m" || v.CommitTimestamp != 77 {
		t.Fatalf("offset value: %+v %v", v, err)
	}
	gk := kmsg.NewGroupMetadataKey()
	if err := gk.ReadFrom(group.EncodeGroupKey("g")); err != nil || gk.Version != 2 || gk.Group != "g" {
		t.Fatalf("group key: %+v %v", gk, err)
	}
	inst, proto, leader := "i", "range", "m"
	gv := kmsg.NewGroupMetadataValue()
	err := gv.ReadFrom(group.EncodeGroupValue(group.GroupValue{
		ProtocolType: "consumer", Generation: 4, Protocol: &proto, Leader: &leader, CurrentStateTimestamp: 5,
		Members: []group.MemberValue{{MemberID: "m", InstanceID: &inst, ClientID: "c", ClientHost: "h", RebalanceTimeout: 6, SessionTimeout: 7, Subscription: []byte{1}, Assignment: []byte{2}}},
	}))
	if err != nil || gv.Version != 3 || gv.ProtocolType != "consumer" || gv.Generation != 4 || *gv.Protocol != "range" || *gv.Leader != "m" ||
		gv.CurrentStateTimestamp != 5 || len(gv.Members) != 1 {
		t.Fatalf("group value: %+v %v", gv, err)
	}
	m := gv.Members[0]
	if m.MemberID != "m" || *m.InstanceID != "i" || m.ClientID != "c" || m.ClientHost != "h" || m.RebalanceTimeoutMillis != 6 || m.SessionTimeoutMillis != 7 || m.Subscription[0] != 1 || m.Assignment[0] != 2 {
		t.Fatalf("member: %+v", m)
	}
	// And Kafka's encoding decodes.
	kv := kmsg.NewGroupMetadataValue()
	kv.Version, kv.ProtocolType, kv.Generation = 3, "consumer", 8
	kv.Members = append(kv.Members, kmsg.GroupMetadataValueMember{MemberID: "x", ClientID: "c", SessionTimeoutMillis: 1, Subscription: []byte{}, Assignment: []byte{}})
	e, err := group.DecodeRecord(gk.AppendTo(nil), kv.AppendTo(nil))
	if err != nil || e.Group.Generation != 8 || len(e.Group.Members) != 1 || e.Group.Members[0].MemberID != "x" {
		t.Fatalf("decode kmsg's: %+v %v", e, err)
	}
}

// groupTestServer is an admin test server with topic "t" (2 partitions).
func groupTestServer(t *testing.T) *Server {
	s, _ := newAdminTestServer()
	adminMustCreate(t, s, "t", 2)
	return s
}

func joinAt(t *testing.T, s *Server, v int16, groupID, member string) *kmsg.JoinGroupResponse {
	t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.MemberID = v, groupID, member
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 10000
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff}}}
	return adminCall[*kmsg.JoinGroupResponse](t, s, req)
}

func TestGroupMembershipVersions(t *testing.T) {
	s := groupTestServer(t)
	for v := int16(0); v <= 9; v++ {
		g := fmt.Sprintf("g%d", v)
		r := joinAt(t, s, v, g, "")
		if v >= 4 {
			if r.ErrorCode != kerr.MemberIDRequired.Code || r.MemberID == "" || r.Generation != -1 {
				t.Fatalf("v%d first join: %+v", v, r)
			}
			r = joinAt(t, s, v, g, r.MemberID)
		}
		if r.ErrorCode != 0 || r.Generation != 1 || r.LeaderID != r.MemberID || len(r.Members) != 1 || *r.Protocol != "range" {
			t.Fatalf("v%d join: %+v", v, r)
		}
		if (v >= 7) != (r.ProtocolType != nil) {
			t.Fatalf("v%d protocol type: %v", v, r.ProtocolType)
		}
		id := r.MemberID

		sv := min(v, 5)
		sreq := kmsg.NewPtrSyncGroupRequest()
		sreq.Version, sreq.Group, sreq.MemberID, sreq.Generation = sv, g, id, 1
		sreq.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: id, MemberAssignment: []byte("A")}}
		if sv >= 5 {
			wrong := "roundrobin"
			sreq.Protocol = &wrong
			if sr := adminCall[*kmsg.SyncGroupResponse](t, s, sreq); sr.ErrorCode != kerr.InconsistentGroupProtocol.Code {
				t.Fatalf("v%d sync with a wrong protocol: %+v", sv, sr)
			}
			pt, p := "consumer", "range"
			sreq.ProtocolType, sreq.Protocol = &pt, &p
		}
		sr := adminCall[*kmsg.SyncGroupResponse](t, s, sreq)
		if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "A" || (sv >= 5 && *sr.Protocol != "range") {
			t.Fatalf("v%d sync: %+v", sv, sr)
		}

		hreq := kmsg.NewPtrHeartbeatRequest()
		hreq.Version, hreq.Group, hreq.MemberID, hreq.Generation = min(v, 4), g, id, 1
		if hr := adminCall[*kmsg.HeartbeatResponse](t, s, hreq); hr.ErrorCode != 0 {
			t.Fatalf("v%d heartbeat: %+v", v, hr)
		}
		hreq.Generation = 7
		if hr := adminCall[*kmsg.HeartbeatResponse](t, s, hreq); hr.ErrorCode != kerr.IllegalGeneration.Code {
			t.Fatalf("v%d heartbeat of another generation: %+v", v, hr)
		}

		lv := min(v, 5)
		lreq := kmsg.NewPtrLeaveGroupRequest()
		lreq.Version, lreq.Group = lv, g
		if lv < 3 {
			lreq.MemberID = id
		} else {
			lreq.Members = []kmsg.LeaveGroupRequestMember{{MemberID: id}, {MemberID: "ghost"}}
		}
		lr := adminCall[*kmsg.LeaveGroupResponse](t, s, lreq)
		if lr.ErrorCode != 0 || (lv >= 3 && (len(lr.Members) != 2 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != kerr.UnknownMemberID.Code)) {
			t.Fatalf("v%d leave: %+v", lv, lr)
		}
		if lv < 3 {
			if lr := adminCall[*kmsg.LeaveGroupResponse](t, s, lreq); lr.ErrorCode != kerr.UnknownMemberID.Code {
				t.Fatalf("v%d second leave: %+v", lv, lr)
			}
		}
	}
}

func TestGroupJoinTwoMembersWire(t *testing.T) {
	s := groupTestServer(t)
	first := joinAt(t, s, 9, "g", "")
	a := joinAt(t, s, 9, "g", first.MemberID)
	first = joinAt(t, s, 9, "g", "")
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- joinAt(t, s, 9, "g", first.MemberID) }()
	// a learns of the rebalance from its heartbeat and rejoins.
	hreq := kmsg.NewPtrHeartbeatRequest()
	hreq.Version, hreq.Group, hreq.MemberID, hreq.Generation = 4, "g", a.MemberID, 1
	for {
		hr := adminCall[*kmsg.HeartbeatResponse](t, s, hreq)
		if hr.ErrorCode == kerr.RebalanceInProgress.Code {
			break
		}
	}
	ra := joinAt(t, s, 9, "g", a.MemberID)
	rb := <-ch
	if ra.Generation != 2 || rb.Generation != 2 || ra.LeaderID != a.MemberID || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("joins: %+v %+v", ra, rb)
	}
}

func commitAt(t *testing.T, s *Server, v int16, groupID string, offset int64, topics ...string) *kmsg.OffsetCommitResponse {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group = v, groupID
	for _, tp := range topics {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = tp
		for p := range int32(2) {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, offset+int64(p), 4
			md := fmt.Sprintf("v%d", v)
			rp.Metadata = &md
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return adminCall[*kmsg.OffsetCommitResponse](t, s, req)
}

func TestGroupOffsetVersions(t *testing.T) {
	s := groupTestServer(t)
	for v := int16(0); v <= 9; v++ {
		g := fmt.Sprintf("g%d", v)
		r := commitAt(t, s, v, g, 100+int64(v), "t", "missing")
		if len(r.Topics) != 2 || r.Topics[0].Partitions[0].ErrorCode != 0 || r.Topics[0].Partitions[1].ErrorCode != 0 ||
			r.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("commit v%d: %+v", v, r)
		}
	}
	for v := int16(0); v <= 7; v++ {
		for cv := int16(0); cv <= 8; cv += 4 {
			g := fmt.Sprintf("g%d", cv)
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Version, req.Group = v, g
			req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1, 5}}}
			r := adminCall[*kmsg.OffsetFetchResponse](t, s, req)
			if r.ErrorCode != 0 || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 3 {
				t.Fatalf("fetch v%d: %+v", v, r)
			}
			ps := r.Topics[0].Partitions
			wantEpoch := int32(-1)
			if v >= 5 && cv >= 6 {
				wantEpoch = 4
			}
			if ps[0].Offset != 100+int64(cv) || ps[1].Offset != 101+int64(cv) || ps[2].Offset != -1 || *ps[0].Metadata != fmt.Sprintf("v%d", cv) ||
				ps[0].LeaderEpoch != wantEpoch && v >= 5 {
				t.Fatalf("fetch v%d of commit v%d: %+v", v, cv, ps)
			}
		}
	}
	// v2+: every committed partition (null topics).
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.Group = 2, "g3"
	if r := adminCall[*kmsg.OffsetFetchResponse](t, s, req); len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 2 {
		t.Fatalf("fetch all: %+v", r)
	}
	// v8: several groups, one unknown, one asking for all.
	req = kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	req.Groups = []kmsg.OffsetFetchRequestGroup{
		{Group: "g1", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{1}}}},
		{Group: "nobody", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}},
		{Group: "g8"},
	}
	r := adminCall[*kmsg.OffsetFetchResponse](t, s, req)
	if len(r.Groups) != 3 || r.Groups[0].Topics[0].Partitions[0].Offset != 102 || r.Groups[1].Topics[0].Partitions[0].Offset != -1 ||
		len(r.Groups[2].Topics) != 1 || len(r.Groups[2].Topics[0].Partitions) != 2 || r.Groups[2].Topics[0].Partitions[0].LeaderEpoch != 4 {
		t.Fatalf("fetch v8: %+v", r)
	}
	// A member commit to a group that does not exist is refused.
	creq := kmsg.NewPtrOffsetCommitRequest()
	creq.Version, creq.Group, creq.Generation, creq.MemberID = 8, "nope", 3, "m"
	creq.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	if r := adminCall[*kmsg.OffsetCommitResponse](t, s, creq); r.Topics[0].Partitions[0].ErrorCode != kerr.IllegalGeneration.Code {
		t.Fatalf("commit to unknown group: %+v", r)
	}
}

func TestGroupFindCoordinatorVersions(t *testing.T) {
	s := groupTestServer(t)
	for v := int16(0); v <= 3; v++ {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version, req.CoordinatorKey = v, "g"
		r := adminCall[*kmsg.FindCoordinatorResponse](t, s, req)
		if r.ErrorCode != 0 || r.NodeID != 1 || r.Host != "127.0.0.1" || r.Port != 9092 {
			t.Fatalf("v%d: %+v", v, r)
		}
		if v >= 1 {
			req.CoordinatorType = 1
			r := adminCall[*kmsg.FindCoordinatorResponse](t, s, req)
			if r.ErrorCode != kerr.CoordinatorNotAvailable.Code || r.NodeID != -1 || r.ErrorMessage == nil {
				t.Fatalf("v%d transactional: %+v", v, r)
			}
		}
	}
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKeys = 4, []string{"a", "b"}
	r := adminCall[*kmsg.FindCoordinatorResponse](t, s, req)
	if len(r.Coordinators) != 2 || r.Coordinators[1].Key != "b" || r.Coordinators[1].NodeID != 1 || r.Coordinators[1].ErrorCode != 0 {
		t.Fatalf("v4: %+v", r)
	}
	req.CoordinatorType = 7
	r = adminCall[*kmsg.FindCoordinatorResponse](t, s, req)
	if r.Coordinators[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("v4 bad type: %+v", r)
	}
}

func TestGroupAdminVersions(t *testing.T) {
	s := groupTestServer(t)
	first := joinAt(t, s, 9, "active", "")
	j := joinAt(t, s, 9, "active", first.MemberID)
	sreq := kmsg.NewPtrSyncGroupRequest()
	sreq.Version, sreq.Group, sreq.MemberID, sreq.Generation = 5, "active", j.MemberID, 1
	sreq.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: j.MemberID, MemberAssignment: []byte("A")}}
	adminCall[*kmsg.SyncGroupResponse](t, s, sreq)
	commitAt(t, s, 8, "simple", 10, "t")

	for v := int16(0); v <= 6; v++ {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Version, req.Groups = v, []string{"active", "simple", "nobody"}
		r := adminCall[*kmsg.DescribeGroupsResponse](t, s, req)
		if len(r.Groups) != 3 {
			t.Fatalf("describe v%d: %+v", v, r)
		}
		a, sg, n := r.Groups[0], r.Groups[1], r.Groups[2]
		if a.State != "Stable" || a.Protocol != "range" || a.ProtocolType != "consumer" || len(a.Members) != 1 || string(a.Members[0].MemberAssignment) != "A" || len(a.Members[0].ProtocolMetadata) == 0 {
			t.Fatalf("describe v%d active: %+v", v, a)
		}
		if sg.State != "Empty" || sg.ProtocolType != "" || len(sg.Members) != 0 {
			t.Fatalf("describe v%d: %+v", v, sg)
		}
		// A group that does not exist: Dead before v6, GROUP_ID_NOT_FOUND from v6.
		if v < 6 && (n.State != "Dead" || n.ErrorCode != 0) || v >= 6 && (n.ErrorCode != kerr.GroupIDNotFound.Code || n.ErrorMessage == nil) {
			t.Fatalf("describe v%d of an unknown group: %+v", v, n)
		}
		if v >= 3 && a.AuthorizedOperations != authorizedOpsUnknown {
			t.Fatalf("describe v%d authorized operations %d", v, a.AuthorizedOperations)
		}
	}
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrListGroupsRequest()
		req.Version = v
		r := adminCall[*kmsg.ListGroupsResponse](t, s, req)
		if r.ErrorCode != 0 || len(r.Groups) != 2 || r.Groups[0].Group != "active" || r.Groups[1].Group != "simple" {
			t.Fatalf("list v%d: %+v", v, r)
		}
		if v >= 4 {
			if r.Groups[0].GroupState != "Stable" {
				t.Fatalf("list v%d state: %+v", v, r.Groups[0])
			}
			req.StatesFilter = []string{"EMPTY"}
			r := adminCall[*kmsg.ListGroupsResponse](t, s, req)
			if len(r.Groups) != 1 || r.Groups[0].Group != "simple" {
				t.Fatalf("list v%d filtered: %+v", v, r)
			}
			req.StatesFilter = nil
		}
		if v >= 5 {
			if r.Groups[0].GroupType != "classic" || r.Groups[1].GroupType != "classic" {
				t.Fatalf("list v%d types: %+v", v, r.Groups)
			}
			req.TypesFilter = []string{"Consumer"}
			if r := adminCall[*kmsg.ListGroupsResponse](t, s, req); r.ErrorCode != 0 || len(r.Groups) != 0 {
				t.Fatalf("list v%d of consumer-protocol groups: %+v", v, r)
			}
			req.TypesFilter = []string{"CLASSIC"}
			if r := adminCall[*kmsg.ListGroupsResponse](t, s, req); len(r.Groups) != 2 {
				t.Fatalf("list v%d of classic groups: %+v", v, r)
			}
		}
	}

	// OffsetDelete: the active group subscribes to t.
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "active"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}, {Topic: "missing", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	r := adminCall[*kmsg.OffsetDeleteResponse](t, s, od)
	if r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != kerr.GroupSubscribedToTopic.Code || r.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("offset delete: %+v", r)
	}
	od.Group = "simple"
	if r := adminCall[*kmsg.OffsetDeleteResponse](t, s, od); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete simple: %+v", r)
	}
	od.Group = "nobody"
	if r := adminCall[*kmsg.OffsetDeleteResponse](t, s, od); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("offset delete unknown group: %+v", r)
	}

	for v := int16(0); v <= 2; v++ {
		commitAt(t, s, 8, "simple", 10, "t")
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Version, req.Groups = v, []string{"active", "simple", "nobody"}
		r := adminCall[*kmsg.DeleteGroupsResponse](t, s, req)
		if len(r.Groups) != 3 || r.Groups[0].ErrorCode != kerr.NonEmptyGroup.Code || r.Groups[1].ErrorCode != 0 || r.Groups[2].ErrorCode != kerr.GroupIDNotFound.Code {
			t.Fatalf("delete v%d: %+v", v, r)
		}
	}
}

// noGroupsBackend is a Backend without a coordinator yet.
type noGroupsBackend struct{ *adminFakeBackend }

func (noGroupsBackend) Groups() *group.Coordinator { return nil }
func (noGroupsBackend) GroupCoordinator(string) (BrokerInfo, error) {
	return BrokerInfo{}, kerr.CoordinatorNotAvailable
}

func TestGroupNoCoordinator(t *testing.T) {
	s := &Server{backend: noGroupsBackend{newAdminFakeBackend()}}
	adminMustCreate(t, s, "t", 2)
	if r := joinAt(t, s, 9, "g", ""); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join: %+v", r)
	}
	if r := commitAt(t, s, 8, "g", 1, "t"); r.Topics[0].Partitions[0].ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("commit: %+v", r)
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKey = 3, "g"
	if r := adminCall[*kmsg.FindCoordinatorResponse](t, s, fc); r.ErrorCode != kerr.CoordinatorNotAvailable.Code || r.NodeID != -1 {
		t.Fatalf("find coordinator: %+v", r)
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 1, "g"
	of.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
	if r := adminCall[*kmsg.OffsetFetchResponse](t, s, of); r.Topics[0].Partitions[0].ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("fetch v1: %+v", r)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	if r := adminCall[*kmsg.ListGroupsResponse](t, s, lg); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("list: %+v", r)
	}
}
