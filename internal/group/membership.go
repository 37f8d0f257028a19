package group

import (
	"context"
	"time"
)

// Join handles a JoinGroup. It blocks until the rebalance it starts or joins completes
// (at most the group's rebalance timeout), or ctx is done.
//
// Kafka's semantics: a dynamic member joining without a member id at v4+ gets an id and
// MEMBER_ID_REQUIRED (KIP-394) and must join again with it; a static member (instance id)
// is admitted at once, and a static member rejoining with its instance id replaces its
// previous incarnation, whose waiting requests get FENCED_INSTANCE_ID, without a rebalance
// when the group is stable and its protocols are unchanged (KIP-345, KIP-814). The
// rebalance completes when every known member has joined (or at the largest rebalance
// timeout, dropping those that did not); the leader receives the members with their
// metadata for the protocol chosen by vote.
func (c *Coordinator) Join(ctx context.Context, req JoinRequest) JoinResponse {
	fail := func(code int16) JoinResponse {
		return JoinResponse{ErrorCode: code, Generation: -1, MemberID: req.MemberID}
	}
	if req.Group == "" {
		return fail(ErrInvalidGroupID)
	}
	if req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout {
		return fail(ErrInvalidSessionTimeout)
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	l, code := c.lockGroup(req.Group, req.MemberID == "", true)
	if code != ErrNone {
		return fail(code)
	}
	if l.g == nil {
		return fail(ErrUnknownMemberID)
	}
	g := l.g
	if g.consumer != nil {
		if len(g.consumer.members) > 0 {
			l.unlock()
			return fail(ErrInconsistentGroupProtocol)
		}
		g.toClassic()
	}
	resp, wait, after := g.join(req)
	if code := g.flush(ctx, false); after != nil {
		resp = after(code)
	}
	l.unlock()
	if wait == nil {
		return resp
	}
	select {
	case r := <-wait:
		return r
	case <-ctx.Done():
		return fail(ErrRequestTimedOut)
	}
}

// join does the work of Join under the group's locks. It returns either an answer or a
// channel the answer will come on; after, when set, completes the answer once the records
// queued in g.out are written (with the write's error code).
func (g *group) join(req JoinRequest) (JoinResponse, chan JoinResponse, func(int16) JoinResponse) {
	fail := func(code int16) (JoinResponse, chan JoinResponse, func(int16) JoinResponse) {
		return JoinResponse{ErrorCode: code, Generation: -1, MemberID: req.MemberID}, nil, nil
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		return fail(ErrInconsistentGroupProtocol)
	}

	if req.MemberID == "" {
		if req.InstanceID != nil {
			prefix := *req.InstanceID
			if old, ok := g.static[*req.InstanceID]; ok && g.members[old] != nil {
				return g.replaceStatic(g.members[old], newMemberID(prefix), req)
			}
			if g.full() {
				return fail(ErrGroupMaxSizeReached)
			}
			return g.addAndRebalance(newMemberID(prefix), req)
		}
		if g.full() {
			return fail(ErrGroupMaxSizeReached)
		}
		id := newMemberID(req.ClientID)
		if req.RequireKnownMemberID {
			g.addPending(id, req.SessionTimeout)
			return JoinResponse{ErrorCode: ErrMemberIDRequired, Generation: -1, MemberID: id}, nil, nil
		}
		return g.addAndRebalance(id, req)
	}

	if _, ok := g.pending[req.MemberID]; ok {
		g.stopPending(req.MemberID)
		return g.addAndRebalance(req.MemberID, req)
	}
	if req.InstanceID != nil {
		if id, ok := g.static[*req.InstanceID]; ok && id != req.MemberID {
			return fail(ErrFencedInstanceID)
		} else if !ok {
			return fail(ErrUnknownMemberID)
		}
	}
	m := g.members[req.MemberID]
	if m == nil {
		return fail(ErrUnknownMemberID)
	}
	switch g.state {
	case statePreparing:
		return g.updateAndRebalance(m, req)
	case stateCompleting:
		if m.matches(req.Protocols) {
			// The member lost our join answer: repeat it.
			g.armSession(m)
			return g.joinAnswer(m, g.leader, false), nil, nil
		}
		return g.updateAndRebalance(m, req)
	case stateStable:
		if g.leader == m.id || !m.matches(req.Protocols) {
			return g.updateAndRebalance(m, req)
		}
		g.armSession(m)
		return g.joinAnswer(m, g.leader, false), nil, nil
	default: // Empty
		return fail(ErrUnknownMemberID)
	}
}

func (g *group) full() bool {
	max := g.cfg().GroupMaxSize
	return max > 0 && len(g.members)+len(g.pending) >= max
}

// joinAnswer is the answer for m in the current generation; the leader gets the members.
func (g *group) joinAnswer(m *member, leader string, skip bool) JoinResponse {
	r := JoinResponse{
		Generation:     g.generation,
		Leader:         leader,
		MemberID:       m.id,
		SkipAssignment: skip,
	}
	pt := g.protocolType
	r.ProtocolType = &pt
	if g.protocol != "" {
		p := g.protocol
		r.Protocol = &p
	}
	if m.id == leader {
		for _, o := range g.sortedMembers() {
			r.Members = append(r.Members, JoinMember{MemberID: o.id, InstanceID: o.instanceID, Metadata: o.metadata(g.protocol)})
		}
	}
	return r
}

func newMember(id string, req JoinRequest) *member {
	return &member{
		id:           id,
		instanceID:   req.InstanceID,
		clientID:     req.ClientID,
		clientHost:   req.ClientHost,
		session:      req.SessionTimeout,
		rebalance:    req.RebalanceTimeout,
		protocolType: req.ProtocolType,
		protocols:    req.Protocols,
		supportsSkip: req.SupportsSkipAssignment,
	}
}

// addPending remembers a member id handed out with MEMBER_ID_REQUIRED; it is forgotten
// after the session timeout unless the member joins with it.
func (g *group) addPending(id string, session time.Duration) {
	g.pending[id] = g.s.c.clock.AfterFunc(session, func() {
		g.timerOp(func() {
			if _, ok := g.pending[id]; !ok {
				return
			}
			delete(g.pending, id)
			if g.state == statePreparing {
				g.maybeCompleteJoin()
			}
		})
	})
}

func (g *group) stopPending(id string) {
	if t, ok := g.pending[id]; ok {
		t.Stop()
		delete(g.pending, id)
	}
}

// addAndRebalance adds a new member waiting in JoinGroup and (re)starts the rebalance.
func (g *group) addAndRebalance(id string, req JoinRequest) (JoinResponse, chan JoinResponse, func(int16) JoinResponse) {
	m := newMember(id, req)
	m.join = make(chan JoinResponse, 1)
	g.addMember(m)
	if g.initialDelay {
		g.newMemberAdded = true
	}
	ch := m.join
	g.rebalanceOrCheck()
	return JoinResponse{}, ch, nil
}

// updateAndRebalance takes a known member's new join and (re)starts the rebalance.
func (g *group) updateAndRebalance(m *member, req JoinRequest) (JoinResponse, chan JoinResponse, func(int16) JoinResponse) {
	// A JoinGroup of this member already waiting is superseded by this one.
	g.answerJoin(m, JoinResponse{ErrorCode: ErrRebalanceInProgress, Generation: -1, MemberID: m.id})
	m.protocols = req.Protocols
	m.session, m.rebalance = req.SessionTimeout, req.RebalanceTimeout
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	m.supportsSkip = req.SupportsSkipAssignment
	m.join = make(chan JoinResponse, 1)
	ch := m.join
	g.armSession(m)
	g.rebalanceOrCheck()
	return JoinResponse{}, ch, nil
}

// rebalanceOrCheck starts a rebalance unless one is being prepared, in which case it
// checks whether it can complete.
func (g *group) rebalanceOrCheck() {
	if g.state == statePreparing {
		g.maybeCompleteJoin()
		return
	}
	g.prepareRebalance()
}

// replaceStatic lets a static member's new incarnation (newID) take over old's place.
func (g *group) replaceStatic(old *member, newID string, req JoinRequest) (JoinResponse, chan JoinResponse, func(int16) JoinResponse) {
	prevLeader := g.leader
	g.answerJoin(old, JoinResponse{ErrorCode: ErrFencedInstanceID, Generation: -1, MemberID: old.id})
	g.answerSync(old, SyncResponse{ErrorCode: ErrFencedInstanceID})
	if old.timer != nil {
		old.timer.Stop()
		old.timer = nil
	}
	m := newMember(newID, req)
	m.seq = old.seq
	m.assignment = old.assignment
	swap := func(from, to *member) {
		delete(g.members, from.id)
		g.members[to.id] = to
		g.static[*to.instanceID] = to.id
		if g.leader == from.id {
			g.leader = to.id
		}
		if g.pendingSync[from.id] {
			delete(g.pendingSync, from.id)
			g.pendingSync[to.id] = true
		}
	}
	swap(old, m)
	g.armSession(m)

	switch g.state {
	case stateStable:
		// The new protocols count; if they change the protocol the group would select,
		// the group rebalances.
		m.protocols = req.Protocols
		if g.selectProtocol() != g.protocol {
			m.join = make(chan JoinResponse, 1)
			ch := m.join
			g.prepareRebalance()
			return JoinResponse{}, ch, nil
		}
		// Persist the new member id; no rebalance.
		g.queueMetadata(g.value())
		after := func(code int16) JoinResponse {
			if code != ErrNone {
				// Revert: the old incarnation keeps its place.
				if g.members[m.id] == m {
					swap(m, old)
					if m.timer != nil {
						m.timer.Stop()
						m.timer = nil
					}
					g.armSession(old)
				}
				return JoinResponse{ErrorCode: code, Generation: -1, Leader: prevLeader}
			}
			if req.SupportsSkipAssignment {
				leader := g.leader
				return g.joinAnswer(m, leader, leader == m.id)
			}
			// Before KIP-814 the leader must not think it leads: an assignment it would
			// compute is ignored by a stable group.
			r := g.joinAnswer(m, prevLeader, false)
			r.Members = nil
			return r
		}
		return JoinResponse{}, nil, after
	case stateCompleting:
		m.protocols = req.Protocols
		m.join = make(chan JoinResponse, 1)
		ch := m.join
		g.prepareRebalance()
		return JoinResponse{}, ch, nil
	default: // Preparing
		m.protocols = req.Protocols
		m.join = make(chan JoinResponse, 1)
		ch := m.join
		g.maybeCompleteJoin()
		return JoinResponse{}, ch, nil
	}
}

// prepareRebalance moves the group to PreparingRebalance: syncs waiting for a
// generation that will not complete get REBALANCE_IN_PROGRESS, and the join completes
// when every member has joined or at the rebalance timeout. A group that was empty first
// waits the initial rebalance delay (extended while members keep arriving, up to the
// rebalance timeout).
func (g *group) prepareRebalance() {
	if g.state == stateCompleting {
		for _, m := range g.members {
			m.assignment = nil
			g.answerSync(m, SyncResponse{ErrorCode: ErrRebalanceInProgress})
		}
	}
	g.clearPendingSync()
	wasEmpty := g.state == stateEmpty
	g.transition(statePreparing)
	g.rebalanceSeq++
	seq := g.rebalanceSeq
	g.stopJoinTimer()
	timeout := g.maxRebalanceTimeout()
	if delay := g.cfg().InitialRebalanceDelay; wasEmpty && delay > 0 {
		g.initialDelay, g.newMemberAdded = true, false
		d := min(delay, timeout)
		g.initialRemaining = timeout - d
		g.joinTimer = g.s.c.clock.AfterFunc(d, func() { g.timerOp(func() { g.initialDelayDone(seq) }) })
		return
	}
	g.initialDelay = false
	g.joinTimer = g.s.c.clock.AfterFunc(timeout, func() {
		g.timerOp(func() {
			if g.rebalanceSeq == seq && g.state == statePreparing {
				g.completeJoin()
			}
		})
	})
	g.maybeCompleteJoin()
}

// initialDelayDone ends one step of the initial rebalance delay.
func (g *group) initialDelayDone(seq uint64) {
	if g.rebalanceSeq != seq || g.state != statePreparing || !g.initialDelay {
		return
	}
	if g.newMemberAdded && g.initialRemaining > 0 {
		d := min(g.cfg().InitialRebalanceDelay, g.initialRemaining)
		g.initialRemaining -= d
		g.newMemberAdded = false
		g.joinTimer = g.s.c.clock.AfterFunc(d, func() { g.timerOp(func() { g.initialDelayDone(seq) }) })
		return
	}
	g.initialDelay = false
	g.completeJoin()
}

// maybeCompleteJoin completes the join once every member waits in JoinGroup and no
// handed-out member id is still expected.
func (g *group) maybeCompleteJoin() {
	if g.state != statePreparing || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	g.completeJoin()
}

// completeJoin ends the join phase: members that did not join are dropped, the next
// generation starts, and every joined member gets its answer. An empty group is written
// to the log as such.
func (g *group) completeJoin() {
	g.stopJoinTimer()
	g.initialDelay = false
	for _, m := range g.sortedMembers() {
		if m.join == nil {
			g.s.c.log.Info("group: member did not rejoin in time", "group", g.id, "member", m.id)
			g.removeMember(m, ErrUnknownMemberID)
		}
	}
	g.rebalanceSeq++
	g.generation++
	if len(g.members) == 0 {
		g.protocol, g.leader = "", ""
		g.transition(stateEmpty)
		g.queueMetadata(g.value())
		return
	}
	g.protocol = g.selectProtocol()
	if g.members[g.leader] == nil {
		g.leader = g.sortedMembers()[0].id
	}
	g.transition(stateCompleting)
	g.pendingSync = map[string]bool{}
	for _, m := range g.sortedMembers() {
		g.pendingSync[m.id] = true
		g.answerJoin(m, g.joinAnswer(m, g.leader, false))
		g.armSession(m)
	}
	// Members that do not sync within the rebalance timeout are dropped.
	gen := g.generation
	g.syncTimer = g.s.c.clock.AfterFunc(g.maxRebalanceTimeout(), func() {
		g.timerOp(func() { g.syncExpired(gen) })
	})
}

// syncExpired drops the members of generation gen that never sent SyncGroup.
func (g *group) syncExpired(gen int32) {
	if g.generation != gen || len(g.pendingSync) == 0 || (g.state != stateCompleting && g.state != stateStable) {
		return
	}
	for id := range g.pendingSync {
		if m := g.members[id]; m != nil {
			g.s.c.log.Info("group: member did not sync in time", "group", g.id, "member", id)
			g.removeMember(m, ErrUnknownMemberID)
		}
	}
	g.pendingSync = nil
	g.syncTimer = nil
	g.prepareRebalance()
}
