package group

import (
	"context"
	"sort"
	"time"
)

// CommitOffsets handles an OffsetCommit and returns one code per requested offset, in
// request order. It returns once the offsets are committed to the log.
//
// Kafka's rules: a group member commits with its member id and the current generation
// (Stable or PreparingRebalance; REBALANCE_IN_PROGRESS while the group awaits its
// SyncGroups). A simple consumer commits with generation -1 (and any member id) when the
// group is Empty or does not exist yet (it is then created as an Empty group without a
// protocol type). Metadata longer than MaxMetadataSize is OFFSET_METADATA_TOO_LARGE for
// that partition.
func (c *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) []int16 {
	codes := make([]int16, len(req.Offsets))
	all := func(code int16) []int16 {
		for i := range codes {
			codes[i] = code
		}
		return codes
	}
	l, code := c.lockGroup(req.Group, req.Generation < 0, true)
	if code != ErrNone {
		return all(code)
	}
	if l.g == nil {
		return all(ErrIllegalGeneration)
	}
	defer l.unlock()
	g := l.g
	if code := g.checkCommit(req); code != ErrNone {
		return all(code)
	}
	if m := g.members[req.MemberID]; m != nil {
		g.armSession(m)
	}
	now := g.now().UnixMilli()
	type pending struct {
		i  int
		tp TopicPartition
		v  OffsetValue
	}
	var ps []pending
	for i, o := range req.Offsets {
		md := ""
		if o.Metadata != nil {
			md = *o.Metadata
		}
		if len(md) > c.cfg.MaxMetadataSize {
			codes[i] = ErrOffsetMetadataTooLarge
			continue
		}
		v := OffsetValue{Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: md, CommitTimestamp: now, ExpireTimestamp: -1}
		tp := TopicPartition{Topic: o.Topic, Partition: o.Partition}
		ps = append(ps, pending{i, tp, v})
		g.out = append(g.out, Record{
			Key:   EncodeOffsetKey(OffsetKey{Group: g.id, Topic: tp.Topic, Partition: tp.Partition}),
			Value: EncodeOffsetValue(v),
		})
	}
	code = g.flush(ctx, true)
	for _, p := range ps {
		codes[p.i] = code
		if code == ErrNone && g.state != stateDead {
			g.offsets[p.tp] = p.v
		}
	}
	return codes
}

// checkCommit validates who commits (Kafka's doCommitOffsets).
func (g *group) checkCommit(req CommitRequest) int16 {
	if g.consumer != nil {
		return g.checkConsumerCommit(req)
	}
	if req.InstanceID != nil {
		if id, ok := g.static[*req.InstanceID]; ok && id != req.MemberID {
			return ErrFencedInstanceID
		}
	}
	if req.Generation < 0 && g.state == stateEmpty {
		return ErrNone
	}
	if g.members[req.MemberID] == nil {
		return ErrUnknownMemberID
	}
	if req.Generation != g.generation {
		return ErrIllegalGeneration
	}
	switch g.state {
	case stateStable, statePreparing:
		return ErrNone
	case stateCompleting:
		return ErrRebalanceInProgress
	default:
		return ErrUnknownMemberID
	}
}

// FetchMember is who fetches offsets (OffsetFetch v9+): a member of a consumer-protocol
// group (KIP-848) with its member epoch, or, with a negative Epoch, an admin client or a
// consumer outside such a group, which is not checked.
type FetchMember struct {
	ID    string
	Epoch int32
}

// NoFetchMember is a fetch by an admin client or a classic consumer.
var NoFetchMember = FetchMember{Epoch: -1}

