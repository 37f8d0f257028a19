package kafka

// OffsetFetch (key 9): v0-v9.
//
// Behaviour: Backend.Groups().FetchOffsets reads the committed offsets. A partition
// without a committed offset (or of a group that does not exist) is offset -1, leader
// epoch -1 (v5+), metadata "". v2+ may ask for every partition with a committed offset
// (null topics); v0/v1 always name them. Group-level errors (NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, ...) are the top-level error code from v2 and every
// partition's error code on v0/v1. v8 fetches several groups at once, each with its own
// error code. RequireStable (v7+) needs no waiting: there are no transactional offsets.
// Throttle is 0. v9 names the fetching member of a KIP-848 group with its member epoch: an
// unknown member is UNKNOWN_MEMBER_ID and another epoch than the group's
// STALE_MEMBER_EPOCH, as the group's error (a member epoch of -1, an admin client, is not
// checked; classic groups never are). v10 (topic ids) is not served.

import (
	"context"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(9, 0, 9, handleOffsetFetch) }

// offsetFetchGroup is one group's part of the request.
type offsetFetchGroup struct {
	id     string
	member group.FetchMember
	all    bool // every partition with an offset
	topics []kmsg.OffsetFetchRequestTopic
}

// fetchedGroup fetches one group's offsets: the group-level code and the partitions.
func fetchedGroup(ctx context.Context, s *Server, g offsetFetchGroup) (int16, []group.FetchedOffset) {
	c := s.backend.Groups()
	if c == nil {
		return coordinatorNotAvailable, nil
	}
	var tps []group.TopicPartition
	for _, t := range g.topics {
		for _, p := range t.Partitions {
			tps = append(tps, group.TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	return c.FetchOffsets(ctx, g.id, g.member, tps, g.all)
}

func handleOffsetFetch(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.OffsetFetchRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			g := offsetFetchGroup{id: rg.Group, member: group.NoFetchMember, all: rg.Topics == nil}
			if req.Version >= 9 {
				g.member.Epoch = rg.MemberEpoch
				if rg.MemberID != nil {
					g.member.ID = *rg.MemberID
				}
			}
			for _, t := range rg.Topics {
				g.topics = append(g.topics, kmsg.OffsetFetchRequestTopic{Topic: t.Topic, Partitions: t.Partitions})
			}
			code, offs := fetchedGroup(ctx, s, g)
			sg := kmsg.NewOffsetFetchResponseGroup()
			sg.Group = rg.Group
			sg.ErrorCode = code
			for _, t := range groupFetched(offs) {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic = t.topic
				for _, o := range t.offsets {
					sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = o.Partition, o.Offset, o.LeaderEpoch, o.ErrorCode
					md := o.Metadata
					sp.Metadata = &md
					st.Partitions = append(st.Partitions, sp)
				}
				sg.Topics = append(sg.Topics, st)
			}
			resp.Groups = append(resp.Groups, sg)
		}
		return resp, nil
	}

	g := offsetFetchGroup{id: req.Group, member: group.NoFetchMember, all: req.Version >= 2 && req.Topics == nil, topics: req.Topics}
	code, offs := fetchedGroup(ctx, s, g)
	if req.Version >= 2 {
		resp.ErrorCode = code
	} else if code != 0 {
		// v0/v1 carry errors per partition only.
		offs = nil
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				offs = append(offs, group.FetchedOffset{Topic: t.Topic, Partition: p, Offset: -1, LeaderEpoch: -1, ErrorCode: code})
			}
		}
	}
	for _, t := range groupFetched(offs) {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = t.topic
		for _, o := range t.offsets {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = o.Partition, o.Offset, o.LeaderEpoch, o.ErrorCode
			md := o.Metadata
			sp.Metadata = &md
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

type fetchedTopic struct {
	topic   string
	offsets []group.FetchedOffset
}

// groupFetched groups offsets by topic, keeping the order of first appearance.
func groupFetched(offs []group.FetchedOffset) []fetchedTopic {
	var out []fetchedTopic
	at := map[string]int{}
	for _, o := range offs {
		i, ok := at[o.Topic]
		if !ok {
			i = len(out)
			at[o.Topic] = i
			out = append(out, fetchedTopic{topic: o.Topic})
		}
		out[i].offsets = append(out[i].offsets, o)
	}
	return out
}
