package group

import "context"

// SyncGroup, Heartbeat and LeaveGroup.

// Sync handles a SyncGroup. Followers wait for the leader's assignment; the leader's
// assignment is written to the log before anyone is answered, and the group is Stable.
func (c *Coordinator) Sync(ctx context.Context, req SyncRequest) SyncResponse {
	if req.Group == "" {
		return SyncResponse{ErrorCode: ErrInvalidGroupID}
	}
	l, code := c.lockGroup(req.Group, false, true)
	if code != ErrNone {
		return SyncResponse{ErrorCode: code}
	}
	if l.g == nil {
		return SyncResponse{ErrorCode: ErrUnknownMemberID}
	}
	g := l.g
	resp, wait := g.sync(req)
	if wait != nil && len(g.out) > 0 {
		gen := g.generation
		code := g.flush(ctx, false)
		g.syncWritten(gen, code)
	}
	l.unlock()
	if wait == nil {
		return resp
	}
	select {
	case r := <-wait:
		return r
	case <-ctx.Done():
		return SyncResponse{ErrorCode: ErrRequestTimedOut}
	}
}

func (g *group) sync(req SyncRequest) (SyncResponse, chan SyncResponse) {
	fail := func(code int16) (SyncResponse, chan SyncResponse) { return SyncResponse{ErrorCode: code}, nil }
	if req.InstanceID != nil {
		if id, ok := g.static[*req.InstanceID]; ok && id != req.MemberID {
			return fail(ErrFencedInstanceID)
		}
	}
	m := g.members[req.MemberID]
	switch {
	case m == nil:
		return fail(ErrUnknownMemberID)
	case req.Generation != g.generation:
		return fail(ErrIllegalGeneration)
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		return fail(ErrInconsistentGroupProtocol)
	}
	switch g.state {
	case statePreparing:
		return fail(ErrRebalanceInProgress)
	case stateCompleting:
		g.answerSync(m, SyncResponse{ErrorCode: ErrRebalanceInProgress}) // superseded
		m.sync = make(chan SyncResponse, 1)
		ch := m.sync
		delete(g.pendingSync, m.id)
		g.armSession(m)
		if m.id == g.leader {
			assigned := map[string][]byte{}
			for _, a := range req.Assignments {
				if g.members[a.MemberID] != nil {
					assigned[a.MemberID] = a.Assignment
				}
			}
			for _, o := range g.members {
				o.assignment = assigned[o.id] // missing members get an empty assignment
			}
			g.queueMetadata(g.value())
		}
		return SyncResponse{}, ch
	case stateStable:
		delete(g.pendingSync, m.id)
		g.armSession(m)
		return g.syncAnswer(m), nil
	default: // Empty
		return fail(ErrUnknownMemberID)
	}
}

// syncWritten finishes the leader's sync once the assignment was written (code is the
// write's outcome): the group becomes Stable and every waiting member gets its
// assignment, or, if the write failed, the waiting members get the error and the group
// rebalances.
func (g *group) syncWritten(gen int32, code int16) {
	if g.state != stateCompleting || g.generation != gen {
		return
	}
	if code != ErrNone {
		for _, m := range g.members {
			m.assignment = nil
			g.answerSync(m, SyncResponse{ErrorCode: code})
		}
		g.prepareRebalance()
		return
	}
	g.transition(stateStable)
	for _, m := range g.members {
		g.answerSync(m, g.syncAnswer(m))
	}
}

func (g *group) syncAnswer(m *member) SyncResponse {
	pt, p := g.protocolType, g.protocol
	a := m.assignment
	if a == nil {
		a = []byte{}
	}
	return SyncResponse{ProtocolType: &pt, Protocol: &p, Assignment: a}
}

// Heartbeat handles a Heartbeat: it extends the member's session and tells it whether a
// rebalance is under way.
func (c *Coordinator) Heartbeat(_ context.Context, req HeartbeatRequest) int16 {
	if req.Group == "" {
		return ErrInvalidGroupID
	}
	l, code := c.lockGroup(req.Group, false, false)
	if code != ErrNone {
		return code
	}
	if l.g == nil {
		return ErrUnknownMemberID
	}
	defer l.unlock()
	g := l.g
	if req.InstanceID != nil {
		if id, ok := g.static[*req.InstanceID]; ok && id != req.MemberID {
			return ErrFencedInstanceID
		}
	}
	m := g.members[req.MemberID]
	switch {
	case m == nil:
		return ErrUnknownMemberID
	case req.Generation != g.generation:
		return ErrIllegalGeneration
	}
	switch g.state {
	case statePreparing:
		g.armSession(m)
		return ErrRebalanceInProgress
	case stateCompleting, stateStable:
		g.armSession(m)
		return ErrNone
	default:
		return ErrUnknownMemberID
	}
}

// Leave handles a LeaveGroup of one or more members (by member id, or by instance id for
// static members). The top-level code is non-zero only when the whole request fails.
func (c *Coordinator) Leave(ctx context.Context, groupID string, members []LeaveMember) (int16, []LeaveResult) {
	results := make([]LeaveResult, len(members))
	for i, lm := range members {
		results[i] = LeaveResult{MemberID: lm.MemberID, InstanceID: lm.InstanceID}
	}
	if groupID == "" {
		return ErrInvalidGroupID, results
	}
	l, code := c.lockGroup(groupID, false, true)
	if code != ErrNone {
		return code, results
	}
	if l.g == nil {
		for i := range results {
			results[i].ErrorCode = ErrUnknownMemberID
		}
		return ErrNone, results
	}
	g := l.g
	for i, lm := range members {
		results[i].ErrorCode = g.leave(lm)
	}
	g.flush(ctx, false)
	l.unlock()
	return ErrNone, results
}

func (g *group) leave(lm LeaveMember) int16 {
	id := lm.MemberID
	if lm.InstanceID != nil {
		known, ok := g.static[*lm.InstanceID]
		if !ok {
			return ErrUnknownMemberID
		}
		if id != "" && id != known {
			return ErrFencedInstanceID
		}
		id = known
	}
	if _, ok := g.pending[id]; ok {
		g.stopPending(id)
		if g.state == statePreparing {
			g.maybeCompleteJoin()
		}
		return ErrNone
	}
	m := g.members[id]
	if m == nil {
		return ErrUnknownMemberID
	}
	g.s.c.log.Info("group: member left", "group", g.id, "member", id, "reason", lm.Reason)
	g.memberLeft(m)
	return ErrNone
}
