// Package broker is the node's data and admin plane behind the Kafka protocol: it
// implements kafka.Backend on top of the controller (cluster metadata) and the local
// partition replicas, each a raft group on the replication host.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/chronik-stream/chronik/internal/group"
	"github.com/chronik-stream/chronik/internal/kafka"
	plog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/partition"
	"github.com/chronik-stream/chronik/internal/replication"
)

// Config configures a Broker.
type Config struct {
	NodeID         int32
	DataDir        string
	AdvertisedHost string
	AdvertisedPort int32
	Rack           string

	AutoCreateTopics         bool
	DefaultPartitions        int32
	DefaultReplicationFactor int16 // 0: min(3, brokers)
	Defaults                 cluster.Defaults
	// PageCacheBytes is each partition log's page-cache window (log.Config.CacheBytes;
	// 0 = the log's default, -1 = keep everything cached).
	PageCacheBytes int64
	// RetentionCheck is how often retention runs over local partitions.
	RetentionCheck time.Duration
	Logger         *slog.Logger
	// Peers reaches the other nodes (nil on a single node).
	Peers Peers
	// OffsetsPartitions is the partition count of __consumer_offsets (0: 50).
	OffsetsPartitions int32
}

// replica is a local replica of a partition.
type replica struct {
	topic string
	index int32
	group uint64
	p     *partition.Partition
}

// Broker implements kafka.Backend for one node.
type Broker struct {
	cfg  Config
	host *replication.Host
	ctrl *cluster.Controller
	log  *slog.Logger

	mu       sync.RWMutex
	replicas map[uint64]*replica // by raft group id

	pids    pidBlock
	reports leaderReports
	coord   *group.Coordinator

	reconcileNow chan struct{}
	stop         chan struct{}
	wg           sync.WaitGroup
}

var _ kafka.Backend = (*Broker)(nil)

// New creates a broker over a started replication host whose controller group runs ctrl.
// The controller's onChange callback must call b.ControllerChanged.
func New(cfg Config, host *replication.Host, ctrl *cluster.Controller) *Broker {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetentionCheck <= 0 {
		cfg.RetentionCheck = 30 * time.Second
	}
	b := &Broker{cfg: cfg, host: host, ctrl: ctrl, log: cfg.Logger, replicas: map[uint64]*replica{},
		reconcileNow: make(chan struct{}, 1), stop: make(chan struct{})}
	b.coord = group.NewCoordinator(group.Config{Store: groupStore{b}, Topics: topicSource{b}, Partitions: cfg.OffsetsPartitions, Logger: cfg.Logger})
	return b
}

// Start runs the reconciler and the retention loop.
func (b *Broker) Start() {
	b.wg.Add(3)
	go func() { defer b.wg.Done(); b.reconcileLoop() }()
	go func() { defer b.wg.Done(); b.retentionLoop() }()
	go func() { defer b.wg.Done(); b.leaderLoop() }()
	b.ControllerChanged()
}

// Stop stops the background loops and closes the local partitions. The host must be
// stopped first so nothing applies to them any more.
func (b *Broker) Stop() {
	close(b.stop)
	b.coord.Close()
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.replicas {
		r.p.Close()
	}
	b.replicas = map[uint64]*replica{}
}

// ControllerChanged asks the reconciler to bring local replicas in line with the
// controller state. It never blocks.
func (b *Broker) ControllerChanged() {
	select {
	case b.reconcileNow <- struct{}{}:
	default:
	}
}

func (b *Broker) reconcileLoop() {
	for {
		select {
		case <-b.stop:
			return
		case <-b.reconcileNow:
			if err := b.reconcile(); err != nil {
				b.log.Error("reconcile partitions", "err", err)
			}
		}
	}
}

// reconcile opens a replica for every partition assigned to this node and removes the
// replicas of partitions the controller no longer has. A group found in the WAL but not
// (yet) in the controller state is left alone until the controller says what it is.
func (b *Broker) reconcile() error {
	st := b.ctrl.Snapshot()
	want := map[uint64]*replica{}
	voters := map[uint64][]uint64{}
	for _, t := range st.Topics {
		for i, p := range t.Partitions {
			for _, r := range p.Replicas {
				if r == b.cfg.NodeID {
					want[p.Group] = &replica{topic: t.Name, index: int32(i), group: p.Group}
					for _, id := range p.Replicas {
						voters[p.Group] = append(voters[p.Group], uint64(id))
					}
				}
			}
		}
	}
	b.mu.RLock()
	var gone []*replica
	for g, r := range b.replicas {
		if _, ok := want[g]; !ok {
			gone = append(gone, r)
		}
	}
	b.mu.RUnlock()
	var errs []error
	for _, r := range gone {
		errs = append(errs, b.removeReplica(r))
	}
	for g, r := range want {
		b.mu.RLock()
		_, have := b.replicas[g]
		b.mu.RUnlock()
		if !have {
			errs = append(errs, b.addReplica(r, voters[g], st.Topics[r.topic].Configs))
		}
	}
	// Groups recovered from the WAL that no topic holds any more were deleted while
	// this node was down (the controller has applied past their topic's creation).
	for _, g := range b.host.RecoveredGroups() {
		if g != cluster.ControllerGroup && g < st.NextGroup {
			if _, ok := want[g]; !ok {
				errs = append(errs, b.host.RemoveGroup(g))
			}
		}
	}
	return errors.Join(errs...)
}

