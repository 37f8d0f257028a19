package broker

import (
	"context"

	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/chronik-stream/chronik/internal/kafka"
	"github.com/chronik-stream/chronik/internal/partition"
	"github.com/chronik-stream/chronik/internal/replication"
	"github.com/twmb/franz-go/pkg/kerr"
)

// readable returns the local replica a read may use: any replica serves committed data.
func (b *Broker) readable(topic string, index int32) (*replica, error) {
	_, r, err := b.localPartition(topic, index)
	return r, err
}

// localPartition returns a partition's topic and this node's replica of it. Errors:
// UnknownTopicOrPartition, or NotLeaderForPartition when this node holds no replica.
func (b *Broker) localPartition(topic string, index int32) (cluster.Topic, *replica, error) {
	t, ok := b.ctrl.Topic(topic)
	if !ok || index < 0 || int(index) >= len(t.Partitions) {
		return t, nil, kerr.UnknownTopicOrPartition
	}
	b.mu.RLock()
	r := b.replicas[t.Partitions[index].Group]
	b.mu.RUnlock()
	if r == nil {
		return t, nil, kerr.NotLeaderForPartition
	}
	return t, r, nil
}

// Fetch implements kafka.Backend. Every stored batch is committed, so the whole local
// log is readable, on followers as on the leader.
func (b *Broker) Fetch(req kafka.FetchPartition) (kafka.FetchResult, error) {
	res := kafka.FetchResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, PreferredReadReplica: -1}
	r, err := b.readable(req.Topic, req.Partition)
	if err != nil {
		return res, err
	}
	if pref := b.preferredReplica(r, req.ReplicaRack); pref >= 0 {
		// KIP-392: point a client in another rack at an in-sync replica in its own.
		res.PreferredReadReplica = pref
		res.HighWatermark, res.LastStableOffset, res.LogStartOffset = r.p.HighWatermark(), r.p.HighWatermark(), r.p.StartOffset()
		return res, nil
	}
	p := r.p
	res.HighWatermark = p.HighWatermark()
	res.LastStableOffset = res.HighWatermark
	res.LogStartOffset = p.StartOffset()
	max := int(req.MaxBytes)
	if max <= 0 {
		max = 1
	}
	recs, err := p.Read(req.Offset, max)
	if err != nil {
		return res, err
	}
	res.Records = recs
	return res, nil
}

// Subscribe implements kafka.Backend.
func (b *Broker) Subscribe(topic string, index int32, wake func()) (cancel func()) {
	r, err := b.readable(topic, index)
	if err != nil {
		return func() {}
	}
	return r.p.Subscribe(wake)
}

// ListOffset implements kafka.Backend.
func (b *Broker) ListOffset(topic string, index int32, timestamp int64, isolation int8) (int64, int64, int32, error) {
	r, err := b.readable(topic, index)
	if err != nil {
		return -1, -1, -1, err
	}
	_, term, _ := b.host.Leader(r.group)
	epoch := int32(term)
	p := r.p
	switch timestamp {
	case -2:
		return p.StartOffset(), -1, epoch, nil
	case -1:
		return p.HighWatermark(), -1, epoch, nil
	case -3:
		off, ts, ok, err := p.MaxTimestamp()
		if err != nil || !ok {
			return -1, -1, epoch, err
		}
		return off, ts, epoch, nil
	}
	off, ts, ok, err := p.OffsetForTimestamp(timestamp)
	if err != nil || !ok {
		return -1, -1, epoch, err
	}
	return off, ts, epoch, nil
}

// DeleteRecords implements kafka.Backend: the new log start offset is replicated
// through the partition's raft group.
func (b *Broker) DeleteRecords(ctx context.Context, topic string, index int32, before int64) (int64, error) {
	r, err := b.readable(topic, index)
	if err != nil {
		return -1, err
	}
	if leader, _, _ := b.host.Leader(r.group); leader != uint64(b.cfg.NodeID) {
		return -1, kerr.NotLeaderForPartition
	}
	if before == -1 {
		before = r.p.HighWatermark()
	}
	if before < 0 || before > r.p.HighWatermark() {
		return -1, kerr.OffsetOutOfRange
	}
	v, err := b.host.Propose(ctx, r.group, partition.EncodeDeleteRecords(replication.HeaderRoom, before))
	if err != nil {
		return -1, mapReplicationErr(err)
	}
	switch x := v.(type) {
	case int64:
		return x, nil
	case error:
		return -1, x
	}
	return -1, kerr.UnknownServerError
}

// preferredReplica returns, when this node leads the partition and the client names a
// rack other than this node's, a live in-sync replica in the client's rack; else -1.
func (b *Broker) preferredReplica(r *replica, clientRack string) int32 {
	if clientRack == "" || clientRack == b.cfg.Rack {
		return -1
	}
	if l, _, _ := b.host.Leader(r.group); l != uint64(b.cfg.NodeID) {
		return -1
	}
	t, ok := b.ctrl.Topic(r.topic)
	if !ok || int(r.index) >= len(t.Partitions) {
		return -1
	}
	racks := map[int32]string{}
	for _, br := range b.ctrl.Brokers() {
		racks[br.ID] = br.Rack
	}
	for _, id := range b.isr(r.group, t.Partitions[r.index].Replicas) {
		if id != b.cfg.NodeID && racks[id] == clientRack && b.live(id) {
			return id
		}
	}
	return -1
}
