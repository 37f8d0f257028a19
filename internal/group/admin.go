package group

import (
	"context"
	"sort"
	"strings"
)

// DescribeGroups describes groups, in request order. A group that does not exist is
// Dead with no error; a group this node does not coordinate gets NOT_COORDINATOR (or
// COORDINATOR_LOAD_IN_PROGRESS).
func (c *Coordinator) DescribeGroups(_ context.Context, ids []string) []GroupDescription {
	out := make([]GroupDescription, 0, len(ids))
	for _, id := range ids {
		d := GroupDescription{Group: id, State: stateDead.String()}
		l, code := c.lockGroup(id, false, false)
		if code != ErrNone {
			d.ErrorCode = code
			out = append(out, d)
			continue
		}
		if g := l.g; g != nil && g.consumer != nil {
			// Kafka: DescribeGroups describes classic groups only.
			d.ErrorCode = ErrGroupIDNotFound
			l.unlock()
		} else if g != nil {
			d.State = g.state.String()
			d.ProtocolType = g.protocolType
			if g.state == stateStable {
				d.Protocol = g.protocol
			}
			d.Members = g.memberDescriptions()
			l.unlock()
		}
		out = append(out, d)
	}
	return out
}

// ListGroups lists the groups of every loaded partition, sorted by id, keeping only those
// whose state is in states and whose type ("classic" or "consumer") is in types (both
// case-insensitive; empty: all). The code is COORDINATOR_LOAD_IN_PROGRESS while a
// partition is still loading (the loaded ones are listed anyway).
func (c *Coordinator) ListGroups(states, types []string) (int16, []ListedGroup) {
	want, wantType := lowerSet(states), lowerSet(types)
	c.mu.Lock()
	var shards []*shard
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.Unlock()
	code := ErrNone
	var out []ListedGroup
	for _, s := range shards {
		s.mu.Lock()
		if s.loading {
			code = ErrCoordinatorLoadInProgress
		}
		groups := make([]*group, 0, len(s.groups))
		for _, g := range s.groups {
			groups = append(groups, g)
		}
		s.mu.Unlock()
		for _, g := range groups {
			g.mu.Lock()
			lg := ListedGroup{Group: g.id, ProtocolType: g.protocolType, State: g.state.String(), Type: "classic"}
			if g.consumer != nil {
				lg.State, lg.Type = g.consumer.stateName(), "consumer"
			}
			dead := g.state == stateDead
			g.mu.Unlock()
			if dead || (len(want) > 0 && !want[strings.ToLower(lg.State)]) || (len(wantType) > 0 && !wantType[lg.Type]) {
				continue
			}
			out = append(out, lg)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return code, out
}

// DeleteGroups deletes groups with their committed offsets (tombstones in the log). Only
// Empty groups can be deleted (NON_EMPTY_GROUP); unknown ones are GROUP_ID_NOT_FOUND.
func (c *Coordinator) DeleteGroups(ctx context.Context, ids []string) []DeleteResult {
	out := make([]DeleteResult, 0, len(ids))
	for _, id := range ids {
		out = append(out, DeleteResult{Group: id, ErrorCode: c.deleteGroup(ctx, id)})
	}
	return out
}

func (c *Coordinator) deleteGroup(ctx context.Context, id string) int16 {
	l, code := c.lockGroup(id, false, true)
	if code != ErrNone {
		return code
	}
	if l.g == nil {
		return ErrGroupIDNotFound
	}
	defer l.unlock()
	g := l.g
	if g.state != stateEmpty {
		return ErrNonEmptyGroup
	}
	tps := make([]TopicPartition, 0, len(g.offsets))
	for tp := range g.offsets {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	for _, tp := range tps {
		g.out = append(g.out, Record{Key: EncodeOffsetKey(OffsetKey{Group: g.id, Topic: tp.Topic, Partition: tp.Partition})})
	}
	g.out = append(g.out, Record{Key: EncodeGroupKey(g.id)})
	if g.consumer != nil && g.consumer.storedEpoch >= 0 {
		g.out = append(g.out, Record{Key: EncodeConsumerGroupKey(g.id)})
	}
	if code := g.flush(ctx, false); code != ErrNone {
		return code
	}
	if g.state == stateEmpty {
		// Members with a handed-out id (pending) must join afresh.
		g.remove()
	}
	return ErrNone
}

func sortTPs(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// lowerSet is the set of the names, lower-cased.
func lowerSet(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[strings.ToLower(n)] = true
	}
	return set
}