func (b *Broker) partitionDir(topic string, index int32) string {
	return filepath.Join(b.cfg.DataDir, "topics", fmt.Sprintf("%s-%d", topic, index))
}

// addReplica opens the partition's directory (wiping one left by an older topic of the
// same name) and starts its raft group.
func (b *Broker) addReplica(r *replica, voters []uint64, configs map[string]string) error {
	dir := b.partitionDir(r.topic, r.index)
	marker := filepath.Join(dir, "raft-group")
	want := strconv.FormatUint(r.group, 10)
	if got, err := os.ReadFile(marker); err == nil && string(got) != want {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(marker); os.IsNotExist(err) {
		if err := partition.WriteFileAtomic(marker, []byte(want)); err != nil {
			return err
		}
	}
	segBytes := cluster.EffectiveInt(configs, "segment.bytes", b.cfg.Defaults)
	p, err := partition.Open(r.topic, r.index, dir, plog.Config{SegmentBytes: segBytes, CacheBytes: b.cfg.PageCacheBytes})
	if err != nil {
		return fmt.Errorf("open partition %s-%d: %w", r.topic, r.index, err)
	}
	r.p = p
	p.SetFetcher(b.fetchFromLeader(r.group))
	fresh := p.Applied() == 0 && p.HighWatermark() == 0
	if err := b.host.AddGroup(r.group, voters, p); err != nil {
		p.Close()
		return fmt.Errorf("start raft group of %s-%d: %w", r.topic, r.index, err)
	}
	if fresh && len(voters) > 1 {
		// The preferred leader of a new partition stands first; the others hold back for
		// a few election timeouts so that it wins even when creating many partitions
		// keeps the nodes busy (a later leadership move would cost more).
		if voters[0] == uint64(b.cfg.NodeID) {
			b.host.Campaign(r.group)
		} else {
			b.host.DelayElection(r.group, 3)
		}
	}
	b.mu.Lock()
	b.replicas[r.group] = r
	b.mu.Unlock()
	return nil
}

func (b *Broker) removeReplica(r *replica) error {
	b.mu.Lock()
	delete(b.replicas, r.group)
	b.mu.Unlock()
	err := b.host.RemoveGroup(r.group)
	return errors.Join(err, r.p.Delete())
}

// local returns the local replica of a topic partition, or nil.
func (b *Broker) local(topic string, index int32) *replica {
	_, r, _ := b.localPartition(topic, index)
	return r
}

func (b *Broker) retentionLoop() {
	t := time.NewTicker(b.cfg.RetentionCheck)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.enforceRetention(now)
		}
	}
}

// enforceRetention deletes old segments of every local partition whose cleanup policy
// includes delete.
func (b *Broker) enforceRetention(now time.Time) {
	b.mu.RLock()
	rs := make([]*replica, 0, len(b.replicas))
	for _, r := range b.replicas {
		rs = append(rs, r)
	}
	b.mu.RUnlock()
	state := b.ctrl.Snapshot()
	for _, r := range rs {
		t, ok := state.Topics[r.topic]
		if !ok {
			continue
		}
		if cluster.Effective(t.Configs, "cleanup.policy", b.cfg.Defaults) == "compact" {
			continue
		}
		ms := cluster.EffectiveInt(t.Configs, "retention.ms", b.cfg.Defaults)
		bytes := cluster.EffectiveInt(t.Configs, "retention.bytes", b.cfg.Defaults)
		if n, err := r.p.EnforceRetention(now, ms, bytes); err != nil {
			b.log.Warn("retention", "topic", r.topic, "partition", r.index, "err", err)
		} else if n > 0 {
			b.log.Info("retention deleted segments", "topic", r.topic, "partition", r.index, "segments", n)
		}
	}
}
