package kafka

// DescribeGroups (key 15): v0-v5.
//
// Behaviour: Backend.Groups().DescribeGroups, one answer per requested group in request
// order: state (Empty, PreparingRebalance, CompletingRebalance, Stable; a group that does
// not exist is Dead with no error), protocol type, protocol (only when Stable) and the
// members with client id, client host, instance id (v4+) and, when Stable, their protocol
// metadata and assignment. Groups this node does not coordinate get NOT_COORDINATOR.
// Authorized operations (v3+) are -2147483648 ("not computed"). Throttle is 0.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(15, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.DescribeGroupsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	c := s.backend.Groups()
	for _, id := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = id
		rg.AuthorizedOperations = authorizedOpsUnknown
		if c == nil {
			rg.ErrorCode = coordinatorNotAvailable
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		d := c.DescribeGroups(ctx, []string{id})[0]
		rg.ErrorCode = d.ErrorCode
		rg.State, rg.ProtocolType, rg.Protocol = d.State, d.ProtocolType, d.Protocol
		for _, m := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = emptyIfNil(m.Metadata), emptyIfNil(m.Assignment)
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
