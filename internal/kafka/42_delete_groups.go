package kafka

// DeleteGroups (key 42): v0-v2.
//
// Behaviour: Backend.Groups().DeleteGroups deletes each group with its committed offsets
// (tombstones in __consumer_offsets): only Empty groups (else NON_EMPTY_GROUP); unknown
// ones are GROUP_ID_NOT_FOUND, groups this node does not coordinate NOT_COORDINATOR. One
// answer per requested group, in request order. Throttle is 0.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(42, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.DeleteGroupsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	c := s.backend.Groups()
	for _, id := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		if c == nil {
			rg.ErrorCode = coordinatorNotAvailable
		} else {
			rg.ErrorCode = c.DeleteGroups(ctx, []string{id})[0].ErrorCode
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
