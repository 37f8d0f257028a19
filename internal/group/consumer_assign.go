package group

// KIP-848 target assignment and per-member reconciliation (see consumer.go).

import (
	"sort"
	"time"
)

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

// checkFetchMember validates the member of an OffsetFetch (see FetchOffsets).
func (g *group) checkFetchMember(member FetchMember) int16 {
	if g.consumer == nil || member.Epoch < 0 {
		return ErrNone
	}
	m := g.consumer.members[member.ID]
	if m == nil || m.leftStatic {
		return ErrUnknownMemberID
	}
	if member.Epoch != m.epoch {
		return ErrStaleMemberEpoch
	}
	return ErrNone
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
