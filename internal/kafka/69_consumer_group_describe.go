package kafka

// ConsumerGroupDescribe (key 69): v0-v1, KIP-848 consumer groups.
//
// Behaviour: Backend.Groups().DescribeConsumerGroups, one answer per requested group in
// request order: state (Empty, Assigning, Reconciling, Stable), group epoch, assignment
// epoch, assignor and the members with their member epoch, instance and rack ids, client
// id and host, subscribed topic names and their current and target assignments (topic id,
// name, partitions). A group that does not exist or is a classic group is
// GROUP_ID_NOT_FOUND (with an error message); groups this node does not coordinate get
// NOT_COORDINATOR. Authorized operations are -2147483648 ("not computed"). v1's member
// type (KIP-1099) is always 1, a consumer-protocol member: classic members never join a
// consumer-protocol group here. Throttle is 0.

import (
	"context"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(69, 0, 1, handleConsumerGroupDescribe) }

func handleConsumerGroupDescribe(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.ConsumerGroupDescribeRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	c := s.backend.Groups()
	var ds []group.ConsumerGroupDescription
	if c != nil {
		ds = c.DescribeConsumerGroups(ctx, req.Groups)
	}
	for i, id := range req.Groups {
		rg := kmsg.NewConsumerGroupDescribeResponseGroup()
		rg.Group = id
		rg.AuthorizedOperations = authorizedOpsUnknown
		if c == nil {
			rg.ErrorCode = coordinatorNotAvailable
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		d := ds[i]
		rg.ErrorCode = d.ErrorCode
		if d.ErrorMessage != "" {
			msg := d.ErrorMessage
			rg.ErrorMessage = &msg
		}
		rg.State, rg.Epoch, rg.AssignmentEpoch, rg.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.Assignor
		for _, m := range d.Members {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.RackID, rm.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
			rm.ClientID, rm.ClientHost = m.ClientID, m.ClientHost
			rm.MemberType = consumerProtocolMember
			rm.SubscribedTopics = m.SubscribedTopics
			if rm.SubscribedTopics == nil {
				rm.SubscribedTopics = []string{}
			}
			rm.Assignment = describeAssignment(m.Assignment)
			rm.TargetAssignment = describeAssignment(m.TargetAssignment)
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

func describeAssignment(tps []group.ConsumerTopicPartitions) kmsg.Assignment {
	a := kmsg.Assignment{TopicPartitions: []kmsg.AssignmentTopicPartition{}}
	for _, t := range tps {
		a.TopicPartitions = append(a.TopicPartitions, kmsg.AssignmentTopicPartition{TopicID: t.TopicID, Topic: t.Topic, Partitions: t.Partitions})
	}
	return a
}

// consumerProtocolMember is ConsumerGroupDescribe v1's member type of a member that
// joined with ConsumerGroupHeartbeat (0 would be a classic member, -1 unknown).
const consumerProtocolMember int8 = 1
