package kafka

// FindCoordinator (key 10): v0-v4.
//
// Behaviour: a group key (type 0; v0 has no type) is answered with
// Backend.GroupCoordinator, the broker leading the group's __consumer_offsets partition,
// or its error (COORDINATOR_NOT_AVAILABLE while there is none) with node -1, host "" and
// port -1. Transactional ids (type 1) are answered COORDINATOR_NOT_AVAILABLE:
// transactions are not supported yet. Any other type is INVALID_REQUEST. v4 batches
// several keys (CoordinatorKeys), each answered on its own; v0-v3 carry one key. Error
// messages from v1. Throttle is 0.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(10, 0, 4, handleFindCoordinator) }

func handleFindCoordinator(_ context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.FindCoordinatorRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	find := func(key string) (BrokerInfo, error) {
		switch req.CoordinatorType {
		case 0:
			return s.backend.GroupCoordinator(key)
		case 1:
			return BrokerInfo{}, adminErrorf(kerr.CoordinatorNotAvailable, "transactions are not supported")
		default:
			return BrokerInfo{}, adminErrorf(kerr.InvalidRequest, "unknown coordinator type %d", req.CoordinatorType)
		}
	}
	if req.Version >= 4 {
		for _, key := range req.CoordinatorKeys {
			rc := kmsg.NewFindCoordinatorResponseCoordinator()
			rc.Key = key
			b, err := find(key)
			if err != nil {
				rc.NodeID, rc.Port = -1, -1
				rc.ErrorCode, rc.ErrorMessage = errCode(err), errMessage(err)
			} else {
				rc.NodeID, rc.Host, rc.Port = b.NodeID, b.Host, b.Port
			}
			resp.Coordinators = append(resp.Coordinators, rc)
		}
		return resp, nil
	}
	b, err := find(req.CoordinatorKey)
	if err != nil {
		resp.NodeID, resp.Port = -1, -1
		resp.ErrorCode, resp.ErrorMessage = errCode(err), errMessage(err)
		return resp, nil
	}
	resp.NodeID, resp.Host, resp.Port = b.NodeID, b.Host, b.Port
	return resp, nil
}
