package kafka

// InitProducerID (key 22): v0-v4.
//
// Behaviour: Backend.InitProducerID hands out the producer id and epoch. The
// transactional id is passed through (the Backend may refuse it: transactions are not
// supported yet). v3+ carry the producer id and epoch to bump (KIP-360); below v3 they
// are passed as -1/-1. On error the answer is producer id -1, epoch -1 and the error
// code. Throttle is 0.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(22, 0, 4, handleInitProducerID) }

func handleInitProducerID(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.InitProducerIDRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	pid, epoch := int64(-1), int16(-1)
	if req.Version >= 3 {
		pid, epoch = req.ProducerID, req.ProducerEpoch
	}
	id, ep, err := s.backend.InitProducerID(ctx, req.TransactionalID, pid, epoch)
	if err != nil {
		resp.ErrorCode = errCode(err)
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, ep
	return resp, nil
}
