// Package group is the consumer-group coordinator: Kafka's classic group protocol
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, static membership), the consumer group
// protocol of KIP-848 (ConsumerGroupHeartbeat, server-side assignment; consumer.go) and
// committed offsets.
//
// Durability: group metadata and committed offsets are records of the replicated internal
// topic __consumer_offsets (records.go), written through a Store. The group with id g lives
// in partition PartitionFor(g, partitions); the node that leads that partition is g's
// coordinator. Load rebuilds a partition's groups from its log when this node becomes its
// leader, Unload drops them when it stops leading. An offset commit is answered only once
// its records are committed, so committed offsets never move backwards across a failover.
// Compaction (compact.go) keeps every partition's log bounded.
//
// Locking: a loaded partition is a shard. Every operation that may write holds, in this
// order, the shard's writer lock (shared; a snapshot takes it exclusively), the group's
// write lock (serializes a group's appends so that its log order is its memory order) and
// the group's state lock; the state lock is released while the Append runs. Read-only
// operations take only the state lock. No lock is held while a request waits for a
// rebalance to complete.
package group

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Defaults, as Kafka's broker configs.
const (
	DefaultMinSessionTimeout   = 6 * time.Second          // group.min.session.timeout.ms
	DefaultMaxSessionTimeout   = 30 * time.Minute         // group.max.session.timeout.ms
	DefaultRetention           = 7 * 24 * time.Hour       // offsets.retention.minutes
	DefaultRetentionCheck      = 10 * time.Minute         // offsets.retention.check.interval.ms
	DefaultMaxMetadataSize     = 4096                     // offset.metadata.max.bytes
	DefaultCommitTimeout       = 5 * time.Second          // offsets.commit.timeout.ms
	DefaultCompactionThreshold = 10000                    // records appended between snapshots
	DefaultInitialRebalance    = 3 * time.Second          // group.initial.rebalance.delay.ms
	snapshotChunk              = 1000                     // records per snapshot Append
	loadGroupsHint             = 64                       //
	noTimeout                  = time.Duration(1<<63 - 1) //
)

// ErrNotLeader is what a Store returns (possibly wrapped) when this node does not, or no
// longer, lead the partition (kerr.NotCoordinator and kerr.NotLeaderForPartition are
// understood too); the coordinator answers NOT_COORDINATOR for it. See appendErrCode for
// the other errors.
var ErrNotLeader = errors.New("group: not the leader of the __consumer_offsets partition")

// Config configures a Coordinator. Zero fields take the defaults above, except
// InitialRebalanceDelay, where zero means no delay (Kafka's default is
// DefaultInitialRebalance).
type Config struct {
	Store      Store
	Partitions int32 // partitions of __consumer_offsets; 0: DefaultPartitions
	Clock      Clock // nil: SystemClock
	Logger     *slog.Logger

	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// InitialRebalanceDelay delays the first rebalance of an empty group so that members
	// starting together join one generation (KIP-134).
	InitialRebalanceDelay time.Duration
	// GroupMaxSize bounds the members of a group (0: unbounded).
	GroupMaxSize int
	// Retention is how long the offsets of an empty group (or of a topic a stable group
	// no longer subscribes to) are kept; RetentionCheck how often that is checked.
	Retention      time.Duration
	RetentionCheck time.Duration
	// MaxMetadataSize bounds a committed offset's metadata string.
	MaxMetadataSize int
	// CommitTimeout bounds the Append of an offset commit.
	CommitTimeout time.Duration
	// CompactionThreshold: a partition is snapshotted and its older records dropped once
	// this many records were appended to it since the last snapshot (or found on Load).
	CompactionThreshold int

	// Topics is the broker's topic metadata for the consumer group protocol (KIP-848,
	// consumer.go). Nil: ConsumerGroupHeartbeat is answered UNSUPPORTED_VERSION.
	Topics TopicSource
	// ConsumerSessionTimeout (0: DefaultConsumerSessionTimeout) and
	// ConsumerHeartbeatInterval (0: DefaultConsumerHeartbeatInterval) of consumer groups.
	ConsumerSessionTimeout    time.Duration
	ConsumerHeartbeatInterval time.Duration
}

