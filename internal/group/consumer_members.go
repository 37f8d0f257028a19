package group

// KIP-848 member lifecycle: heartbeats, leaving, static members, session timers (see consumer.go).

import (
	"sort"
	"time"
)

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
