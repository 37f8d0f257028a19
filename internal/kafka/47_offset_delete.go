package kafka

// OffsetDelete (key 47): v0.
//
// Behaviour: Backend.Groups().DeleteOffsets removes committed offsets of a group. Offsets
// of topics the group's members subscribe to are kept (GROUP_SUBSCRIBED_TO_TOPIC, from
// their consumer-protocol subscriptions); a group that is not a consumer group must be
// Empty (top-level NON_EMPTY_GROUP); an unknown group is GROUP_ID_NOT_FOUND. Partitions
// the Backend does not know are UNKNOWN_TOPIC_OR_PARTITION. Throttle is 0.

import (
	"context"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.OffsetDeleteRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	c := s.backend.Groups()
	if c == nil {
		resp.ErrorCode = coordinatorNotAvailable
		return resp, nil
	}
	var topics []string
	for _, t := range req.Topics {
		topics = append(topics, t.Topic)
	}
	counts := partitionCounts(ctx, s, topics)
	codes := make([][]int16, len(req.Topics))
	var tps []group.TopicPartition
	var idx [][2]int
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
		for j, p := range t.Partitions {
			if !knownPartition(counts, t.Topic, p.Partition) {
				codes[i][j] = group.ErrUnknownTopicOrPartition
				continue
			}
			tps = append(tps, group.TopicPartition{Topic: t.Topic, Partition: p.Partition})
			idx = append(idx, [2]int{i, j})
		}
	}
	code, pcodes := c.DeleteOffsets(ctx, req.Group, tps)
	resp.ErrorCode = code
	if code != 0 {
		return resp, nil
	}
	for k, pc := range pcodes {
		codes[idx[k][0]][idx[k][1]] = pc
	}
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