// Coordinator is the consumer-group coordinator of one node. Its methods are safe for
// concurrent use.
type Coordinator struct {
	cfg   Config
	store Store
	clock Clock
	log   *slog.Logger

	mu      sync.Mutex
	shards  map[int32]*shard
	closed  bool
	expiry  Timer
	baseCtx context.Context
	stop    context.CancelFunc
}

// shard is one loaded (or loading) __consumer_offsets partition.
type shard struct {
	c         *Coordinator
	partition int32
	ctx       context.Context // cancelled at Unload
	cancel    context.CancelFunc

	wlock sync.RWMutex // writers share it; a snapshot holds it alone

	mu      sync.Mutex
	loading bool
	groups  map[string]*group
	closed  atomic.Bool

	sinceSnapshot atomic.Int64 // records in the log that a snapshot would replace
	compacting    atomic.Bool
}

// NewCoordinator returns a coordinator with no partition loaded: every group request is
// answered NOT_COORDINATOR until Load. It starts the offset-retention timer; Close stops it.
func NewCoordinator(cfg Config) *Coordinator {
	if cfg.Partitions <= 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinSessionTimeout <= 0 {
		cfg.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if cfg.MaxSessionTimeout <= 0 {
		cfg.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.RetentionCheck <= 0 {
		cfg.RetentionCheck = DefaultRetentionCheck
	}
	if cfg.MaxMetadataSize <= 0 {
		cfg.MaxMetadataSize = DefaultMaxMetadataSize
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = DefaultCommitTimeout
	}
	if cfg.CompactionThreshold <= 0 {
		cfg.CompactionThreshold = DefaultCompactionThreshold
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &Coordinator{
		cfg:     cfg,
		store:   cfg.Store,
		clock:   cfg.Clock,
		log:     cfg.Logger.With("component", "group"),
		shards:  map[int32]*shard{},
		baseCtx: ctx,
		stop:    stop,
	}
	c.scheduleExpiry()
	return c
}

// Partitions is the partition count of __consumer_offsets this coordinator uses.
func (c *Coordinator) Partitions() int32 { return c.cfg.Partitions }

// PartitionFor is the __consumer_offsets partition of a group.
func (c *Coordinator) PartitionFor(groupID string) int32 {
	return PartitionFor(groupID, c.cfg.Partitions)
}

// Close unloads every partition and stops the retention timer. Waiting requests are
// answered NOT_COORDINATOR.
func (c *Coordinator) Close() {
	c.mu.Lock()
	c.closed = true
	if c.expiry != nil {
		c.expiry.Stop()
	}
	shards := c.shards
	c.shards = map[int32]*shard{}
	c.mu.Unlock()
	for _, s := range shards {
		s.close()
	}
	c.stop()
}

// Loaded lists the partitions that are loaded (not loading), in order.
func (c *Coordinator) Loaded() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int32
	for p, s := range c.shards {
		s.mu.Lock()
		if !s.loading {
			out = append(out, p)
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// shardFor returns the loaded shard of a group, or the error code to answer.
func (c *Coordinator) shardFor(groupID string) (*shard, int16) {
	p := c.PartitionFor(groupID)
	c.mu.Lock()
	s := c.shards[p]
	c.mu.Unlock()
	if s == nil || s.closed.Load() {
		return nil, ErrNotCoordinator
	}
	s.mu.Lock()
	loading := s.loading
	s.mu.Unlock()
	if loading {
		return nil, ErrCoordinatorLoadInProgress
	}
	return s, ErrNone
}

// locked is a group held by lockGroup.
type locked struct {
	g     *group
	write bool
}

// lockGroup finds (or, when create, creates) a group and locks it: its state lock always,
// and with write also the shard's writer lock and the group's write lock. g is nil (and
// nothing locked) when the group does not exist and create is false, or on error.
func (c *Coordinator) lockGroup(groupID string, create, write bool) (locked, int16) {
	for {
		s, code := c.shardFor(groupID)
		if code != ErrNone {
			return locked{}, code
		}
		if write {
			s.wlock.RLock()
		}
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			if write {
				s.wlock.RUnlock()
			}
			return locked{}, ErrNotCoordinator
		}
		g := s.groups[groupID]
		if g == nil && create {
			g = newGroup(s, groupID)
			s.groups[groupID] = g
		}
		s.mu.Unlock()
		if g == nil {
			if write {
				s.wlock.RUnlock()
			}
			return locked{}, ErrNone
		}
		if write {
			g.wmu.Lock()
		}
		g.mu.Lock()
		if g.state != stateDead {
			return locked{g: g, write: write}, ErrNone
		}
		// Deleted (or unloaded) while we waited: look again.
		l := locked{g: g, write: write}
		l.unlock()
	}
}

// unlock releases what lockGroup took and, after a write, compacts the shard if due.
func (l locked) unlock() {
	g := l.g
	g.mu.Unlock()
	if l.write {
		g.wmu.Unlock()
		g.s.wlock.RUnlock()
		g.s.maybeCompact()
	}
}

// flush appends the records queued in g.out, releasing the state lock while the Append
// runs; the caller holds a write lock. It returns the error code for the write (ErrNone
// when there was nothing to write). When the shard was unloaded meanwhile the answer is
// NOT_COORDINATOR whatever the Append did.
func (g *group) flush(ctx context.Context, commit bool) int16 {
	recs := g.out
	g.out = nil
	if len(recs) == 0 {
		return ErrNone
	}
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, g.s.c.cfg.CommitTimeout)
	err := g.s.append(ctx, recs)
	cancel()
	g.mu.Lock()
	if g.s.closed.Load() {
		return ErrNotCoordinator
	}
	if err != nil {
		g.s.c.log.Warn("group: append to __consumer_offsets failed", "group", g.id, "partition", g.s.partition, "err", err)
	}
	return appendErrCode(err, commit)
}

// appendErrCode maps a Store.Append error to the code answered, as Kafka maps log append
// errors in its group coordinator: not leading (ErrNotLeader, or a Kafka NOT_COORDINATOR
// / NOT_LEADER_OR_FOLLOWER / KAFKA_STORAGE_ERROR error) is NOT_COORDINATOR; a batch too
// large is INVALID_COMMIT_OFFSET_SIZE for a commit (UNKNOWN_SERVER_ERROR otherwise); a
// passed deadline is REQUEST_TIMED_OUT for a commit; anything else is
// COORDINATOR_NOT_AVAILABLE, which clients retry after rediscovering the coordinator.
func appendErrCode(err error, commit bool) int16 {
	if err == nil {
		return ErrNone
	}
	if errors.Is(err, ErrNotLeader) {
		return ErrNotCoordinator
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.NotCoordinator, kerr.NotLeaderForPartition, kerr.KafkaStorageError:
			return ErrNotCoordinator
		case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
			if commit {
				return ErrInvalidCommitOffsetSize
			}
			return ErrUnknownServerError
		case kerr.RequestTimedOut:
			if commit {
				return ErrRequestTimedOut
			}
		}
		return ErrCoordinatorNotAvailable
	}
	if commit && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return ErrRequestTimedOut
	}
	return ErrCoordinatorNotAvailable
}

// append writes records to the shard's partition and counts them for compaction.
func (s *shard) append(ctx context.Context, recs []Record) error {
	ctx, cancel := mergeCancel(ctx, s.ctx)
	defer cancel()
	if err := s.c.store.Append(ctx, s.partition, recs); err != nil {
		return err
	}
	s.sinceSnapshot.Add(int64(len(recs)))
	return nil
}

// mergeCancel returns a context done when either a or b is done, with a's values.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

// timerOp runs fn on g from a timer: with the write locks, unless the group is gone, then
// appends what fn queued.
func (g *group) timerOp(fn func()) {
	s := g.s
	if s.closed.Load() {
		return
	}
	s.wlock.RLock()
	g.wmu.Lock()
	g.mu.Lock()
	l := locked{g: g, write: true}
	defer l.unlock()
	if g.state == stateDead || s.closed.Load() {
		return
	}
	fn()
	g.flush(s.ctx, false)
}

// close marks the shard unloaded: every group is dropped, waiting requests are answered
// NOT_COORDINATOR, timers stop, in-flight appends are cancelled.
func (s *shard) close() {
	s.closed.Store(true)
	s.cancel()
	s.mu.Lock()
	groups := s.groups
	s.groups = map[string]*group{}
	s.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.kill(ErrNotCoordinator)
		g.mu.Unlock()
	}
}

// newMemberID returns prefix-<uuid v4>, Kafka's member id format.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