// FetchOffsets handles one group of an OffsetFetch by member: the committed offsets of
// the given partitions (Offset -1 where none), or of every partition with an offset when
// topics is nil. The code is the group-level error. In a consumer-protocol group a member
// (Epoch >= 0) the group does not have is UNKNOWN_MEMBER_ID, and one at another epoch
// than the group's STALE_MEMBER_EPOCH, as in Kafka; classic groups do not check.
func (c *Coordinator) FetchOffsets(_ context.Context, groupID string, member FetchMember, topics []TopicPartition, all bool) (int16, []FetchedOffset) {
	l, code := c.lockGroup(groupID, false, false)
	if code != ErrNone {
		return code, nil
	}
	var offsets map[TopicPartition]OffsetValue
	if l.g != nil {
		defer l.unlock()
		if code := l.g.checkFetchMember(member); code != ErrNone {
			return code, nil
		}
		offsets = l.g.offsets
	}
	var out []FetchedOffset
	if all {
		for tp, v := range offsets {
			out = append(out, fetched(tp, v))
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Topic != out[j].Topic {
				return out[i].Topic < out[j].Topic
			}
			return out[i].Partition < out[j].Partition
		})
		return ErrNone, out
	}
	for _, tp := range topics {
		v, ok := offsets[tp]
		if !ok {
			out = append(out, FetchedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: -1, LeaderEpoch: -1})
			continue
		}
		out = append(out, fetched(tp, v))
	}
	return ErrNone, out
}

func fetched(tp TopicPartition, v OffsetValue) FetchedOffset {
	return FetchedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: v.Offset, LeaderEpoch: v.LeaderEpoch, Metadata: v.Metadata}
}

// DeleteOffsets handles an OffsetDelete: the committed offsets of the partitions are
// removed (tombstones in the log), except for topics the group's members subscribe to
// (GROUP_SUBSCRIBED_TO_TOPIC, decided from their consumer-protocol subscriptions). A group
// that is not a consumer group can only lose offsets while Empty (else NON_EMPTY_GROUP).
// It returns the group-level code and one code per partition.
func (c *Coordinator) DeleteOffsets(ctx context.Context, groupID string, tps []TopicPartition) (int16, []int16) {
	codes := make([]int16, len(tps))
	l, code := c.lockGroup(groupID, false, true)
	if code != ErrNone {
		return code, codes
	}
	if l.g == nil {
		return ErrGroupIDNotFound, codes
	}
	defer l.unlock()
	g := l.g
	var subscribed map[string]bool // nil: every topic counts as subscribed
	switch {
	case g.state == stateEmpty:
		subscribed = map[string]bool{}
	case g.protocolType == "consumer":
		subscribed = g.subscribedTopics()
	default:
		return ErrNonEmptyGroup, codes
	}
	var del []int
	for i, tp := range tps {
		if subscribed == nil || subscribed[tp.Topic] {
			codes[i] = ErrGroupSubscribedToTopic
			continue
		}
		if _, ok := g.offsets[tp]; !ok {
			continue
		}
		del = append(del, i)
		g.out = append(g.out, Record{Key: EncodeOffsetKey(OffsetKey{Group: g.id, Topic: tp.Topic, Partition: tp.Partition})})
	}
	code = g.flush(ctx, true)
	for _, i := range del {
		codes[i] = code
		if code == ErrNone {
			delete(g.offsets, tps[i])
		}
	}
	return ErrNone, codes
}

// subscribedTopics decodes the members' consumer-protocol subscriptions (for the
// selected protocol); nil if any cannot be decoded.
func (g *group) subscribedTopics() map[string]bool {
	out := map[string]bool{}
	if g.consumer != nil {
		for _, m := range g.consumer.members {
			for _, t := range m.subscribed {
				out[t] = true
			}
		}
		return out
	}
	for _, m := range g.members {
		md := m.metadata(g.protocol)
		if g.protocol == "" && len(m.protocols) > 0 {
			md = m.protocols[0].Metadata
		}
		topics, ok := consumerSubscriptionTopics(md)
		if !ok {
			return nil
		}
		for _, t := range topics {
			out[t] = true
		}
	}
	return out
}

// consumerSubscriptionTopics reads the topics of a ConsumerProtocolSubscription
// (version int16, topics [int32 count]{int16 length, bytes}, ...).
func consumerSubscriptionTopics(b []byte) ([]string, bool) {
	r := &reader{b: b}
	_ = r.int16()
	n := r.count(2)
	var topics []string
	for i := 0; i < n && r.err == nil; i++ {
		topics = append(topics, r.string())
	}
	return topics, r.err == nil
}

