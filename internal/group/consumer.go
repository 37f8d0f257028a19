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
	"crypto/rand"
	"encoding/base64"
	"sort"
	"time"
)

// TopicSource is the broker's topic metadata, used to compute assignments. Partitions
// returns a topic's id and partition count (ok=false when the topic does not exist);
// TopicByID resolves an id. Both must be safe for concurrent use and must not call back
// into the Coordinator.
type TopicSource interface {
	Partitions(topic string) (id [16]byte, partitions int32, ok bool)
	TopicByID(id [16]byte) (string, bool)
}

// KIP-848 defaults, as Kafka's broker configs.
const (
	DefaultConsumerSessionTimeout    = 45 * time.Second // group.consumer.session.timeout.ms
	DefaultConsumerHeartbeatInterval = 5 * time.Second  // group.consumer.heartbeat.interval.ms
	DefaultConsumerAssignor          = "uniform"        // group.consumer.assignors (first)
)

// Member epochs with a meaning in requests.
const (
	LeaveGroupMemberEpoch       int32 = -1
	LeaveGroupStaticMemberEpoch int32 = -2
)

// ConsumerAssignors are the server-side assignors, by name.
var ConsumerAssignors = []string{"uniform", "range"}

// ConsumerTopicPartitions is a topic's partitions in a heartbeat (owned by the member, or
// assigned to it). Topic is set in answers (and ignored in requests).
type ConsumerTopicPartitions struct {
	TopicID    [16]byte
	Topic      string
	Partitions []int32
}

// ConsumerHeartbeatRequest is a ConsumerGroupHeartbeat. Fields that are nil (or
// RebalanceTimeout < 0) are unchanged since the member's previous heartbeat.
type ConsumerHeartbeatRequest struct {
	Group       string
	MemberID    string // v0: "" on the first heartbeat (the coordinator picks one)
	MemberEpoch int32  // 0 join, -1 leave, -2 static leave (keeps the assignment)
	InstanceID  *string
	RackID      *string
	// RebalanceTimeout bounds how long a member may take to revoke partitions.
	RebalanceTimeout     time.Duration
	SubscribedTopicNames []string
	SubscribedTopicRegex *string // not supported: UNSUPPORTED_VERSION
	ServerAssignor       *string
	Topics               []ConsumerTopicPartitions // owned partitions
	ClientID             string
	ClientHost           string
}

// ConsumerHeartbeatResponse answers a ConsumerHeartbeatRequest. Assignment is set
// (HasAssignment) when the member's assignment changed or the request was a full one.
type ConsumerHeartbeatResponse struct {
	ErrorCode         int16
	ErrorMessage      string
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	HasAssignment     bool
	Assignment        []ConsumerTopicPartitions
}

// memberState is a consumer member's reconciliation state (Kafka's MemberState).
type memberState int8

const (
	memberStable memberState = iota
	memberUnrevoked
	memberUnreleased
)

func (s memberState) String() string {
	switch s {
	case memberUnrevoked:
		return "UNREVOKED_PARTITIONS"
	case memberUnreleased:
		return "UNRELEASED_PARTITIONS"
	default:
		return "STABLE"
	}
}

// tpset is a set of partitions.
type tpset map[TopicPartition]struct{}

// topicMeta is a subscribed topic's metadata as the assignment saw it.
type topicMeta struct {
	id    [16]byte
	parts int32 // 0: the topic does not exist
}

// cgroup is the KIP-848 state of a group of type consumer.
type cgroup struct {
	epoch           int32 // group epoch
	assignmentEpoch int32 // epoch of target
	assignor        string
	members         map[string]*cmember
	static          map[string]string // instance id -> member id
	target          map[string]tpset  // member id -> target assignment
	owner           map[TopicPartition]string
	topics          map[string]topicMeta // subscribed topics as of the last target computation
	storedEpoch     int32                // epoch as last queued for the log, -1 never
	storedMembers   []byte               // members record as last queued, nil none
}

// cmember is one member of a consumer group.
type cmember struct {
	id         string
	instanceID *string
	rackID     *string
	clientID   string
	clientHost string
	session    time.Duration
	rebalance  time.Duration
	subscribed []string // sorted, deduplicated
	assignor   string   // requested server assignor ("" none or unknown)

	epoch      int32
	prevEpoch  int32
	state      memberState
	assigned   tpset                    // current assignment (owned)
	revoking   tpset                    // owned, to be revoked
	assignedAt map[TopicPartition]int32 // member epoch at which a partition was assigned
	leftStatic bool                     // left with epoch -2; kept until its session expires

	timerSeq       uint64    // the live timer's number; older timers do nothing
	deadline       time.Time // session expiry
	revokeDeadline time.Time // while revoking: fenced after this
	timer          Timer
}

