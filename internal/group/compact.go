package group

import (
	"context"
	"fmt"
	"sort"
)

// Compaction keeps every __consumer_offsets partition bounded. Once CompactionThreshold
// records were appended to a loaded partition since its last snapshot (or were found on
// Load), the coordinator takes the partition's writer lock exclusively (no append is in
// flight, so the in-memory state is exactly what the log implies), notes the high
// watermark h, appends a snapshot (the metadata record of every group that has one and
// every committed offset) and then deletes the log before h. Reloading the snapshot alone
// yields the same state as reloading the whole log did.

// maybeCompact snapshots the shard when enough records accumulated. It is called with no
// lock held.
func (s *shard) maybeCompact() {
	if s.sinceSnapshot.Load() < int64(s.c.cfg.CompactionThreshold) || s.closed.Load() {
		return
	}
	if !s.compacting.CompareAndSwap(false, true) {
		return
	}
	defer s.compacting.Store(false)
	if err := s.compact(s.ctx); err != nil {
		s.c.log.Warn("group: compacting __consumer_offsets failed", "partition", s.partition, "err", err)
	}
}

// Compact snapshots a loaded partition now and drops the records before the snapshot.
func (c *Coordinator) Compact(ctx context.Context, partition int32) error {
	c.mu.Lock()
	s := c.shards[partition]
	c.mu.Unlock()
	if s == nil {
		return fmt.Errorf("group: partition %d not loaded", partition)
	}
	s.mu.Lock()
	loading := s.loading
	s.mu.Unlock()
	if loading {
		return fmt.Errorf("group: partition %d still loading", partition)
	}
	return s.compact(ctx)
}

func (s *shard) compact(ctx context.Context) error {
	s.wlock.Lock()
	defer s.wlock.Unlock()
	if s.closed.Load() {
		return nil
	}
	ctx, cancel := mergeCancel(ctx, s.ctx)
	defer cancel()
	hw, err := s.c.store.HighWatermark(s.partition)
	if err != nil {
		return err
	}
	recs := s.snapshot()
	for len(recs) > 0 {
		n := min(len(recs), snapshotChunk)
		if err := s.c.store.Append(ctx, s.partition, recs[:n]); err != nil {
			return err
		}
		recs = recs[n:]
	}
	if err := s.c.store.DeleteBefore(ctx, s.partition, hw); err != nil {
		return err
	}
	s.sinceSnapshot.Store(0)
	s.c.log.Debug("group: compacted __consumer_offsets partition", "partition", s.partition, "before", hw)
	return nil
}

// snapshot is the shard's state as records, groups in id order.
func (s *shard) snapshot() []Record {
	s.mu.Lock()
	groups := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		groups = append(groups, g)
	}
	s.mu.Unlock()
	sort.Slice(groups, func(i, j int) bool { return groups[i].id < groups[j].id })
	var recs []Record
	for _, g := range groups {
		g.mu.Lock()
		if g.state != stateDead {
			if g.stored != nil {
				recs = append(recs, Record{Key: EncodeGroupKey(g.id), Value: EncodeGroupValue(*g.stored)})
			}
			if g.consumer != nil && g.consumer.storedEpoch >= 0 {
				recs = append(recs, Record{Key: EncodeConsumerGroupKey(g.id), Value: EncodeConsumerGroupValue(g.consumer.storedEpoch)})
			}
			if g.consumer != nil && g.consumer.storedMembers != nil {
				recs = append(recs, Record{Key: EncodeConsumerMembersKey(g.id), Value: g.consumer.storedMembers})
			}
			tps := make([]TopicPartition, 0, len(g.offsets))
			for tp := range g.offsets {
				tps = append(tps, tp)
			}
			sortTPs(tps)
			for _, tp := range tps {
				recs = append(recs, Record{
					Key:   EncodeOffsetKey(OffsetKey{Group: g.id, Topic: tp.Topic, Partition: tp.Partition}),
					Value: EncodeOffsetValue(g.offsets[tp]),
				})
			}
		}
		g.mu.Unlock()
	}
	return recs
}
