package kafka

// ListOffsets (key 2): v0-v8.
//
// Behaviour:
//   - Each partition is answered with Backend.ListOffset: timestamp -2 earliest, -1
//     latest, -3 max timestamp (v7+), -4 earliest local (v8+, the same as earliest here:
//     there is no tiered storage), otherwise the first offset at or after the timestamp.
//   - IsolationLevel (v2+) is passed through; v0-v1 read uncommitted.
//   - v0 answers the old-style offset list with the single offset found (none when the
//     Backend answers -1, or when MaxNumOffsets is 0); v1+ answer timestamp and offset,
//     v4+ also the leader epoch.
//   - On error offset, timestamp and leader epoch are -1.
//   - CurrentLeaderEpoch (v4+) is not checked: the Backend has no epoch to check against
//     here.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(2, 0, 8, handleListOffsets) }

func handleListOffsets(_ context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.ListOffsetsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	var isolation int8
	if req.Version >= 2 {
		isolation = req.IsolationLevel
	}
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			ts := rp.Timestamp
			if ts == -4 {
				ts = -2
			}
			offset, rts, epoch, err := s.backend.ListOffset(rt.Topic, rp.Partition, ts, isolation)
			if err != nil {
				sp.ErrorCode = errCode(err)
				sp.Offset, sp.Timestamp, sp.LeaderEpoch = -1, -1, -1
			} else {
				sp.Offset, sp.Timestamp, sp.LeaderEpoch = offset, rts, epoch
				if req.Version == 0 {
					sp.OldStyleOffsets = []int64{}
					if offset >= 0 && rp.MaxNumOffsets > 0 {
						sp.OldStyleOffsets = []int64{offset}
					}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
