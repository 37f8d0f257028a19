package group

import (
	"bytes"
	"sort"
	"sync"
	"time"
)

// state is a classic group's state, as Kafka's GroupState.
type state int8

const (
	stateEmpty state = iota
	statePreparing
	stateCompleting
	stateStable
	stateDead
)

// String is Kafka's name of the state (DescribeGroups, ListGroups).
func (s state) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparing:
		return "PreparingRebalance"
	case stateCompleting:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// group is one consumer group. Fields are guarded by mu; appends are serialized by wmu.
type group struct {
	id string
	s  *shard

	wmu sync.Mutex
	mu  sync.Mutex

	state        state
	stateTime    time.Time // when state last changed (Kafka's currentStateTimestamp)
	protocolType string    // "" until a member joins (simple-consumer groups keep "")
	protocol     string    // selected protocol of the generation, "" none
	generation   int32
	leader       string
	members      map[string]*member
	pending      map[string]Timer  // KIP-394: ids handed out, not joined yet
	static       map[string]string // group.instance.id -> member id
	offsets      map[TopicPartition]OffsetValue
	nextSeq      uint64

	// rebalance bookkeeping
	joinTimer        Timer
	rebalanceSeq     uint64 // bumped by every prepareRebalance and completeJoin
	initialDelay     bool   // in the initial rebalance delay of a group that was empty
	initialRemaining time.Duration
	newMemberAdded   bool
	syncTimer        Timer
	pendingSync      map[string]bool // members that got the join answer but have not synced

	// consumer is set for a group of type consumer (KIP-848, consumer.go); the classic
	// fields above are then unused (state is Empty or Stable, protocolType "consumer").
	consumer *cgroup

	// stored is the metadata as last queued for the log (nil: never written).
	stored *GroupValue
	// out holds records to append before the current operation answers.
	out []Record
}

// member is one member of a group.
type member struct {
	id           string
	instanceID   *string
	clientID     string
	clientHost   string
	session      time.Duration
	rebalance    time.Duration
	protocolType string
	protocols    []Protocol
	assignment   []byte
	seq          uint64 // join order; the first member is the default leader
	supportsSkip bool

	join chan JoinResponse // set while a JoinGroup waits
	sync chan SyncResponse // set while a SyncGroup waits

	deadline time.Time // session expiry
	timer    Timer
}

func newGroup(s *shard, id string) *group {
	return &group{
		id:        id,
		s:         s,
		stateTime: s.c.clock.Now(),
		members:   map[string]*member{},
		pending:   map[string]Timer{},
		static:    map[string]string{},
		offsets:   map[TopicPartition]OffsetValue{},
	}
}

func (g *group) cfg() *Config   { return &g.s.c.cfg }
func (g *group) now() time.Time { return g.s.c.clock.Now() }

func (g *group) transition(st state) {
	g.state = st
	g.stateTime = g.now()
}

// sortedMembers lists the members in join order.
func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// maxRebalanceTimeout is the largest rebalance timeout of the members.
func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalance)
	}
	return d
}

// supportsProtocols is Kafka's check that a joining member can be in the group: an empty
// group takes any non-empty protocol type and list; otherwise the type must match and
// one of the member's protocols must be supported by every member.
func (g *group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if protocolType == "" || len(protocols) == 0 {
		return false
	}
	if len(g.members) == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supportCount(p.Name) == len(g.members) {
			return true
		}
	}
	return false
}

func (g *group) supportCount(name string) int {
	n := 0
	for _, m := range g.members {
		if m.supports(name) {
			n++
		}
	}
	return n
}

