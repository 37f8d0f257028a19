package kafka

// Heartbeat (key 12): v0-v4.
//
// Behaviour: Backend.Groups().Heartbeat extends the member's session and answers
// REBALANCE_IN_PROGRESS while the group prepares a rebalance (the member must rejoin),
// ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID (v3+ static members) as
// Kafka does. Throttle is 0.

import (
	"context"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(12, 0, 4, handleHeartbeat) }

func handleHeartbeat(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.HeartbeatRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	c := s.backend.Groups()
	if c == nil {
		resp.ErrorCode = coordinatorNotAvailable
		return resp, nil
	}
	hr := group.HeartbeatRequest{Group: req.Group, MemberID: req.MemberID, Generation: req.Generation}
	if req.Version >= 3 {
		hr.InstanceID = req.InstanceID
	}
	resp.ErrorCode = c.Heartbeat(ctx, hr)
	return resp, nil
}
