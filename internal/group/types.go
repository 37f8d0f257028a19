package group

import "time"

// The coordinator's requests and answers, free of wire types: internal/kafka translates
// kmsg requests into these. Error codes are Kafka's (see codes.go).

// Protocol is one protocol a member supports, in the member's order of preference.
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup.
type JoinRequest struct {
	Group      string
	MemberID   string  // "" on a first join
	InstanceID *string // group.instance.id of a static member (KIP-345)
	ClientID   string
	ClientHost string
	// SessionTimeout and RebalanceTimeout (JoinGroup v0: the session timeout).
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID (JoinGroup v4+, KIP-394): a dynamic member joining without a
	// member id gets one with MEMBER_ID_REQUIRED and must join again with it.
	RequireKnownMemberID bool
	// SupportsSkipAssignment (JoinGroup v9+, KIP-814): a static leader rejoining a stable
	// group is told to skip the assignment.
	SupportsSkipAssignment bool
	Reason                 string
}

// JoinMember is one member as the leader sees it in its join answer.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResponse answers a JoinRequest.
type JoinResponse struct {
	ErrorCode      int16
	Generation     int32 // -1 on error
	ProtocolType   *string
	Protocol       *string
	Leader         string
	MemberID       string
	SkipAssignment bool
	Members        []JoinMember // for the leader only
}

// SyncRequest is a SyncGroup.
type SyncRequest struct {
	Group        string
	MemberID     string
	InstanceID   *string
	Generation   int32
	ProtocolType *string // v5+, checked when set
	Protocol     *string // v5+, checked when set
	Assignments  []MemberAssignment
}

// MemberAssignment is the leader's assignment for one member.
type MemberAssignment struct {
	MemberID   string
	Assignment []byte
}

// SyncResponse answers a SyncRequest.
type SyncResponse struct {
	ErrorCode    int16
	ProtocolType *string
	Protocol     *string
	Assignment   []byte
}

// HeartbeatRequest is a Heartbeat.
type HeartbeatRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	Generation int32
}

// LeaveMember is one member of a LeaveGroup (v0-v2 send exactly one, by member id).
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Reason     string
}

// LeaveResult answers one LeaveMember.
type LeaveResult struct {
	MemberID   string
	InstanceID *string
	ErrorCode  int16
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// CommitRequest is an OffsetCommit.
type CommitRequest struct {
	Group      string
	MemberID   string  // "" for simple consumers
	InstanceID *string //
	Generation int32   // -1 for simple consumers
	Offsets    []CommitOffset
}

// CommitOffset is one partition's offset to commit.
type CommitOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1 unknown
	Metadata    *string
}

// FetchedOffset is one partition's committed offset; Offset -1 when there is none.
type FetchedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	ErrorCode   int16
}

// GroupDescription answers DescribeGroups for one group. A group that does not exist
// is described as Dead with no error (Kafka's answer before DescribeGroups v6).
type GroupDescription struct {
	Group        string
	ErrorCode    int16
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
}

// MemberDescription is one member of a GroupDescription. Metadata and Assignment are set
// only when the group is Stable (Kafka's rule).
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// ListedGroup is one group of ListGroups.
type ListedGroup struct {
	Group        string
	ProtocolType string
	State        string
	Type         string // "classic" or "consumer" (KIP-848), ListGroups v5+
}

// DeleteResult answers one group of DeleteGroups.
type DeleteResult struct {
	Group     string
	ErrorCode int16
}
