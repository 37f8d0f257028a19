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

// consumerHeartbeat does ConsumerHeartbeat under the group's write locks.
func (g *group) consumerHeartbeat(req ConsumerHeartbeatRequest) ConsumerHeartbeatResponse {
	fail := func(code int16, msg string) ConsumerHeartbeatResponse {
		return ConsumerHeartbeatResponse{ErrorCode: code, ErrorMessage: msg, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	if g.consumer == nil {
		if len(g.members) > 0 || len(g.pending) > 0 {
			return fail(ErrGroupIDNotFound, "Group "+g.id+" is not a consumer group.")
		}
		if req.MemberEpoch != 0 {
			return fail(ErrUnknownMemberID, "")
		}
		g.toConsumer()
	}
	cg := g.consumer
	switch req.MemberEpoch {
	case LeaveGroupMemberEpoch, LeaveGroupStaticMemberEpoch:
		return g.consumerLeave(req)
	}

	var m *cmember
	bump := false
	full := req.MemberEpoch == 0 || req.RebalanceTimeout >= 0 || req.SubscribedTopicNames != nil ||
		req.ServerAssignor != nil || req.Topics != nil || req.InstanceID != nil || req.RackID != nil
	if req.MemberEpoch == 0 {
		if req.MemberID == "" {
			req.MemberID = newConsumerMemberID()
		}
		m = cg.members[req.MemberID]
		if req.InstanceID != nil {
			if oldID, ok := cg.static[*req.InstanceID]; ok && oldID != req.MemberID {
				old := cg.members[oldID]
				if old != nil && !old.leftStatic {
					return fail(ErrUnreleasedInstanceID, "Static member "+*req.InstanceID+" is still in the group.")
				}
				if old != nil {
					g.replaceStaticConsumer(old, req.MemberID)
					m = old
				}
			}
		}
		switch {
		case m == nil:
			if max := g.cfg().GroupMaxSize; max > 0 && len(cg.members) >= max {
				return fail(ErrGroupMaxSizeReached, "")
			}
			m = &cmember{id: req.MemberID, assigned: tpset{}, revoking: tpset{}, assignedAt: map[TopicPartition]int32{}}
			cg.members[m.id] = m
			bump = true
			if len(cg.members) == 1 {
				g.transition(stateStable)
			}
		default:
			// A (re)join of a known member: the client owns nothing (its Topics are empty),
			// so whatever it was being asked to revoke, or owns beyond its target, is free.
			g.rejoinConsumer(m)
		}
		if req.InstanceID != nil {
			id := *req.InstanceID
			m.instanceID = &id
			cg.static[id] = m.id
		}
		m.session = g.s.c.consumerSession()
	} else {
		m = cg.members[req.MemberID]
		if m == nil {
			return fail(ErrUnknownMemberID, "")
		}
		if req.InstanceID != nil && cg.static[*req.InstanceID] != m.id {
			return fail(ErrFencedInstanceID, "")
		}
		if m.leftStatic {
			return fail(ErrFencedMemberEpoch, "The member left the group.")
		}
		if code := m.checkEpoch(req, g.s.c.cfg.Topics); code != ErrNone {
			return fail(code, "The consumer group member has a different member epoch than expected.")
		}
	}

	// Member fields.
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.RackID != nil {
		r := *req.RackID
		m.rackID = &r
	}
	if req.RebalanceTimeout >= 0 {
		m.rebalance = req.RebalanceTimeout
	}
	if req.SubscribedTopicNames != nil {
		subs := append([]string{}, req.SubscribedTopicNames...)
		sort.Strings(subs)
		subs = compactStrings(subs)
		if !equalStrings(subs, m.subscribed) {
			m.subscribed = subs
			bump = true
		}
	}
	if req.ServerAssignor != nil {
		a := *req.ServerAssignor
		if !knownAssignor(a) {
			a = "" // unknown: the group's default
		}
		if a != m.assignor {
			m.assignor = a
			bump = true
		}
	}
	g.armConsumerSession(m)

	if bump || (cg.assignmentEpoch == cg.epoch && g.topicsChanged()) {
		cg.epoch++
	}
	g.updateTarget()

	var owned tpset
	if req.Topics != nil {
		owned = g.ownedFrom(req.Topics)
	}
	changed := g.reconcile(m, owned)
	resp := ConsumerHeartbeatResponse{
		MemberID:          m.id,
		MemberEpoch:       m.epoch,
		HeartbeatInterval: g.s.c.consumerInterval(),
	}
	if changed || full {
		resp.HasAssignment = true
		resp.Assignment = g.consumerAssignment(m.assigned)
	}
	return resp
}

// checkEpoch is Kafka's throwIfMemberEpochIsInvalid: a newer epoch than the member's is
// fenced; an older one only if it is the previous epoch and the member owns no more than
// its current assignment (its last answer was lost).
func (m *cmember) checkEpoch(req ConsumerHeartbeatRequest, topics TopicSource) int16 {
	if req.MemberEpoch == m.epoch {
		return ErrNone
	}
	if req.MemberEpoch > m.epoch || req.MemberEpoch != m.prevEpoch || req.Topics == nil {
		return ErrFencedMemberEpoch
	}
	for _, t := range req.Topics {
		name, ok := topics.TopicByID(t.TopicID)
		if !ok {
			return ErrFencedMemberEpoch
		}
		for _, p := range t.Partitions {
			tp := TopicPartition{Topic: name, Partition: p}
			if _, ok := m.assigned[tp]; !ok {
				return ErrFencedMemberEpoch
			}
		}
	}
	return ErrNone
}

// toConsumer turns an empty classic (or new) group into a consumer group.
func (g *group) toConsumer() {
	if g.stored != nil {
		g.out = append(g.out, Record{Key: EncodeGroupKey(g.id)})
		g.stored = nil
	}
	g.stopJoinTimer()
	g.clearPendingSync()
	g.consumer = newCGroup()
	g.protocolType = "consumer"
	g.protocol = ""
	g.leader = ""
	g.generation = 0
	g.transition(stateEmpty)
}

// toClassic turns an empty consumer group into a classic one (a classic JoinGroup).
func (g *group) toClassic() {
	cg := g.consumer
	if cg == nil {
		return
	}
	if cg.storedEpoch >= 0 {
		g.out = append(g.out, Record{Key: EncodeConsumerGroupKey(g.id)})
	}
	if cg.storedMembers != nil {
		g.out = append(g.out, Record{Key: EncodeConsumerMembersKey(g.id)})
	}
	g.consumer = nil
	g.protocolType = ""
	g.transition(stateEmpty)
}

// consumerLeave handles epoch -1 (leave) and -2 (static leave: the member and its
// assignment stay until its session expires or its instance rejoins).
func (g *group) consumerLeave(req ConsumerHeartbeatRequest) ConsumerHeartbeatResponse {
	cg := g.consumer
	m := cg.members[req.MemberID]
	if m == nil && req.InstanceID != nil {
		if id, ok := cg.static[*req.InstanceID]; ok {
			if id != req.MemberID {
				return ConsumerHeartbeatResponse{ErrorCode: ErrFencedInstanceID, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
			}
		}
	}
	if m == nil {
		return ConsumerHeartbeatResponse{ErrorCode: ErrUnknownMemberID, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	if req.InstanceID != nil && cg.static[*req.InstanceID] != m.id {
		return ConsumerHeartbeatResponse{ErrorCode: ErrFencedInstanceID, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	if req.MemberEpoch == LeaveGroupStaticMemberEpoch && m.instanceID != nil {
		// Kafka: the member keeps its assignment (no rebalance) for its session timeout,
		// so that its instance can come back and take it over.
		g.s.c.log.Info("group: static consumer member left temporarily", "group", g.id, "member", m.id, "instance", *m.instanceID)
		m.leftStatic = true
		g.releaseTP(m, m.revoking) // nothing will acknowledge these any more
		m.revoking = tpset{}
		m.state = memberStable
		m.deadline = g.now().Add(m.session)
		return ConsumerHeartbeatResponse{MemberID: m.id, MemberEpoch: LeaveGroupStaticMemberEpoch}
	}
	g.s.c.log.Info("group: consumer member left", "group", g.id, "member", m.id)
	g.removeConsumerMember(m)
	return ConsumerHeartbeatResponse{MemberID: m.id, MemberEpoch: LeaveGroupMemberEpoch}
}

// replaceStaticConsumer gives a static member that left (epoch -2) a new member id: its
// instance rejoined. It keeps its assignment (what is still in its target).
func (g *group) replaceStaticConsumer(m *cmember, newID string) {
	cg := g.consumer
	oldID := m.id
	delete(cg.members, oldID)
	m.id = newID
	cg.members[newID] = m
	if t, ok := cg.target[oldID]; ok {
		delete(cg.target, oldID)
		cg.target[newID] = t
	}
	for tp, o := range cg.owner {
		if o == oldID {
			cg.owner[tp] = newID
		}
	}
	m.leftStatic = false
	g.rejoinConsumer(m)
}

// rejoinConsumer resets a member that joins again (epoch 0): it owns only what its target
// still gives it and will move to the assignment epoch on this heartbeat.
func (g *group) rejoinConsumer(m *cmember) {
	g.releaseTP(m, m.revoking)
	m.revoking = tpset{}
	if t := g.consumer.target[m.id]; t != nil {
		var drop tpset
		for tp := range m.assigned {
			if _, ok := t[tp]; !ok {
				if drop == nil {
					drop = tpset{}
				}
				drop[tp] = struct{}{}
			}
		}
		g.releaseTP(m, drop)
	}
	m.state = memberStable
	m.prevEpoch = m.epoch
	m.epoch = 0
}

// releaseTP drops partitions from m's current assignment and from the owner map.
func (g *group) releaseTP(m *cmember, tps tpset) {
	cg := g.consumer
	for tp := range tps {
		if cg.owner[tp] == m.id {
			delete(cg.owner, tp)
		}
		delete(m.assigned, tp)
		delete(m.assignedAt, tp)
	}
}

// removeConsumerMember removes a member (left, expired or fenced): its partitions are
// free and the group epoch is bumped.
func (g *group) removeConsumerMember(m *cmember) {
	cg := g.consumer
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	m.timerSeq++
	for tp, o := range cg.owner {
		if o == m.id {
			delete(cg.owner, tp)
		}
	}
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	if m.instanceID != nil && cg.static[*m.instanceID] == m.id {
		delete(cg.static, *m.instanceID)
	}
	cg.epoch++
	g.updateTarget()
	if len(cg.members) == 0 {
		g.transition(stateEmpty)
	}
}

// armConsumerSession extends m's session; one timer per member re-arms itself until the
// session (or the revocation deadline) has really passed.
func (g *group) armConsumerSession(m *cmember) {
	m.deadline = g.now().Add(m.session)
	if m.timer == nil {
		g.startConsumerTimer(m, m.session)
	}
}

func (g *group) startConsumerTimer(m *cmember, d time.Duration) {
	m.timerSeq++
	seq := m.timerSeq
	m.timer = g.s.c.clock.AfterFunc(d, func() {
		g.timerOp(func() {
			if m.timerSeq == seq {
				g.consumerSessionCheck(m)
			}
		})
	})
}

// rearmConsumerTimer restarts m's timer to fire at its session or revocation deadline,
// whichever comes first.
func (g *group) rearmConsumerTimer(m *cmember) {
	if m.timer != nil {
		m.timer.Stop()
	}
	next := m.deadline
	if m.state == memberUnrevoked && !m.revokeDeadline.IsZero() && m.revokeDeadline.Before(next) {
		next = m.revokeDeadline
	}
	g.startConsumerTimer(m, max(next.Sub(g.now()), 0))
}

func (g *group) consumerSessionCheck(m *cmember) {
	cg := g.consumer
	if cg == nil || cg.members[m.id] != m {
		return
	}
	now := g.now()
	next := m.deadline
	if m.state == memberUnrevoked && !m.revokeDeadline.IsZero() && m.revokeDeadline.Before(next) {
		next = m.revokeDeadline
	}
	if now.Before(next) {
		g.startConsumerTimer(m, next.Sub(now))
		return
	}
	m.timer = nil
	if !now.Before(m.deadline) {
		g.s.c.log.Info("group: consumer member session expired", "group", g.id, "member", m.id)
	} else {
		g.s.c.log.Info("group: consumer member fenced: partitions not revoked within the rebalance timeout", "group", g.id, "member", m.id)
	}
	g.removeConsumerMember(m)
	g.queueConsumerMembers()
}

// topicsChanged reports whether the metadata of a subscribed topic (or the set of
// subscribed topics) differs from what the target assignment was computed from.
func (g *group) topicsChanged() bool {
	cg := g.consumer
	cur := g.subscribedMeta()
	if len(cur) != len(cg.topics) {
		return true
	}
	for t, tm := range cur {
		if old, ok := cg.topics[t]; !ok || old != tm {
			return true
		}
	}
	return false
}

// subscribedMeta reads the metadata of every topic a member subscribes to.
func (g *group) subscribedMeta() map[string]topicMeta {
	src := g.s.c.cfg.Topics
	out := map[string]topicMeta{}
	for _, m := range g.consumer.members {
		for _, t := range m.subscribed {
			if _, ok := out[t]; ok {
				continue
			}
			var tm topicMeta
			if src != nil {
				if id, n, ok := src.Partitions(t); ok && n > 0 {
					tm = topicMeta{id: id, parts: n}
				}
			}
			out[t] = tm
		}
	}
	return out
}

// groupAssignor is the assignor most members ask for (ties: the default, then by name).
func (cg *cgroup) groupAssignor() string {
	votes := map[string]int{}
	for _, m := range cg.members {
		if m.assignor != "" {
			votes[m.assignor]++
		}
	}
	best, n := DefaultConsumerAssignor, votes[DefaultConsumerAssignor]
	for _, a := range ConsumerAssignors {
		if votes[a] > n {
			best, n = a, votes[a]
		}
	}
	return best
}

// updateTarget recomputes the target assignment when the group epoch moved past it, and
// queues the group epoch record when it changed.
func (g *group) updateTarget() {
	cg := g.consumer
	if cg.assignmentEpoch < cg.epoch {
		cg.topics = g.subscribedMeta()
		cg.assignor = cg.groupAssignor()
		members := cg.sortedMembers()
		ids := make([]string, len(members))
		subs := map[string][]string{}
		prev := map[string]tpset{}
		for i, m := range members {
			ids[i] = m.id
			subs[m.id] = m.subscribed
			prev[m.id] = cg.target[m.id]
		}
		parts := map[string]int32{}
		for t, tm := range cg.topics {
			parts[t] = tm.parts
		}
		if cg.assignor == "range" {
			cg.target = assignRange(ids, subs, parts)
		} else {
			cg.target = assignUniform(ids, subs, parts, prev)
		}
		cg.assignmentEpoch = cg.epoch
	}
	if cg.storedEpoch != cg.epoch {
		cg.storedEpoch = cg.epoch
		g.out = append(g.out, Record{Key: EncodeConsumerGroupKey(g.id), Value: EncodeConsumerGroupValue(cg.epoch)})
	}
}

// persistConsumer queues the group epoch and members records as they changed.
func (g *group) persistConsumer() {
	if cg := g.consumer; cg == nil || (cg.epoch == 0 && cg.storedEpoch < 0 && len(cg.members) == 0) {
		return // nothing happened (a failed first join)
	}
	g.updateTarget()
	g.queueConsumerMembers()
}

// ownedFrom maps a request's owned partitions to names (unknown topic ids are ignored).
func (g *group) ownedFrom(topics []ConsumerTopicPartitions) tpset {
	out := tpset{}
	src := g.s.c.cfg.Topics
	for _, t := range topics {
		name, ok := src.TopicByID(t.TopicID)
		if !ok {
			continue
		}
		for _, p := range t.Partitions {
			out[TopicPartition{Topic: name, Partition: p}] = struct{}{}
		}
	}
	return out
}

// reconcile moves m towards its target assignment (see the package comment at the top of
// this file); owned is what the member reports owning (nil: not reported). It reports
// whether m's assignment or epoch changed.
func (g *group) reconcile(m *cmember, owned tpset) bool {
	cg := g.consumer
	changed := false
	if m.state == memberUnrevoked {
		if owned == nil {
			return false
		}
		for tp := range m.revoking {
			if _, ok := owned[tp]; ok {
				return false // still revoking
			}
		}
		g.releaseTP(m, m.revoking)
		m.revoking = tpset{}
		m.state = memberStable
		m.revokeDeadline = time.Time{}
		changed = true
	}
	if m.state == memberStable && m.epoch == cg.assignmentEpoch {
		return changed
	}
	target := cg.target[m.id]
	revoke := tpset{}
	for tp := range m.assigned {
		if _, ok := target[tp]; !ok {
			revoke[tp] = struct{}{}
		}
	}
	if len(revoke) > 0 {
		for tp := range revoke {
			delete(m.assigned, tp)
		}
		m.revoking = revoke
		m.state = memberUnrevoked
		m.revokeDeadline = g.now().Add(m.rebalance)
		g.rearmConsumerTimer(m)
		return true
	}
	missing := false
	for tp := range target {
		if _, ok := m.assigned[tp]; ok {
			continue
		}
		if o, ok := cg.owner[tp]; ok && o != m.id {
			missing = true
			continue
		}
		cg.owner[tp] = m.id
		m.assigned[tp] = struct{}{}
		m.assignedAt[tp] = cg.assignmentEpoch
		changed = true
	}
	if m.epoch != cg.assignmentEpoch {
		m.prevEpoch = m.epoch
		m.epoch = cg.assignmentEpoch
		changed = true
	}
	st := memberStable
	if missing {
		st = memberUnreleased
	}
	if st != m.state {
		m.state = st
		changed = true
	}
	return changed
}

// consumerAssignment lists partitions by topic, with topic ids (topics whose id is not
// known are left out).
func (g *group) consumerAssignment(tps tpset) []ConsumerTopicPartitions {
	by := map[string][]int32{}
	for tp := range tps {
		by[tp.Topic] = append(by[tp.Topic], tp.Partition)
	}
	names := make([]string, 0, len(by))
	for t := range by {
		names = append(names, t)
	}
	sort.Strings(names)
	out := []ConsumerTopicPartitions{}
	for _, t := range names {
		tm, ok := g.consumer.topics[t]
		if !ok || tm.id == [16]byte{} {
			if src := g.s.c.cfg.Topics; src != nil {
				if id, _, ok := src.Partitions(t); ok {
					tm.id = id
				}
			}
		}
		ps := by[t]
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		out = append(out, ConsumerTopicPartitions{TopicID: tm.id, Topic: t, Partitions: ps})
	}
	return out
}

// checkConsumerCommit validates an OffsetCommit for a consumer group.
func (g *group) checkConsumerCommit(req CommitRequest) int16 {
	cg := g.consumer
	if req.MemberID == "" && req.Generation < 0 {
		if len(cg.members) == 0 {
			return ErrNone
		}
		return ErrUnknownMemberID
	}
	m := cg.members[req.MemberID]
	if m == nil || m.leftStatic {
		return ErrUnknownMemberID
	}
	if req.Generation == m.epoch {
		return ErrNone
	}
	if req.Generation > m.epoch || req.Generation < 0 {
		return ErrStaleMemberEpoch
	}
	// An older epoch: fine for partitions the member owned at that epoch already.
	for _, o := range req.Offsets {
		tp := TopicPartition{Topic: o.Topic, Partition: o.Partition}
		at, ok := m.assignedAt[tp]
		if !ok || at > req.Generation {
			return ErrStaleMemberEpoch
		}
	}
	return ErrNone
}

// killConsumer stops the members' timers (the group is dead).
func (g *group) killConsumer() {
	if g.consumer == nil {
		return
	}
	for _, m := range g.consumer.members {
		if m.timer != nil {
			m.timer.Stop()
			m.timer = nil
		}
	}
}

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
