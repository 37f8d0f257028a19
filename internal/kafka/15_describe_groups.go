package kafka

// DescribeGroups (key 15): v0-v6.
//
// Behaviour: Backend.Groups().DescribeGroups, one answer per requested group in request
// order: state (Empty, PreparingRebalance, CompletingRebalance, Stable), protocol type,
// protocol (only when Stable) and the members with client id, client host, instance id
// (v4+) and, when Stable, their protocol metadata and assignment. This API describes
// classic groups only: a group that does not exist, or one of the consumer protocol
// (KIP-848, see ConsumerGroupDescribe), is Dead with no error before v6 and
// GROUP_ID_NOT_FOUND with an error message from v6 (KIP-1043), as in Kafka. Groups this
// node does not coordinate get NOT_COORDINATOR. Authorized operations (v3+) are
// -2147483648 ("not computed"). Throttle is 0.

import (
	"context"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(15, 0, 6, handleDescribeGroups) }

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
		if notFound := notClassicGroup(d); notFound != "" {
			if req.Version >= 6 {
				rg.ErrorCode, rg.ErrorMessage, rg.State = group.ErrGroupIDNotFound, &notFound, ""
			} else {
				rg.ErrorCode, rg.State = 0, "Dead"
			}
		}
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

// notClassicGroup says why a described group is not found as a classic group: it does
// not exist (the coordinator describes it as Dead) or it uses the consumer protocol
// (GROUP_ID_NOT_FOUND from the coordinator). Empty when it is a classic group.
func notClassicGroup(d group.GroupDescription) string {
	switch {
	case d.ErrorCode == group.ErrGroupIDNotFound:
		return "Group " + d.Group + " is not a classic group."
	case d.ErrorCode == 0 && d.State == "Dead":
		return "Group " + d.Group + " not found."
	}
	return ""
}
