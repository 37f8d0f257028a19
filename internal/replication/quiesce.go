package replication

import (
	"bytes"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Quiescence: an idle group stops ticking, so that a node with thousands of idle
// partitions spends (almost) nothing on them. A leader whose log is fully committed,
// applied and replicated, with no proposal for quiesceAfter ticks, sends its followers a
// heartbeat marked as a quiesce request and stops ticking; a follower that gets it from
// its current leader stops ticking too. Any other traffic for the group (a proposal, an
// append, a vote request, a control) wakes it. A quiesced follower whose leader's node
// stops being live wakes up, so an election still follows a leader's crash.

// quiesceAfter is how many idle ticks a leader waits before quiescing its group.
const quiesceAfter = 20

// quiesceMarker is the Context of a heartbeat that asks followers to quiesce.
var quiesceMarker = []byte("chronik-quiesce")

func isQuiesceRequest(m *raftpb.Message) bool {
	return m.Type == raftpb.MsgHeartbeat && bytes.Equal(m.Context, quiesceMarker)
}

// wakes reports whether a message must wake a quiesced group. Heartbeats and their
// responses do not: a leader's last heartbeats may trail its quiesce request, and a
// leader that wakes for a reason sends appends, which wake its followers.
func wakes(m *raftpb.Message) bool {
	return m.Type != raftpb.MsgHeartbeatResp && m.Type != raftpb.MsgHeartbeat
}

// wake makes the group tick again.
func (g *group) wake() {
	g.quiesced.Store(false)
	g.idleTicks = 0
}

// noteQuiesceRequest quiesces a follower when the request comes from its leader in its
// term (called after the message was stepped).
func (g *group) noteQuiesceRequest(m *raftpb.Message) {
	st := g.rn.BasicStatus()
	if st.RaftState == raft.StateFollower && st.Lead == m.From && st.Term == m.Term {
		g.quiesced.Store(true)
	}
}

// maybeQuiesce runs on a leader's tick: after quiesceAfter idle ticks, if everything is
// committed, applied and replicated to every voter, it sends the quiesce request and
// stops ticking. It returns the messages to send.
func (g *group) maybeQuiesce(ticks int64) []raftpb.Message {
	g.idleTicks += int(ticks)
	if g.idleTicks < quiesceAfter {
		return nil
	}
	g.idleTicks = 0
	st := g.rn.Status()
	if st.RaftState != raft.StateLeader || st.Applied != st.Commit || st.LeadTransferee != 0 {
		return nil
	}
	last, err := g.storage.LastIndex()
	if err != nil || last != st.Commit {
		return nil
	}
	var out []raftpb.Message
	for id, pr := range st.Progress {
		if pr.Match != last || pr.IsLearner {
			return nil
		}
		if id != st.ID {
			out = append(out, raftpb.Message{Type: raftpb.MsgHeartbeat, To: id, From: st.ID, Term: st.Term,
				Commit: st.Commit, Context: quiesceMarker})
		}
	}
	g.quiesced.Store(true)
	return out
}

// wakeLeaderless wakes a quiesced follower whose leader's node went silent. It forgets
// the leader, so that it grants pre-votes at once (PreVote with CheckQuorum otherwise
// waits out the leader's lease), and the first live voter of the group's list campaigns right away, so the
// group fails over without first waiting a whole election timeout.
func (w *worker) wakeLeaderless(g *group) {
	g.wake()
	dead := g.leader.Load()
	_ = g.rn.ForgetLeader()
	for _, v := range g.conf.Voters {
		if v == dead || (v != w.h.cfg.NodeID && !w.h.cfg.Live(v)) {
			continue
		}
		if v == w.h.cfg.NodeID {
			_ = g.rn.Campaign()
		}
		return
	}
}

// Quiesced reports whether a group is quiesced on this node.
func (h *Host) Quiesced(id uint64) bool {
	g := h.group(id)
	return g != nil && g.quiesced.Load()
}
