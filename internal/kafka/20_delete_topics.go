package kafka

// DeleteTopics, versions 0-6.
//
// v0-v5 name topics (TopicNames); v6 names each topic by name or by id (Topics), an id
// being resolved with Backend.TopicNameByID (unknown: UNKNOWN_TOPIC_ID). Naming both, or
// neither, is INVALID_REQUEST for that entry; a name or id given more than once is
// INVALID_REQUEST, answered once, and that topic is not deleted. Each topic is one
// Backend.DeleteTopic call bounded by the request's TimeoutMillis (<= 0: no bound of its
// own). Answers carry an error message (v5+) and the topic id (v6+; for topics named by
// name it is looked up with Backend.Metadata before deleting).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(20, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.DeleteTopicsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	ctx, cancel := withRequestTimeout(ctx, req.TimeoutMillis)
	defer cancel()

	topics := req.Topics
	if req.Version <= 5 {
		topics = make([]kmsg.DeleteTopicsRequestTopic, 0, len(req.TopicNames))
		for _, name := range req.TopicNames {
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.Topic = kmsg.StringPtr(name)
			topics = append(topics, t)
		}
	}

	names := make(map[string]int)
	ids := make(map[[16]byte]int)
	for _, t := range topics {
		if t.Topic != nil {
			names[*t.Topic]++
		} else {
			ids[t.TopicID]++
		}
	}
	answeredName := make(map[string]bool)
	answeredID := make(map[[16]byte]bool)
	for _, t := range topics {
		if t.Topic != nil && t.TopicID == [16]byte{} {
			if answeredName[*t.Topic] {
				continue // a duplicate: answered once
			}
			answeredName[*t.Topic] = true
		} else if t.Topic == nil && t.TopicID != [16]byte{} {
			if answeredID[t.TopicID] {
				continue
			}
			answeredID[t.TopicID] = true
		}
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = t.Topic, t.TopicID
		var err error
		switch {
		case t.Topic != nil && t.TopicID != [16]byte{}:
			err = adminErrorf(kerr.InvalidRequest, "a topic may not be named by both name and id")
		case t.Topic == nil && t.TopicID == [16]byte{}:
			err = adminErrorf(kerr.InvalidRequest, "neither topic name nor id was given")
		case t.Topic != nil && names[*t.Topic] > 1:
			err = adminErrorf(kerr.InvalidRequest, "duplicate topic name %q", *t.Topic)
		case t.Topic == nil && ids[t.TopicID] > 1:
			err = adminErrorf(kerr.InvalidRequest, "duplicate topic id")
		default:
			err = deleteOneTopic(ctx, s, req.Version, &st)
		}
		st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// deleteOneTopic resolves st's topic (by id, or its id by name for v6) and deletes it.
func deleteOneTopic(ctx context.Context, s *Server, version int16, st *kmsg.DeleteTopicsResponseTopic) error {
	if st.Topic == nil {
		name, ok := s.backend.TopicNameByID(st.TopicID)
		if !ok {
			return kerr.UnknownTopicID
		}
		st.Topic = kmsg.StringPtr(name)
	} else if version >= 6 {
		if infos := s.backend.Metadata(ctx, []string{*st.Topic}, false); len(infos) == 1 && infos[0].Err == nil {
			st.TopicID = infos[0].ID
		}
	}
	return s.backend.DeleteTopic(ctx, *st.Topic)
}
