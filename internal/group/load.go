package group

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Load makes this node the coordinator of the groups of a __consumer_offsets partition.
// The lead calls it when this node becomes the partition's leader, once the partition's
// high watermark covers every record of earlier leaders (after the leader's first commit
// of its term). Until Load returns, requests for the partition's groups are answered
// COORDINATOR_LOAD_IN_PROGRESS. Load scans the partition (the last record of every key
// wins, tombstones delete), rebuilds its groups and offsets, and starts the session
// timers of the members found, who keep their generation and assignment. A failed Load
// leaves the partition unloaded (NOT_COORDINATOR) and may be retried. Loading a partition
// that is loaded reloads it.
func (c *Coordinator) Load(ctx context.Context, partition int32) error {
	if partition < 0 || partition >= c.cfg.Partitions {
		return fmt.Errorf("group: load partition %d: out of range [0,%d)", partition, c.cfg.Partitions)
	}
	sctx, cancel := context.WithCancel(c.baseCtx)
	s := &shard{c: c, partition: partition, ctx: sctx, cancel: cancel, loading: true, groups: map[string]*group{}}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		return errors.New("group: coordinator closed")
	}
	old := c.shards[partition]
	c.shards[partition] = s
	c.mu.Unlock()
	if old != nil {
		old.close()
	}
	// Appends begun under an earlier load must be over before we read the log.
	if old != nil {
		old.wlock.Lock()
		old.wlock.Unlock() //nolint:staticcheck // waiting for the writers only
	}

	start := c.clock.Now()
	n, err := s.load(ctx)
	if err == nil && s.closed.Load() {
		err = errors.New("group: partition unloaded while loading")
	}
	if err != nil {
		c.mu.Lock()
		if c.shards[partition] == s {
			delete(c.shards, partition)
		}
		c.mu.Unlock()
		s.close()
		return fmt.Errorf("group: load partition %d: %w", partition, err)
	}
	s.mu.Lock()
	s.loading = false
	groups := len(s.groups)
	s.mu.Unlock()
	c.log.Info("group: loaded __consumer_offsets partition", "partition", partition,
		"records", n, "groups", groups, "took", c.clock.Now().Sub(start).Round(time.Millisecond))
	s.maybeCompact()
	return nil
}

// Unload drops the groups of a partition whose leadership this node lost: their waiting
// requests are answered NOT_COORDINATOR and later ones get NOT_COORDINATOR too, so
// clients rediscover the coordinator. Unloading a partition that is not loaded is a no-op.
func (c *Coordinator) Unload(partition int32) {
	c.mu.Lock()
	s := c.shards[partition]
	delete(c.shards, partition)
	c.mu.Unlock()
	if s != nil {
		s.close()
		c.log.Info("group: unloaded __consumer_offsets partition", "partition", partition)
	}
}

// load scans the partition and builds its groups; it returns the number of records.
func (s *shard) load(ctx context.Context) (int, error) {
	metas := map[string]*GroupValue{}
	offsets := map[OffsetKey]OffsetValue{}
	consumers := map[string]int32{} // consumer groups (KIP-848) by group epoch
	cmembers := map[string][]byte{} // their members records
	n := 0
	err := s.c.store.Scan(ctx, s.partition, func(r Record) error {
		n++
		if s.closed.Load() {
			return errors.New("unloaded")
		}
		e, err := DecodeRecord(r.Key, r.Value)
		if errors.Is(err, ErrUnknownRecord) {
			if id, ok := decodeConsumerMembersKey(r.Key); ok {
				if r.Value == nil {
					delete(cmembers, id)
				} else {
					cmembers[id] = r.Value
				}
				return nil
			}
			if id, epoch, ok, cerr := DecodeConsumerGroupRecord(r.Key, r.Value); ok {
				switch {
				case cerr != nil:
					s.c.log.Warn("group: skipping undecodable __consumer_offsets record", "partition", s.partition, "offset", r.Offset, "err", cerr)
				case epoch == nil:
					delete(consumers, id)
					delete(cmembers, id)
				default:
					consumers[id] = *epoch
					delete(metas, id)
				}
				return nil
			}
		}
		if err != nil {
			if !errors.Is(err, ErrUnknownRecord) {
				s.c.log.Warn("group: skipping undecodable __consumer_offsets record", "partition", s.partition, "offset", r.Offset, "err", err)
			}
			return nil
		}
		switch {
		case e.OffsetKey != nil && e.Offset == nil:
			delete(offsets, *e.OffsetKey)
		case e.OffsetKey != nil:
			offsets[*e.OffsetKey] = *e.Offset
		case e.GroupKey != nil && e.Group == nil:
			delete(metas, *e.GroupKey)
		case e.GroupKey != nil:
			metas[*e.GroupKey] = e.Group
			delete(consumers, *e.GroupKey)
			delete(cmembers, *e.GroupKey)
		}
		return nil
	})
	if err != nil {
		return n, err
	}

	// Build the groups privately, then publish them.
	groups := map[string]*group{}
	get := func(id string) *group {
		g := groups[id]
		if g == nil {
			g = newGroup(s, id)
			groups[id] = g
		}
		return g
	}
	for id, v := range metas {
		if PartitionFor(id, s.c.cfg.Partitions) != s.partition {
			continue // not ours (a different partition count); ignore
		}
		g := get(id)
		g.mu.Lock()
		g.restore(v)
		g.mu.Unlock()
	}
	for id, epoch := range consumers {
		if PartitionFor(id, s.c.cfg.Partitions) != s.partition {
			continue
		}
		g := get(id)
		g.mu.Lock()
		g.restoreConsumer(epoch)
		if v := cmembers[id]; v != nil {
			ms, err := decodeConsumerMembers(v)
			if err != nil {
				s.c.log.Warn("group: dropping undecodable consumer group members", "group", id, "err", err)
			} else {
				g.restoreConsumerMembers(ms, v)
			}
		}
		g.mu.Unlock()
	}
	for k, v := range offsets {
		if PartitionFor(k.Group, s.c.cfg.Partitions) != s.partition {
			continue
		}
		g := get(k.Group)
		g.mu.Lock()
		g.offsets[TopicPartition{Topic: k.Topic, Partition: k.Partition}] = v
		g.mu.Unlock()
	}
	s.mu.Lock()
	s.groups = groups
	s.mu.Unlock()
	s.sinceSnapshot.Store(int64(n))
	return n, nil
}

// restore sets the group from its stored metadata: Stable with its members (whose
// sessions start now) or Empty.
func (g *group) restore(v *GroupValue) {
	g.stored = v
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.CurrentStateTimestamp >= 0 {
		g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	}
	for _, mv := range v.Members {
		m := &member{
			id:           mv.MemberID,
			instanceID:   mv.InstanceID,
			clientID:     mv.ClientID,
			clientHost:   mv.ClientHost,
			session:      time.Duration(mv.SessionTimeout) * time.Millisecond,
			rebalance:    time.Duration(mv.RebalanceTimeout) * time.Millisecond,
			protocolType: v.ProtocolType,
			assignment:   mv.Assignment,
		}
		if g.protocol != "" {
			m.protocols = []Protocol{{Name: g.protocol, Metadata: mv.Subscription}}
		}
		g.addMember(m)
	}
	g.leader = ""
	if v.Leader != nil && g.members[*v.Leader] != nil {
		g.leader = *v.Leader
	} else if ms := g.sortedMembers(); len(ms) > 0 {
		g.leader = ms[0].id
	}
	if len(g.members) > 0 {
		g.state = stateStable
	} else {
		g.state = stateEmpty
	}
}
