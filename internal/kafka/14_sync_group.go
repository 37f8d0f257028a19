package kafka

// SyncGroup (key 14): v0-v5.
//
// Behaviour: Backend.Groups().Sync. A follower waits for the leader's assignment; the
// leader's assignment is committed to __consumer_offsets before anyone is answered.
// Static members from v3 (FENCED_INSTANCE_ID). v5 carries the protocol type and name,
// which must match the group's (INCONSISTENT_GROUP_PROTOCOL) and are answered back. On
// error the assignment is empty. Throttle is 0.

import (
	"context"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(14, 0, 5, handleSyncGroup) }

func handleSyncGroup(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.SyncGroupRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.MemberAssignment = []byte{}
	c := s.backend.Groups()
	if c == nil {
		resp.ErrorCode = coordinatorNotAvailable
		return resp, nil
	}
	sr := group.SyncRequest{Group: req.Group, MemberID: req.MemberID, Generation: req.Generation}
	if req.Version >= 3 {
		sr.InstanceID = req.InstanceID
	}
	if req.Version >= 5 {
		sr.ProtocolType, sr.Protocol = req.ProtocolType, req.Protocol
	}
	for _, a := range req.GroupAssignment {
		sr.Assignments = append(sr.Assignments, group.MemberAssignment{MemberID: a.MemberID, Assignment: a.MemberAssignment})
	}
	sresp := c.Sync(ctx, sr)
	resp.ErrorCode = sresp.ErrorCode
	resp.ProtocolType, resp.Protocol = sresp.ProtocolType, sresp.Protocol
	resp.MemberAssignment = emptyIfNil(sresp.Assignment)
	return resp, nil
}
