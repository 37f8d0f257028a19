package kafka

// LeaveGroup (key 13): v0-v5.
//
// Behaviour: Backend.Groups().Leave removes members and rebalances the rest. v0-v2 name
// one member by id and carry its outcome in the top-level error code; v3+ batch members,
// each by member id or group.instance.id (static members; a member id that does not
// match the instance's is FENCED_INSTANCE_ID), with an error code each and a top-level
// code for group-level failures (NOT_COORDINATOR, ...). Reasons (v5+) are logged.
// Throttle is 0.

import (
	"context"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(13, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.LeaveGroupRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	c := s.backend.Groups()
	if c == nil {
		resp.ErrorCode = coordinatorNotAvailable
		return resp, nil
	}
	var members []group.LeaveMember
	if req.Version < 3 {
		members = []group.LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			members = append(members, group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID, Reason: derefString(m.Reason)})
		}
	}
	code, results := c.Leave(ctx, req.Group, members)
	resp.ErrorCode = code
	if req.Version < 3 {
		if code == 0 && len(results) == 1 {
			resp.ErrorCode = results[0].ErrorCode
		}
		return resp, nil
	}
	if code != 0 {
		return resp, nil
	}
	for _, res := range results {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = res.MemberID, res.InstanceID, res.ErrorCode
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}