func newCGroup() *cgroup {
	return &cgroup{
		members:     map[string]*cmember{},
		static:      map[string]string{},
		target:      map[string]tpset{},
		owner:       map[TopicPartition]string{},
		topics:      map[string]topicMeta{},
		storedEpoch: -1,
	}
}

// stateName is the group's state as Kafka's ConsumerGroupState names it.
func (cg *cgroup) stateName() string {
	if len(cg.members) == 0 {
		return "Empty"
	}
	if cg.assignmentEpoch < cg.epoch {
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignmentEpoch || m.state != memberStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

func (cg *cgroup) sortedMembers() []*cmember {
	out := make([]*cmember, 0, len(cg.members))
	for _, m := range cg.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func knownAssignor(name string) bool {
	for _, a := range ConsumerAssignors {
		if a == name {
			return true
		}
	}
	return false
}

// newConsumerMemberID is a v4 uuid, base64url encoded (what clients generate at v1).
func newConsumerMemberID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (c *Coordinator) consumerSession() time.Duration {
	if c.cfg.ConsumerSessionTimeout > 0 {
		return c.cfg.ConsumerSessionTimeout
	}
	return DefaultConsumerSessionTimeout
}

func (c *Coordinator) consumerInterval() time.Duration {
	if c.cfg.ConsumerHeartbeatInterval > 0 {
		return c.cfg.ConsumerHeartbeatInterval
	}
	return DefaultConsumerHeartbeatInterval
}

// ConsumerHeartbeat handles a ConsumerGroupHeartbeat (KIP-848): join (epoch 0), heartbeat
// and reconcile, leave (-1) or static leave (-2). It returns once the records it queued
// (the group epoch) are written.
func (c *Coordinator) ConsumerHeartbeat(ctx context.Context, req ConsumerHeartbeatRequest) ConsumerHeartbeatResponse {
	fail := func(code int16, msg string) ConsumerHeartbeatResponse {
		return ConsumerHeartbeatResponse{ErrorCode: code, ErrorMessage: msg, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	if c.cfg.Topics == nil {
		return fail(ErrUnsupportedVersion, "the consumer group protocol is not enabled on this broker")
	}
	if code, msg := validateConsumerHeartbeat(&req); code != ErrNone {
		return fail(code, msg)
	}
	l, code := c.lockGroup(req.Group, req.MemberEpoch == 0, true)
	if code != ErrNone {
		return fail(code, "")
	}
	if l.g == nil {
		return fail(ErrUnknownMemberID, "unknown group")
	}
	defer l.unlock()
	g := l.g
	fresh := g.consumer == nil && g.protocolType == "" && len(g.members) == 0 && len(g.pending) == 0 && len(g.offsets) == 0 && g.stored == nil
	resp := g.consumerHeartbeat(req)
	g.persistConsumer()
	if code := g.flush(ctx, false); code != ErrNone && resp.ErrorCode == ErrNone {
		resp = fail(code, "")
	}
	if fresh && (g.consumer == nil || (len(g.consumer.members) == 0 && g.consumer.storedEpoch < 0)) && g.state != stateDead {
		// A group created by a failed join: drop it again.
		g.remove()
	}
	return resp
}

// validateConsumerHeartbeat checks a request as Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
func validateConsumerHeartbeat(req *ConsumerHeartbeatRequest) (int16, string) {
	if req.Group == "" {
		return ErrInvalidRequest, "GroupId can't be empty."
	}
	if req.InstanceID != nil && *req.InstanceID == "" {
		return ErrInvalidRequest, "InstanceId can't be empty."
	}
	if req.RackID != nil && *req.RackID == "" {
		return ErrInvalidRequest, "RackId can't be empty."
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		return ErrUnsupportedVersion, "SubscribedTopicRegex is not supported by this broker; subscribe by topic names."
	}
	switch {
	case req.MemberEpoch == 0:
		if req.RebalanceTimeout < 0 {
			return ErrInvalidRequest, "RebalanceTimeoutMs must be provided in first request."
		}
		if len(req.Topics) > 0 {
			return ErrInvalidRequest, "TopicPartitions must be empty when (re-)joining."
		}
		if req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil {
			return ErrInvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
		}
	case req.MemberEpoch > 0:
		if req.MemberID == "" {
			return ErrInvalidRequest, "MemberId can't be empty."
		}
	case req.MemberEpoch == LeaveGroupMemberEpoch:
		if req.MemberID == "" {
			return ErrInvalidRequest, "MemberId can't be empty."
		}
	case req.MemberEpoch == LeaveGroupStaticMemberEpoch:
		// Kafka also requires the InstanceId here; clients (franz-go) omit it, the
		// member's own is used.
		if req.MemberID == "" {
			return ErrInvalidRequest, "MemberId can't be empty."
		}
	default:
		return ErrInvalidRequest, "MemberEpoch is invalid."
	}
	return ErrNone, ""
}
