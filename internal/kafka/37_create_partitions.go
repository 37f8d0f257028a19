package kafka

// CreatePartitions, versions 0-3.
//
// Each topic is one Backend.CreatePartitions call (validate-only when asked) bounded by
// the request's TimeoutMillis (<= 0: no bound of its own); Count is the new total. A topic
// named twice is INVALID_REQUEST, a non-positive Count INVALID_PARTITIONS. A manual
// Assignment is INVALID_REPLICA_ASSIGNMENT: the Backend places new partitions itself.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(37, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.CreatePartitionsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	ctx, cancel := withRequestTimeout(ctx, req.TimeoutMillis)
	defer cancel()

	count := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		count[t.Topic]++
	}
	answered := make(map[string]bool, len(req.Topics))
	for _, rt := range req.Topics {
		if answered[rt.Topic] {
			continue
		}
		answered[rt.Topic] = true
		var err error
		switch {
		case count[rt.Topic] > 1:
			err = adminErrorf(kerr.InvalidRequest, "duplicate topic name %q", rt.Topic)
		case rt.Count <= 0:
			err = adminErrorf(kerr.InvalidPartitions, "partition count must be positive, got %d", rt.Count)
		case len(rt.Assignment) > 0:
			err = adminErrorf(kerr.InvalidReplicaAssignment, "manual replica assignment is not supported")
		default:
			err = s.backend.CreatePartitions(ctx, rt.Topic, rt.Count, req.ValidateOnly)
		}
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
