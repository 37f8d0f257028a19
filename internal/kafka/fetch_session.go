package kafka

// Incremental fetch sessions (KIP-227, Fetch v7+).
//
// A request's (SessionID, SessionEpoch) selects one of:
//   - epoch -1: a sessionless full fetch; a non-zero SessionID is closed first;
//   - epoch 0: a full fetch that opens a new session (closing SessionID if non-zero)
//     holding the request's partitions; the response carries the new id;
//   - epoch > 0: an incremental fetch of session SessionID, which must expect exactly
//     this epoch (else INVALID_FETCH_SESSION_EPOCH; an unknown id is
//     FETCH_SESSION_ID_NOT_FOUND). The request's partitions are added or updated,
//     ForgottenTopics removed, and every partition of the session is fetched; the
//     response only carries partitions with records, an error, or a changed high
//     watermark, last stable offset, log start offset or preferred read replica.
//     Partitions answered move to the back of the session's order so that a full
//     response budget does not starve the others.
//
// Sessions live in a per-Server cache bounded to defaultFetchSessions entries; opening a
// session when full evicts the least recently used one.

import (
	"container/list"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// defaultFetchSessions bounds the fetch session cache (Kafka's
// max.incremental.fetch.session.cache.slots default).
const defaultFetchSessions = 1000

// partKey identifies a partition in a session: by name below Fetch v13, by topic id from
// v13 on (name then empty).
type partKey struct {
	topic     string
	id        [16]byte
	partition int32
}

// fetchTarget is one partition a Fetch reads.
type fetchTarget struct {
	key         partKey
	topic       string // resolved name; "" when the topic id is unknown
	id          [16]byte
	offset      int64
	maxBytes    int32
	leaderEpoch int32
}

// sessionPart is a partition cached in a session with what was last answered for it.
type sessionPart struct {
	fetchTarget
	elem      *list.Element
	sent      bool
	hw        int64
	lso       int64
	logStart  int64
	preferred int32
}

// fetchSession is one cached session. mu guards everything but lru.
type fetchSession struct {
	id    int32
	mu    sync.Mutex
	epoch int32 // the epoch the next incremental request must carry
	parts map[partKey]*sessionPart
	order *list.List // of *sessionPart
	lru   *list.Element
}

// fetchSessionCache holds the sessions of one Server.
type fetchSessionCache struct {
	mu   sync.Mutex
	max  int
	byID map[int32]*fetchSession
	lru  *list.List // of *fetchSession, least recently used first
}

func newFetchSessionCache(max int) *fetchSessionCache {
	return &fetchSessionCache{max: max, byID: map[int32]*fetchSession{}, lru: list.New()}
}

// create opens a new session, evicting the least recently used one when full.
func (c *fetchSessionCache) create() *fetchSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.byID) >= c.max && c.lru.Len() > 0 {
		old := c.lru.Remove(c.lru.Front()).(*fetchSession)
		delete(c.byID, old.id)
	}
	id := rand.Int32N(math.MaxInt32) + 1
	for c.byID[id] != nil {
		id = rand.Int32N(math.MaxInt32) + 1
	}
	fs := &fetchSession{id: id, epoch: 1, parts: map[partKey]*sessionPart{}, order: list.New()}
	fs.lru = c.lru.PushBack(fs)
	c.byID[id] = fs
	return fs
}

// get returns a session and marks it used.
func (c *fetchSessionCache) get(id int32) *fetchSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	fs := c.byID[id]
	if fs != nil {
		c.lru.MoveToBack(fs.lru)
	}
	return fs
}

// remove closes a session if it exists.
func (c *fetchSessionCache) remove(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fs := c.byID[id]; fs != nil {
		c.lru.Remove(fs.lru)
		delete(c.byID, id)
	}
}

