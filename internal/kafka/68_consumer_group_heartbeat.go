package kafka

// ConsumerGroupHeartbeat (key 68): v0-v1, the consumer group protocol (KIP-848).
//
// Behaviour: Backend.Groups().ConsumerHeartbeat — join (member epoch 0), heartbeat and
// reconcile, leave (-1) or static leave (-2); the coordinator computes assignments
// server-side ("uniform", the default, or "range"; an unknown ServerAssignor gets the
// default). v0: a member joining without a member id gets one from the coordinator; v1
// (KIP-1082): the client generates it, an empty one is INVALID_REQUEST. Subscriptions are
// by topic names only: a SubscribedTopicRegex (v1) is UNSUPPORTED_VERSION with an error
// message (a client then falls back to the classic protocol or reports it). Topic ids of
// owned and assigned partitions are the Backend's (group.Config.Topics). A coordinator
// without topic metadata answers UNSUPPORTED_VERSION. The client host is the connection's
// peer. Throttle is 0.

import (
	"context"
	"time"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(68, 0, 1, handleConsumerGroupHeartbeat) }

func handleConsumerGroupHeartbeat(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.ConsumerGroupHeartbeatRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	fail := func(code int16, msg string) (kmsg.Response, error) {
		resp.ErrorCode, resp.MemberEpoch = code, req.MemberEpoch
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		if req.MemberID != "" {
			id := req.MemberID
			resp.MemberID = &id
		}
		return resp, nil
	}
	c := s.backend.Groups()
	if c == nil {
		return fail(coordinatorNotAvailable, "")
	}
	if req.Version >= 1 && req.MemberID == "" {
		return fail(group.ErrInvalidRequest, "MemberId can't be empty.")
	}
	hr := group.ConsumerHeartbeatRequest{
		Group:                req.Group,
		MemberID:             req.MemberID,
		MemberEpoch:          req.MemberEpoch,
		InstanceID:           req.InstanceID,
		RackID:               req.RackID,
		RebalanceTimeout:     time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		SubscribedTopicNames: req.SubscribedTopicNames,
		SubscribedTopicRegex: req.SubscribedTopicRegex,
		ServerAssignor:       req.ServerAssignor,
		ClientID:             headerClientID(r),
		ClientHost:           r.ClientHost,
	}
	if req.RebalanceTimeoutMillis < 0 {
		hr.RebalanceTimeout = -1
	}
	if req.Topics != nil {
		hr.Topics = make([]group.ConsumerTopicPartitions, 0, len(req.Topics))
		for _, t := range req.Topics {
			hr.Topics = append(hr.Topics, group.ConsumerTopicPartitions{TopicID: t.TopicID, Partitions: t.Partitions})
		}
	}
	hresp := c.ConsumerHeartbeat(ctx, hr)
	if hresp.ErrorCode != 0 {
		return fail(hresp.ErrorCode, hresp.ErrorMessage)
	}
	id := hresp.MemberID
	resp.MemberID = &id
	resp.MemberEpoch = hresp.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(hresp.HeartbeatInterval / time.Millisecond)
	if hresp.HasAssignment {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
		for _, t := range hresp.Assignment {
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID, at.Partitions = t.TopicID, t.Partitions
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
	}
	return resp, nil
}
