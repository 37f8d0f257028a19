package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/chronik-stream/chronik/internal/group"
	"github.com/chronik-stream/chronik/internal/kafka"
	"github.com/chronik-stream/chronik/internal/partition"
	"github.com/chronik-stream/chronik/internal/record"
	"github.com/chronik-stream/chronik/internal/replication"
	"github.com/twmb/franz-go/pkg/kerr"
)

// OffsetsTopic is the internal topic holding consumer groups and committed offsets.
const OffsetsTopic = "__consumer_offsets"

// Groups implements kafka.Backend: this node's consumer-group coordinator.
func (b *Broker) Groups() *group.Coordinator { return b.coord }

// GroupCoordinator implements kafka.Backend: the leader of the __consumer_offsets
// partition of key's group. The topic is created on first use, once the brokers that
// will hold it have registered.
func (b *Broker) GroupCoordinator(key string) (kafka.BrokerInfo, error) {
	t, ok := b.ctrl.Topic(OffsetsTopic)
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.createOffsetsTopic(ctx); err != nil {
			return kafka.BrokerInfo{}, fmt.Errorf("%w: creating %s: %v", kerr.CoordinatorNotAvailable, OffsetsTopic, err)
		}
		if t, ok = b.ctrl.Topic(OffsetsTopic); !ok {
			return kafka.BrokerInfo{}, kerr.CoordinatorNotAvailable
		}
	}
	p := b.coord.PartitionFor(key)
	if int(p) >= len(t.Partitions) {
		return kafka.BrokerInfo{}, kerr.CoordinatorNotAvailable
	}
	leader, _ := b.leaderOf(t.Partitions[p].Group)
	for _, br := range b.Brokers() {
		if br.NodeID == leader {
			return br, nil
		}
	}
	return kafka.BrokerInfo{}, kerr.CoordinatorNotAvailable
}

func (b *Broker) createOffsetsTopic(ctx context.Context) error {
	t, err := b.planTopic(kafka.TopicSpec{Name: OffsetsTopic, Partitions: b.coord.Partitions(), ReplicationFactor: -1,
		Configs: map[string]string{"cleanup.policy": "compact"}})
	if err != nil {
		return err
	}
	t.Internal = true
	if _, err := rand.Read(t.ID[:]); err != nil {
		return err
	}
	if _, err := b.propose(ctx, cluster.Command{Op: cluster.OpCreateTopic, Topic: t}); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return err
	}
	b.awaitLeaders(ctx, OffsetsTopic)
	return nil
}

// offsetsPartitionOf returns which __consumer_offsets partition a raft group is, if any.
func (b *Broker) offsetsPartitionOf(groupID uint64) (int32, bool) {
	t, ok := b.ctrl.Topic(OffsetsTopic)
	if !ok {
		return 0, false
	}
	for i, p := range t.Partitions {
		if p.Group == groupID {
			return int32(i), true
		}
	}
	return 0, false
}

// coordinatorLeadership loads or unloads the groups of a __consumer_offsets partition
// when this node gains or loses its leadership. Loading waits for a barrier entry of the
// new term to apply, so the local log holds everything earlier leaders committed.
func (b *Broker) coordinatorLeadership(groupID, leader, term uint64) {
	p, ok := b.offsetsPartitionOf(groupID)
	if !ok {
		return
	}
	if leader != uint64(b.cfg.NodeID) {
		b.coord.Unload(p)
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for attempt := 0; attempt < 50; attempt++ {
			if l, t, _ := b.host.Leader(groupID); l != uint64(b.cfg.NodeID) || t != term {
				return // superseded
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := b.loadOffsetsPartition(ctx, groupID, p)
			cancel()
			if err == nil {
				return
			}
			b.log.Warn("loading consumer groups", "partition", p, "err", err)
			select {
			case <-b.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

func (b *Broker) loadOffsetsPartition(ctx context.Context, groupID uint64, p int32) error {
	// The barrier: an entry that applies to nothing, proposed in this term.
	if _, err := b.host.Propose(ctx, groupID, make([]byte, replication.HeaderRoom+1)); err != nil {
		return err
	}
	return b.coord.Load(ctx, p)
}

// groupStore implements group.Store on the local replicas of __consumer_offsets.
type groupStore struct{ b *Broker }

func (s groupStore) replica(p int32) (*replica, error) {
	r := s.b.local(OffsetsTopic, p)
	if r == nil {
		return nil, fmt.Errorf("%w: %w", group.ErrNotLeader, kerr.NotCoordinator)
	}
	return r, nil
}

// Append implements group.Store: one batch, replicated through the partition's group.
func (s groupStore) Append(ctx context.Context, p int32, recs []group.Record) error {
	if len(recs) == 0 {
		return nil
	}
	r, err := s.replica(p)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	rs := make([]record.Record, len(recs))
	for i, rec := range recs {
		rs[i] = record.Record{Key: rec.Key, Value: rec.Value, Timestamp: now}
	}
	batch, err := record.Build(record.BuildSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Records: rs})
	if err != nil {
		return err
	}
	v, err := s.b.host.Propose(ctx, r.group, partition.EncodeProduce(replication.HeaderRoom, batch, -1))
	if err != nil {
		if errors.Is(err, replication.ErrNotLeader) || errors.Is(err, replication.ErrLeadershipLost) {
			return fmt.Errorf("%w: %w", group.ErrNotLeader, kerr.NotCoordinator)
		}
		return mapReplicationErr(err)
	}
	if res, ok := v.(*partition.ProduceResult); ok && res.Err != nil {
		return res.Err
	}
	return nil
}

// Scan implements group.Store.
func (s groupStore) Scan(ctx context.Context, p int32, fn func(group.Record) error) error {
	r, err := s.replica(p)
	if err != nil {
		return err
	}
	end := r.p.HighWatermark()
	for off := r.p.StartOffset(); off < end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := r.p.Read(off, 1<<20)
		if err != nil {
			return err
		}
		batches := record.SplitPartial(data)
		if len(batches) == 0 {
			return fmt.Errorf("%s-%d: no batch at offset %d", OffsetsTopic, p, off)
		}
		for _, bt := range batches {
			var ferr error
			err := record.ForEachRecord(bt.Bytes, func(rec record.Record) bool {
				if rec.Offset < off || rec.Offset >= end {
					return true
				}
				ferr = fn(group.Record{Offset: rec.Offset, Key: rec.Key, Value: rec.Value})
				return ferr == nil
			})
			if err != nil {
				return err
			}
			if ferr != nil {
				return ferr
			}
			off = bt.Header.LastOffset() + 1
		}
	}
	return nil
}

// DeleteBefore implements group.Store.
func (s groupStore) DeleteBefore(ctx context.Context, p int32, offset int64) error {
	_, err := s.b.DeleteRecords(ctx, OffsetsTopic, p, offset)
	return err
}

// HighWatermark implements group.Store.
func (s groupStore) HighWatermark(p int32) (int64, error) {
	r, err := s.replica(p)
	if err != nil {
		return -1, err
	}
	return r.p.HighWatermark(), nil
}

// topicSource implements group.TopicSource from the controller's view (lock free).
type topicSource struct{ b *Broker }

// Partitions implements group.TopicSource.
func (s topicSource) Partitions(topic string) ([16]byte, int32, bool) {
	t, ok := s.b.ctrl.Topic(topic)
	if !ok {
		return [16]byte{}, 0, false
	}
	return t.ID, int32(len(t.Partitions)), true
}

// TopicByID implements group.TopicSource.
func (s topicSource) TopicByID(id [16]byte) (string, bool) { return s.b.TopicNameByID(id) }
