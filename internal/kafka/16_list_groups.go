package kafka

// ListGroups (key 16): v0-v5.
//
// Behaviour: Backend.Groups().ListGroups lists the groups this node coordinates (those
// of the __consumer_offsets partitions it leads), sorted by id, with their protocol type,
// (v4+) state and (v5+) type, "classic" or "consumer" (KIP-848); v4's StatesFilter keeps
// only groups in the named states and v5's TypesFilter only groups of the named types
// (both case-insensitive; empty keeps all). The error code is COORDINATOR_LOAD_IN_PROGRESS
// while a partition is still loading (the others are listed anyway). Throttle is 0.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(16, 0, 5, handleListGroups) }

func handleListGroups(_ context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.ListGroupsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c := s.backend.Groups()
	if c == nil {
		resp.ErrorCode = coordinatorNotAvailable
		return resp, nil
	}
	var states []string
	if req.Version >= 4 {
		states = req.StatesFilter
	}
	var types []string
	if req.Version >= 5 {
		types = req.TypesFilter
	}
	code, groups := c.ListGroups(states, types)
	resp.ErrorCode = code
	for _, g := range groups {
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
