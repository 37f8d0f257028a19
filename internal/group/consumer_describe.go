package group

// KIP-848, the consumer group protocol ("next generation" consumer groups):
// ConsumerGroupHeartbeat and ConsumerGroupDescribe.
//
// A group is either classic (JoinGroup/SyncGroup, group.go) or of type consumer
// (g.consumer != nil); the protocols do not mix. A consumer heartbeat for a classic group
// with members is GROUP_ID_NOT_FOUND; a classic JoinGroup for a consumer group with members
// is INCONSISTENT_GROUP_PROTOCOL. An empty group of either type converts to the other.
//
// Assignment is computed by the coordinator. The group epoch is bumped whenever the
// membership, a member's subscription or assignor, or the partition metadata of a
// subscribed topic (TopicSource) changes; the target assignment is then recomputed at
// once by the group's assignor ("uniform" or "range"), and its epoch (the assignment
// epoch) becomes the group epoch. Every member reconciles towards its target on its
// heartbeats, as KIP-848's CurrentAssignmentBuilder:
//
//   - a member whose current assignment holds partitions that are not in its target keeps
//     its member epoch and is told to revoke them (UNREVOKED_PARTITIONS); it still owns
//     them until a heartbeat reports owned partitions without them (or it is fenced after
//     its rebalance timeout);
//   - otherwise it moves to the assignment epoch and gets the partitions of its target
//     that no other member owns (still assigned to or being revoked by another); the rest
//     it gets on a later heartbeat, once released (UNRELEASED_PARTITIONS).
//
// The coordinator keeps, per partition, which member owns it, so a partition is never
// assigned to two members at once.
//
// Offset commits of a consumer group (OffsetCommit with the member id and member epoch as
// generation) are accepted when the epoch is the member's, or an older epoch at which the
// member already owned every committed partition (KIP-1251, so a commit racing an epoch
// bump is not refused). A commit without member (generation < 0) is accepted only while
// the group has no members.
//
// Durability (consumer_records.go): the group epoch is written as Kafka's
// ConsumerGroupMetadata record (key version 3) whenever it changes, and the members (with
// their epochs, subscriptions and current assignments) as one record of our own (key
// version 1000) whenever one of them changes. The target assignment is not written: after
// a coordinator failover the members come back with their partitions and sessions
// restarted, the group epoch is bumped, and the target is computed again on the next
// heartbeat. A member the new coordinator does not know (its last change was not
// written) gets UNKNOWN_MEMBER_ID and joins again. Committed offsets survive as for
// classic groups.

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
