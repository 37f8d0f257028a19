package kafka

// JoinGroup (key 11): v0-v9.
//
// Behaviour: Backend.Groups().Join, which waits until the rebalance completes (at most
// the group's rebalance timeout) — the connection's later requests wait behind it, as in
// Kafka. v0 has no rebalance timeout: the session timeout is used. From v4 a dynamic
// member joining without a member id gets one with MEMBER_ID_REQUIRED (KIP-394). Static
// membership (group.instance.id) from v5 (KIP-345). From v7 the protocol type is answered
// (nullable, like the protocol). From v9 a static leader rejoining a stable group is told
// to skip the assignment (KIP-814). The client id is the request header's; the client host
// is not known to handlers and is left empty. Reason (v8+) is logged. On error the
// generation is -1 and the member id the one sent (or the one handed out). Throttle is 0.

import (
	"context"
	"time"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(11, 0, 9, handleJoinGroup) }

func handleJoinGroup(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.JoinGroupRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	c := s.backend.Groups()
	if c == nil {
		resp.ErrorCode, resp.Generation, resp.MemberID = coordinatorNotAvailable, -1, req.MemberID
		return resp, nil
	}
	jr := group.JoinRequest{
		Group:                  req.Group,
		MemberID:               req.MemberID,
		ClientID:               headerClientID(r),
		ClientHost:             r.ClientHost,
		SessionTimeout:         time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:       time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		ProtocolType:           req.ProtocolType,
		RequireKnownMemberID:   req.Version >= 4,
		SupportsSkipAssignment: req.Version >= 9,
		Reason:                 derefString(req.Reason),
	}
	if req.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	if req.Version >= 5 {
		jr.InstanceID = req.InstanceID
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	jresp := c.Join(ctx, jr)
	resp.ErrorCode = jresp.ErrorCode
	resp.Generation = jresp.Generation
	resp.ProtocolType = jresp.ProtocolType
	resp.Protocol = jresp.Protocol
	resp.LeaderID = jresp.Leader
	resp.MemberID = jresp.MemberID
	resp.SkipAssignment = jresp.SkipAssignment
	for _, m := range jresp.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, emptyIfNil(m.Metadata)
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}