// scheduleExpiry arms the periodic offset-retention check.
func (c *Coordinator) scheduleExpiry() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.expiry = c.clock.AfterFunc(c.cfg.RetentionCheck, func() {
		c.ExpireOffsets(c.baseCtx)
		c.scheduleExpiry()
	})
}

// ExpireOffsets removes expired offsets from every loaded partition (Kafka's
// offsets.retention.minutes): offsets of an Empty group once Retention has passed since
// it became Empty; offsets of a group without protocol type (simple consumers) and of
// topics a Stable consumer group no longer subscribes to once Retention has passed since
// their commit. An Empty group left without offsets is deleted. It runs every
// RetentionCheck on its own; tests call it directly.
func (c *Coordinator) ExpireOffsets(ctx context.Context) {
	c.mu.Lock()
	var shards []*shard
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.Unlock()
	for _, s := range shards {
		s.mu.Lock()
		var ids []string
		if !s.loading {
			for id := range s.groups {
				ids = append(ids, id)
			}
		}
		s.mu.Unlock()
		sort.Strings(ids)
		for _, id := range ids {
			l, code := c.lockGroup(id, false, true)
			if code != ErrNone || l.g == nil {
				continue
			}
			l.g.expire(ctx)
			l.unlock()
		}
	}
}

// expire does ExpireOffsets for one group (locked for writing).
func (g *group) expire(ctx context.Context) {
	now := g.now()
	retention := g.cfg().Retention
	var base func(OffsetValue) time.Time
	var keep map[string]bool
	switch {
	case g.protocolType != "" && g.state == stateEmpty:
		base = func(OffsetValue) time.Time { return g.stateTime }
	case g.protocolType == "consumer" && g.state == stateStable:
		if keep = g.subscribedTopics(); keep == nil {
			break
		}
		base = func(v OffsetValue) time.Time { return time.UnixMilli(v.CommitTimestamp) }
	case g.protocolType == "":
		base = func(v OffsetValue) time.Time { return time.UnixMilli(v.CommitTimestamp) }
	}
	var expired []TopicPartition
	if base != nil {
		for tp, v := range g.offsets {
			if keep[tp.Topic] {
				continue
			}
			if v.ExpireTimestamp >= 0 {
				if now.UnixMilli() >= v.ExpireTimestamp {
					expired = append(expired, tp)
				}
			} else if now.Sub(base(v)) >= retention {
				expired = append(expired, tp)
			}
		}
	}
	sortTPs(expired)
	for _, tp := range expired {
		g.out = append(g.out, Record{Key: EncodeOffsetKey(OffsetKey{Group: g.id, Topic: tp.Topic, Partition: tp.Partition})})
	}
	deleteGroup := g.state == stateEmpty && len(g.pending) == 0 && len(g.offsets) == len(expired)
	if deleteGroup {
		g.out = append(g.out, Record{Key: EncodeGroupKey(g.id)})
		if g.consumer != nil && g.consumer.storedEpoch >= 0 {
			g.out = append(g.out, Record{Key: EncodeConsumerGroupKey(g.id)})
		}
	}
	if len(g.out) == 0 {
		return
	}
	if code := g.flush(ctx, false); code != ErrNone {
		return
	}
	for _, tp := range expired {
		delete(g.offsets, tp)
	}
	if deleteGroup && g.state == stateEmpty && len(g.offsets) == 0 {
		g.remove()
	}
	if len(expired) > 0 {
		g.s.c.log.Info("group: expired offsets", "group", g.id, "count", len(expired), "group_deleted", deleteGroup)
	}
}

// remove marks the group dead and drops it from its shard.
func (g *group) remove() {
	g.kill(ErrCoordinatorNotAvailable)
	g.s.mu.Lock()
	if g.s.groups[g.id] == g {
		delete(g.s.groups, g.id)
	}
	g.s.mu.Unlock()
}