// len is the number of cached sessions.
func (c *fetchSessionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

// fetchContext is what a Fetch reads and how its answer is filtered.
type fetchContext struct {
	session     *fetchSession // nil for sessionless fetches
	incremental bool
	sessionID   int32 // answered in the response
	targets     []fetchTarget
}

// requestTargets lists the partitions of a request in order, resolving topic ids (v13+).
func (s *Server) requestTargets(req *kmsg.FetchRequest) []fetchTarget {
	var out []fetchTarget
	for _, rt := range req.Topics {
		name, key := rt.Topic, partKey{topic: rt.Topic}
		if req.Version >= 13 {
			name = ""
			if n, ok := s.backend.TopicNameByID(rt.TopicID); ok {
				name = n
			}
			key = partKey{id: rt.TopicID}
		}
		for _, rp := range rt.Partitions {
			key.partition = rp.Partition
			epoch := int32(-1)
			if req.Version >= 9 {
				epoch = rp.CurrentLeaderEpoch
			}
			out = append(out, fetchTarget{
				key: key, topic: name, id: rt.TopicID,
				offset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes, leaderEpoch: epoch,
			})
		}
	}
	return out
}

// openFetch selects the session of a request (see the file comment) and returns what to
// fetch, or a top-level error code.
func (s *Server) openFetch(req *kmsg.FetchRequest) (*fetchContext, int16) {
	targets := s.requestTargets(req)
	if req.Version < 7 {
		return &fetchContext{targets: targets}, 0
	}
	switch {
	case req.SessionEpoch == -1:
		if req.SessionID != 0 {
			s.sessions.remove(req.SessionID)
		}
		return &fetchContext{targets: targets}, 0
	case req.SessionEpoch == 0:
		if req.SessionID != 0 {
			s.sessions.remove(req.SessionID)
		}
		fs := s.sessions.create()
		fs.mu.Lock()
		defer fs.mu.Unlock()
		fs.update(targets)
		return &fetchContext{session: fs, sessionID: fs.id, targets: fs.snapshot()}, 0
	case req.SessionEpoch < -1:
		return nil, kerr.InvalidFetchSessionEpoch.Code
	}

	fs := s.sessions.get(req.SessionID)
	if fs == nil {
		return nil, kerr.FetchSessionIDNotFound.Code
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if req.SessionEpoch != fs.epoch {
		return nil, kerr.InvalidFetchSessionEpoch.Code
	}
	fs.epoch++
	if fs.epoch <= 0 {
		fs.epoch = 1
	}
	fs.update(targets)
	for _, ft := range req.ForgottenTopics {
		key := partKey{topic: ft.Topic}
		if req.Version >= 13 {
			key = partKey{id: ft.TopicID}
		}
		for _, p := range ft.Partitions {
			key.partition = p
			if sp := fs.parts[key]; sp != nil {
				fs.order.Remove(sp.elem)
				delete(fs.parts, key)
			}
		}
	}
	return &fetchContext{session: fs, incremental: true, sessionID: fs.id, targets: fs.snapshot()}, 0
}

// update adds or updates partitions of the session. Caller holds fs.mu.
func (fs *fetchSession) update(targets []fetchTarget) {
	for _, t := range targets {
		if sp := fs.parts[t.key]; sp != nil {
			name := sp.topic
			sp.fetchTarget = t
			if t.topic == "" { // keep the name an id resolved to when it was added
				sp.topic = name
			}
			continue
		}
		sp := &sessionPart{fetchTarget: t}
		sp.elem = fs.order.PushBack(sp)
		fs.parts[t.key] = sp
	}
}

// snapshot lists the session's partitions in order. Caller holds fs.mu.
func (fs *fetchSession) snapshot() []fetchTarget {
	out := make([]fetchTarget, 0, len(fs.parts))
	for e := fs.order.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*sessionPart).fetchTarget)
	}
	return out
}

// finish records what is answered for each partition in the session and, for an
// incremental fetch, drops the partitions with nothing new. It returns the kept results.
func (fc *fetchContext) finish(outs []fetchOut) []fetchOut {
	if fc.session == nil {
		return outs
	}
	fs := fc.session
	fs.mu.Lock()
	defer fs.mu.Unlock()
	kept := outs[:0]
	for _, o := range outs {
		sp := fs.parts[o.target.key]
		if sp == nil { // forgotten meanwhile by a concurrent request
			kept = append(kept, o)
			continue
		}
		p := &o.part
		changed := !sp.sent || len(p.RecordBatches) > 0 || p.ErrorCode != 0 ||
			p.HighWatermark != sp.hw || p.LastStableOffset != sp.lso ||
			p.LogStartOffset != sp.logStart || p.PreferredReadReplica != sp.preferred
		sp.sent, sp.hw, sp.lso, sp.logStart, sp.preferred = true, p.HighWatermark, p.LastStableOffset, p.LogStartOffset, p.PreferredReadReplica
		if !fc.incremental {
			kept = append(kept, o)
			continue
		}
		if changed {
			fs.order.MoveToBack(sp.elem)
			kept = append(kept, o)
		}
	}
	return kept
}
