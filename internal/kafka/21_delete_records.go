package kafka

// DeleteRecords, versions 0-2.
//
// Each partition is one Backend.DeleteRecords call bounded by the request's TimeoutMillis
// (<= 0: no bound of its own). Offset -1 deletes up to the high watermark; any other
// negative offset is OFFSET_OUT_OF_RANGE without asking the Backend. A partition that
// fails answers LowWatermark -1 (Kafka's INVALID_LOW_WATERMARK).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(21, 0, 2, handleDeleteRecords) }

func handleDeleteRecords(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.DeleteRecordsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	ctx, cancel := withRequestTimeout(ctx, req.TimeoutMillis)
	defer cancel()

	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			if rp.Offset < -1 {
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
			} else if low, err := s.backend.DeleteRecords(ctx, rt.Topic, rp.Partition, rp.Offset); err != nil {
				sp.ErrorCode = errCode(err)
			} else {
				sp.LowWatermark = low
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