func (m *member) supports(name string) bool {
	for _, p := range m.protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols are the member's protocols, in the same order with
// the same metadata.
func (m *member) matches(protocols []Protocol) bool {
	if len(m.protocols) != len(protocols) {
		return false
	}
	for i, p := range protocols {
		if m.protocols[i].Name != p.Name || !bytes.Equal(m.protocols[i].Metadata, p.Metadata) {
			return false
		}
	}
	return true
}

// selectProtocol is Kafka's vote: among the protocols every member supports, each member
// votes for the first it lists; most votes wins. Ties go to the protocol the earliest
// member prefers.
func (g *group) selectProtocol() string {
	ms := g.sortedMembers()
	if len(ms) == 0 {
		return ""
	}
	var candidates []string
	for _, p := range ms[0].protocols {
		if g.supportCount(p.Name) == len(ms) {
			candidates = append(candidates, p.Name)
		}
	}
	votes := map[string]int{}
	for _, m := range ms {
		for _, p := range m.protocols {
			if g.supportCount(p.Name) == len(ms) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, c := range candidates {
		if votes[c] > bestVotes {
			best, bestVotes = c, votes[c]
		}
	}
	return best
}

// addMember adds m (protocols set) to the group; the first member fixes the protocol
// type and is the leader until another is chosen.
func (g *group) addMember(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if m.seq == 0 {
		g.nextSeq++
		m.seq = g.nextSeq
	}
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.armSession(m)
}

// removeMember drops a member: its waiting requests get code, its timer stops, a new
// leader is picked if it led. It does not rebalance.
func (g *group) removeMember(m *member, code int16) {
	g.answerJoin(m, JoinResponse{ErrorCode: code, Generation: -1, MemberID: m.id})
	g.answerSync(m, SyncResponse{ErrorCode: code})
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

// answerJoin answers the member's waiting JoinGroup, if any.
func (g *group) answerJoin(m *member, r JoinResponse) {
	if m.join != nil {
		m.join <- r
		m.join = nil
	}
}

// answerSync answers the member's waiting SyncGroup, if any.
func (g *group) answerSync(m *member, r SyncResponse) {
	if m.sync != nil {
		m.sync <- r
		m.sync = nil
	}
}

// armSession (re)starts the member's session: it expires session after now unless a
// heartbeat (or join, sync, commit) comes first. One timer per member; it re-arms itself
// until the deadline has really passed.
func (g *group) armSession(m *member) {
	m.deadline = g.now().Add(m.session)
	if m.timer == nil {
		g.startSessionTimer(m, m.session)
	}
}

func (g *group) startSessionTimer(m *member, d time.Duration) {
	m.timer = g.s.c.clock.AfterFunc(d, func() {
		g.timerOp(func() { g.sessionCheck(m) })
	})
}

// sessionCheck runs when a member's timer fires.
func (g *group) sessionCheck(m *member) {
	if g.members[m.id] != m {
		return
	}
	now := g.now()
	if m.join != nil || m.sync != nil {
		// A member waiting in JoinGroup or SyncGroup is alive (Kafka's rule).
		m.deadline = now.Add(m.session)
	}
	if now.Before(m.deadline) {
		g.startSessionTimer(m, m.deadline.Sub(now))
		return
	}
	m.timer = nil
	g.s.c.log.Info("group: member session expired", "group", g.id, "member", m.id)
	g.memberLeft(m)
}

// memberLeft removes a member that left or expired and rebalances what remains (Kafka's
// removeMemberAndUpdateGroup).
func (g *group) memberLeft(m *member) {
	g.removeMember(m, ErrUnknownMemberID)
	switch g.state {
	case stateStable, stateCompleting:
		g.prepareRebalance()
	case statePreparing:
		g.maybeCompleteJoin()
	}
}

// kill marks the group dead: waiters get code, timers stop.
func (g *group) kill(code int16) {
	for _, m := range g.members {
		g.answerJoin(m, JoinResponse{ErrorCode: code, Generation: -1, MemberID: m.id})
		g.answerSync(m, SyncResponse{ErrorCode: code})
		if m.timer != nil {
			m.timer.Stop()
			m.timer = nil
		}
	}
	for id, t := range g.pending {
		t.Stop()
		delete(g.pending, id)
	}
	g.stopJoinTimer()
	g.clearPendingSync()
	g.killConsumer()
	g.transition(stateDead)
}

func (g *group) stopJoinTimer() {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
}

func (g *group) clearPendingSync() {
	g.pendingSync = nil
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
}

// value is the group's metadata record value as of now (members with their current
// assignments).
func (g *group) value() GroupValue {
	v := GroupValue{
		ProtocolType:          g.protocolType,
		Generation:            g.generation,
		CurrentStateTimestamp: g.stateTime.UnixMilli(),
	}
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" && len(g.members) > 0 {
		l := g.leader
		v.Leader = &l
	}
	for _, m := range g.sortedMembers() {
		v.Members = append(v.Members, MemberValue{
			MemberID:         m.id,
			InstanceID:       m.instanceID,
			ClientID:         m.clientID,
			ClientHost:       m.clientHost,
			RebalanceTimeout: int32(m.rebalance / time.Millisecond),
			SessionTimeout:   int32(m.session / time.Millisecond),
			Subscription:     m.metadata(g.protocol),
			Assignment:       m.assignment,
		})
	}
	return v
}

// queueMetadata queues v as the group's metadata record and remembers it as stored.
func (g *group) queueMetadata(v GroupValue) {
	g.stored = &v
	g.out = append(g.out, Record{Key: EncodeGroupKey(g.id), Value: EncodeGroupValue(v)})
}

// memberDescriptions describes the members; with metadata only when Stable.
func (g *group) memberDescriptions() []MemberDescription {
	var out []MemberDescription
	for _, m := range g.sortedMembers() {
		d := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if g.state == stateStable {
			d.Metadata = m.metadata(g.protocol)
			d.Assignment = m.assignment
		}
		out = append(out, d)
	}
	return out
}
