package group

// ConsumerGroupDescribe (see consumer.go).

import (
	"context"
)

// ConsumerGroupDescription answers ConsumerGroupDescribe for one group.
type ConsumerGroupDescription struct {
	Group           string
	ErrorCode       int16
	ErrorMessage    string
	State           string
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []ConsumerMemberDescription
}

// ConsumerMemberDescription is one member of a ConsumerGroupDescription.
type ConsumerMemberDescription struct {
	MemberID         string
	InstanceID       *string
	RackID           *string
	MemberEpoch      int32
	ClientID         string
	ClientHost       string
	SubscribedTopics []string
	Assignment       []ConsumerTopicPartitions
	TargetAssignment []ConsumerTopicPartitions
}

// DescribeConsumerGroups handles ConsumerGroupDescribe: groups that do not exist, or are
// classic groups, are GROUP_ID_NOT_FOUND.
func (c *Coordinator) DescribeConsumerGroups(_ context.Context, ids []string) []ConsumerGroupDescription {
	out := make([]ConsumerGroupDescription, 0, len(ids))
	for _, id := range ids {
		d := ConsumerGroupDescription{Group: id, State: "Dead"}
		l, code := c.lockGroup(id, false, false)
		switch {
		case code != ErrNone:
			d.ErrorCode = code
		case l.g == nil:
			d.ErrorCode, d.ErrorMessage = ErrGroupIDNotFound, "Group "+id+" not found."
		case l.g.consumer == nil:
			d.ErrorCode, d.ErrorMessage = ErrGroupIDNotFound, "Group "+id+" is not a consumer group."
			l.unlock()
		default:
			g, cg := l.g, l.g.consumer
			d.State = cg.stateName()
			d.Epoch, d.AssignmentEpoch = cg.epoch, cg.assignmentEpoch
			d.Assignor = cg.assignor
			if d.Assignor == "" {
				d.Assignor = cg.groupAssignor()
			}
			for _, m := range cg.sortedMembers() {
				owned := tpset{}
				for tp := range m.assigned {
					owned[tp] = struct{}{}
				}
				d.Members = append(d.Members, ConsumerMemberDescription{
					MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID, MemberEpoch: m.epoch,
					ClientID: m.clientID, ClientHost: m.clientHost,
					SubscribedTopics: append([]string{}, m.subscribed...),
					Assignment:       g.consumerAssignment(owned),
					TargetAssignment: g.consumerAssignment(cg.target[m.id]),
				})
			}
			l.unlock()
		}
		out = append(out, d)
	}
	return out
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
