package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/chronik-stream/chronik/internal/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
)

// NodeID implements kafka.Backend.
func (b *Broker) NodeID() int32 { return b.cfg.NodeID }

// ClusterID implements kafka.Backend.
func (b *Broker) ClusterID() string { return b.ctrl.ClusterID() }

// ControllerID implements kafka.Backend: the leader of the controller group.
func (b *Broker) ControllerID() int32 {
	l, _, err := b.host.Leader(cluster.ControllerGroup)
	if err != nil || l == 0 {
		return -1
	}
	return int32(l)
}

// Brokers implements kafka.Backend.
func (b *Broker) Brokers() []kafka.BrokerInfo {
	bs := b.ctrl.Brokers()
	out := make([]kafka.BrokerInfo, 0, len(bs))
	for _, x := range bs {
		if !b.live(x.ID) {
			continue
		}
		out = append(out, kafka.BrokerInfo{NodeID: x.ID, Host: x.Host, Port: x.Port, Rack: x.Rack})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

// TopicNameByID implements kafka.Backend.
func (b *Broker) TopicNameByID(id [16]byte) (string, bool) { return b.ctrl.TopicByID(id) }

// Metadata implements kafka.Backend.
func (b *Broker) Metadata(ctx context.Context, names []string, autoCreate bool) []kafka.TopicInfo {
	if names == nil {
		names = b.ctrl.TopicNames()
		sort.Strings(names)
	}
	out := make([]kafka.TopicInfo, 0, len(names))
	for _, n := range names {
		t, ok := b.ctrl.Topic(n)
		if !ok && autoCreate && b.cfg.AutoCreateTopics {
			info, err := b.CreateTopic(ctx, kafka.TopicSpec{Name: n, Partitions: -1, ReplicationFactor: -1}, false)
			if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
				t, ok = b.ctrl.Topic(n)
			} else {
				info.Name, info.Err = n, err
				out = append(out, info)
				continue
			}
		}
		if !ok {
			out = append(out, kafka.TopicInfo{Name: n, Err: kerr.UnknownTopicOrPartition})
			continue
		}
		out = append(out, b.describe(t))
	}
	return out
}

// describe reports a topic with each partition's leader, replicas and ISR.
func (b *Broker) describe(t cluster.Topic) kafka.TopicInfo {
	info := kafka.TopicInfo{Name: t.Name, ID: t.ID, Internal: t.Internal}
	for i, p := range t.Partitions {
		pi := kafka.PartitionInfo{Partition: int32(i), Replicas: p.Replicas}
		pi.Leader, pi.LeaderEpoch = b.leaderOf(p.Group)
		if pi.Leader < 0 {
			pi.Err = kerr.LeaderNotAvailable
		}
		pi.ISR = b.isr(p.Group, p.Replicas)
		for _, r := range p.Replicas {
			if !b.live(r) {
				pi.Offline = append(pi.Offline, r)
			}
		}
		info.Partitions = append(info.Partitions, pi)
	}
	return info
}

// maxISRLag is how many raft entries a follower may trail the leader's log and still
// count as in sync.
const maxISRLag = 1000

// isr returns the replicas in sync with the leader of a group, as far as this node can
// tell: the leader knows its followers' progress; elsewhere the live replicas are reported.
func (b *Broker) isr(group uint64, replicas []int32) []int32 {
	st, err := b.host.Status(group)
	if err != nil || st.Progress == nil {
		var out []int32
		for _, r := range replicas {
			if b.live(r) {
				out = append(out, r)
			}
		}
		return out
	}
	last := st.Commit
	var out []int32
	for _, r := range replicas {
		pr, ok := st.Progress[uint64(r)]
		if ok && (uint64(r) == st.ID || (b.live(r) && pr.Match+maxISRLag >= last)) {
			out = append(out, r)
		}
	}
	return out
}

// CreateTopic implements kafka.Backend.
func (b *Broker) CreateTopic(ctx context.Context, spec kafka.TopicSpec, validateOnly bool) (kafka.TopicInfo, error) {
	t, err := b.planTopic(spec)
	if err != nil {
		return kafka.TopicInfo{Name: spec.Name}, err
	}
	info := kafka.TopicInfo{Name: t.Name, Configs: b.topicConfigEntries(t.Configs, nil)}
	for i, p := range t.Partitions {
		info.Partitions = append(info.Partitions, kafka.PartitionInfo{Partition: int32(i), Leader: -1, Replicas: p.Replicas})
	}
	if validateOnly {
		if _, ok := b.ctrl.Topic(spec.Name); ok {
			return info, kerr.TopicAlreadyExists
		}
		return info, nil
	}
	if _, err := rand.Read(t.ID[:]); err != nil {
		return info, err
	}
	if _, err := b.propose(ctx, cluster.Command{Op: cluster.OpCreateTopic, Topic: t}); err != nil {
		return info, err
	}
	b.awaitLeaders(ctx, t.Name)
	created, _ := b.ctrl.Topic(t.Name)
	out := b.describe(created)
	out.Configs = info.Configs
	return out, nil
}

// awaitLeaders waits briefly for the new topic's partitions to elect leaders, so that a
// client's first produce does not bounce off LEADER_NOT_AVAILABLE.
func (b *Broker) awaitLeaders(ctx context.Context, topic string) {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		t, ok := b.ctrl.Topic(topic)
		if !ok {
			return
		}
		ready := true
		for _, p := range t.Partitions {
			if l, _ := b.leaderOf(p.Group); l < 0 {
				ready = false
				break
			}
		}
		if ready {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling raft state; bounded by the deadline
	}
}

// planTopic validates a create request and places its replicas.
func (b *Broker) planTopic(spec kafka.TopicSpec) (*cluster.Topic, error) {
	if err := cluster.ValidateTopicName(spec.Name); err != nil {
		return nil, err
	}
	configs := map[string]string{}
	for k, v := range spec.Configs {
		if err := cluster.ValidateTopicConfig(k, v); err != nil {
			return nil, fmt.Errorf("%w: %v", kerr.InvalidConfig, err)
		}
		configs[k] = v
	}
	brokers := b.brokerIDs()
	t := &cluster.Topic{Name: spec.Name, Configs: configs}
	if len(spec.Assignment) > 0 {
		for i := int32(0); i < int32(len(spec.Assignment)); i++ {
			reps, ok := spec.Assignment[i]
			if !ok || len(reps) == 0 {
				return nil, fmt.Errorf("%w: partition %d has no replicas", kerr.InvalidReplicaAssignment, i)
			}
			for _, r := range reps {
				if !slices.Contains(brokers, r) {
					return nil, fmt.Errorf("%w: broker %d does not exist", kerr.InvalidReplicaAssignment, r)
				}
			}
			t.Partitions = append(t.Partitions, cluster.Partition{Replicas: reps})
		}
		return t, nil
	}
	n := spec.Partitions
	if n == -1 {
		n = b.cfg.DefaultPartitions
	}
	if n <= 0 {
		return nil, fmt.Errorf("%w: %d partitions", kerr.InvalidPartitions, n)
	}
	rf := int(spec.ReplicationFactor)
	if rf == -1 {
		rf = int(b.cfg.DefaultReplicationFactor)
		if rf <= 0 {
			rf = min(3, len(brokers))
		}
		rf = min(rf, len(brokers))
	}
	if rf <= 0 || rf > len(brokers) {
		return nil, fmt.Errorf("%w: replication factor %d with %d brokers", kerr.InvalidReplicationFactor, rf, len(brokers))
	}
	start := len(b.ctrl.TopicNames())
	for i := 0; i < int(n); i++ {
		t.Partitions = append(t.Partitions, cluster.Partition{Replicas: place(brokers, start+i, rf)})
	}
	return t, nil
}

// place picks rf brokers for a partition, round robin from an offset, so leaders
// (the first replica) and replicas spread evenly.
func place(brokers []int32, offset, rf int) []int32 {
	out := make([]int32, 0, rf)
	for j := 0; j < rf; j++ {
		out = append(out, brokers[(offset+j)%len(brokers)])
	}
	return out
}

func (b *Broker) brokerIDs() []int32 {
	var ids []int32
	for _, br := range b.ctrl.Brokers() {
		ids = append(ids, br.ID)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// DeleteTopic implements kafka.Backend.
func (b *Broker) DeleteTopic(ctx context.Context, name string) error {
	t, ok := b.ctrl.Topic(name)
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	if t.Internal {
		return fmt.Errorf("%w: internal topic %s cannot be deleted", kerr.TopicAuthorizationFailed, name)
	}
	_, err := b.propose(ctx, cluster.Command{Op: cluster.OpDeleteTopic, Name: name})
	return err
}

// CreatePartitions implements kafka.Backend.
func (b *Broker) CreatePartitions(ctx context.Context, topic string, count int32, validateOnly bool) error {
	t, ok := b.ctrl.Topic(topic)
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	have := int32(len(t.Partitions))
	if count <= have {
		return fmt.Errorf("%w: topic has %d partitions, asked for %d", kerr.InvalidPartitions, have, count)
	}
	brokers := b.brokerIDs()
	rf := len(t.Partitions[0].Replicas)
	if rf > len(brokers) {
		return fmt.Errorf("%w: replication factor %d with %d brokers", kerr.InvalidReplicationFactor, rf, len(brokers))
	}
	var add [][]int32
	for i := have; i < count; i++ {
		add = append(add, place(brokers, int(i)+len(b.ctrl.TopicNames()), rf))
	}
	if validateOnly {
		return nil
	}
	_, err := b.propose(ctx, cluster.Command{Op: cluster.OpCreatePartitions, Name: topic, NewPartitions: add})
	return err
}
