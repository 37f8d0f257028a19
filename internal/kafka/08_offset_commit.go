package kafka

// OffsetCommit (key 8): v0-v9.
//
// Behaviour: Backend.Groups().CommitOffsets stores the offsets in __consumer_offsets and
// the answer comes once they are committed there. v0 (no generation or member id) commits
// as a simple consumer (generation -1). Offsets of partitions the Backend does not know
// are answered UNKNOWN_TOPIC_OR_PARTITION and not stored (Kafka's rule). The v1 per-
// partition commit timestamp and the v2-v4 retention time are ignored: the commit time
// is the coordinator's clock and retention is the broker's (offsets.retention.minutes).
// Leader epochs from v6. Group-level failures (NOT_COORDINATOR, ILLEGAL_GENERATION, ...)
// are answered on every partition. Throttle is 0. A member of a consumer-protocol group
// (KIP-848) commits with its member epoch in the generation field, on every version; v9,
// the version Kafka requires of such members, has the same fields as v8. v10 (topic ids)
// is not served.

import (
	"context"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(8, 0, 9, handleOffsetCommit) }

func handleOffsetCommit(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.OffsetCommitRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	codes := make([][]int16, len(req.Topics)) // per request partition; -2: to commit
	creq := group.CommitRequest{Group: req.Group, Generation: req.Generation, MemberID: req.MemberID, InstanceID: req.InstanceID}
	if req.Version == 0 {
		creq.Generation, creq.MemberID = -1, ""
	}
	c := s.backend.Groups()
	var topics []string
	for _, t := range req.Topics {
		topics = append(topics, t.Topic)
	}
	var counts map[string]int32
	if c != nil {
		counts = partitionCounts(ctx, s, topics)
	}
	var idx [][2]int // request position of each offset in creq
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
		for j, p := range t.Partitions {
			switch {
			case c == nil:
				codes[i][j] = coordinatorNotAvailable
			case !knownPartition(counts, t.Topic, p.Partition):
				codes[i][j] = group.ErrUnknownTopicOrPartition
			default:
				epoch := int32(-1)
				if req.Version >= 6 {
					epoch = p.LeaderEpoch
				}
				creq.Offsets = append(creq.Offsets, group.CommitOffset{
					Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: epoch, Metadata: p.Metadata,
				})
				idx = append(idx, [2]int{i, j})
			}
		}
	}
	if len(creq.Offsets) > 0 {
		for k, code := range c.CommitOffsets(ctx, creq) {
			codes[idx[k][0]][idx[k][1]] = code
		}
	}
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = codes[i][j]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
