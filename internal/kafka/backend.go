package kafka

import (
	"context"

	"github.com/chronik-stream/chronik/internal/group"
)

// Backend is everything the Kafka protocol layer asks of the node it runs on. The protocol
// layer decodes requests, calls the Backend and encodes its answers; it holds no state of
// its own beyond connections and fetch sessions.
//
// Contract for every method:
//   - safe for concurrent use;
//   - errors are kerr.* values (possibly wrapped, find them with errors.As on *kerr.Error);
//     any other error is answered as UNKNOWN_SERVER_ERROR;
//   - a blocking method returns when ctx is done, with ctx.Err() or kerr.RequestTimedOut.
type Backend interface {
	// NodeID is this broker's id; ClusterID the cluster's id; ControllerID the broker that
	// currently leads the controller group (-1 when unknown).
	NodeID() int32
	ClusterID() string
	ControllerID() int32
	// Brokers lists every live broker with its advertised Kafka address.
	Brokers() []BrokerInfo

	// Metadata describes the named topics, or every topic when names is nil. A missing
	// topic is created with the defaults when autoCreate is true and auto-creation is
	// enabled; otherwise its TopicInfo carries kerr.UnknownTopicOrPartition.
	Metadata(ctx context.Context, names []string, autoCreate bool) []TopicInfo
	// TopicNameByID resolves a topic id (Fetch v13+, Metadata by id). ok=false if unknown.
	TopicNameByID(id [16]byte) (name string, ok bool)

	// CreateTopic creates a topic (or only validates the request when validateOnly). Errors:
	// TopicAlreadyExists, InvalidTopicException, InvalidPartitions,
	// InvalidReplicationFactor, InvalidConfig, InvalidRequest.
	CreateTopic(ctx context.Context, spec TopicSpec, validateOnly bool) (TopicInfo, error)
	// DeleteTopic deletes a topic and all its data.
	DeleteTopic(ctx context.Context, name string) error
	// CreatePartitions grows a topic to count partitions in total.
	CreatePartitions(ctx context.Context, topic string, count int32, validateOnly bool) error
	// DescribeConfigs lists the configs of a topic (resourceType 2) or broker (4); keys nil
	// means all.
	DescribeConfigs(resourceType int8, name string, keys []string) ([]ConfigEntry, error)
	// AlterConfigs changes configs. Each op is applied in order. When incremental is false
	// the given set replaces all non-default configs (Kafka's AlterConfigs semantics).
	AlterConfigs(ctx context.Context, resourceType int8, name string, ops []ConfigOp, incremental, validateOnly bool) error

	// Produce validates the batches in records (one or more v2 record batches, as sent by
	// the client) and queues their write to a partition, then returns at once: a Produce
	// to the same partition started after it returns is appended after this one. The
	// returned wait blocks until the write is as durable as acks asks, 0 and 1 and -1 as
	// Kafka's (for acks=0 the caller still waits and drops the answer), or ctx ends, and
	// gives the outcome. Errors: UnknownTopicOrPartition, NotLeaderForPartition,
	// CorruptMessage, MessageTooLarge, RecordListTooLarge, InvalidRecord,
	// OutOfOrderSequenceNumber, DuplicateSequenceNumber, InvalidProducerEpoch,
	// InvalidTimestamp, NotEnoughReplicas, RequestTimedOut, InvalidRequiredAcks. A write
	// refused before it was queued has a wait that returns its error at once.
	//
	// records is only valid until Produce returns: the connection reuses its memory.
	Produce(ctx context.Context, topic string, partition int32, records []byte, acks int16) ProduceWait

	// Fetch reads whole stored batches from offset on, at most maxBytes of them, except that
	// the first batch is returned whole even if larger (Kafka's rule). It never blocks.
	// Errors: OffsetOutOfRange, UnknownTopicOrPartition, NotLeaderForPartition (only when
	// this node holds no replica), FencedLeaderEpoch.
	Fetch(req FetchPartition) (FetchResult, error)
	// Subscribe calls wake (from any goroutine, possibly more than once) whenever new data
	// becomes readable on the partition, until cancel is called.
	Subscribe(topic string, partition int32, wake func()) (cancel func())

	// ListOffset answers ListOffsets: timestamp -2 earliest, -1 latest, -3 max timestamp,
	// otherwise the first offset whose timestamp is >= timestamp (offset -1 if none).
	ListOffset(topic string, partition int32, timestamp int64, isolation int8) (offset, ts int64, leaderEpoch int32, err error)
	// DeleteRecords moves the log start offset to beforeOffset (-1: the high watermark).
	DeleteRecords(ctx context.Context, topic string, partition int32, beforeOffset int64) (lowWatermark int64, err error)
	// LogDirs describes the node's data directory and the size of each partition in it.
	LogDirs() []LogDirInfo

	// InitProducerID hands out a producer id and epoch. With a producer id and epoch given
	// (KIP-360) it bumps the epoch of that producer.
	InitProducerID(ctx context.Context, transactionalID *string, producerID int64, producerEpoch int16) (int64, int16, error)

	// Groups is the consumer-group coordinator of this node (nil: none yet; group requests
	// are then answered COORDINATOR_NOT_AVAILABLE).
	Groups() *group.Coordinator
	// GroupCoordinator returns the broker that leads the __consumer_offsets partition
	// (group.PartitionFor) holding key's group; kerr.CoordinatorNotAvailable if none.
	GroupCoordinator(key string) (BrokerInfo, error)
}

// BrokerInfo is one live broker.
type BrokerInfo struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   string // "" = none
}

// PartitionInfo describes one partition for Metadata.
type PartitionInfo struct {
	Partition   int32
	Leader      int32 // -1 when there is none
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	Offline     []int32
	Err         error // e.g. kerr.LeaderNotAvailable
}

// TopicInfo describes one topic for Metadata and CreateTopics.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Internal   bool
	Partitions []PartitionInfo
	Configs    []ConfigEntry // filled by CreateTopic only
	Err        error
}

// TopicSpec is a request to create a topic. Partitions and ReplicationFactor are -1 for
// the broker defaults; Assignment (partition -> replica node ids) is optional.
type TopicSpec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	Assignment        map[int32][]int32
	Configs           map[string]string
}

// ConfigEntry is one config of a resource as DescribeConfigs reports it.
type ConfigEntry struct {
	Name      string
	Value     *string
	ReadOnly  bool
	IsDefault bool
	Sensitive bool
	Source    int8 // kmsg.ConfigSource values: 1 topic, 4 static broker, 5 default
	Type      int8 // kmsg.ConfigType values
}

// ConfigOp is one change of an (Incremental)AlterConfigs request. Op: 0 set, 1 delete,
// 2 append, 3 subtract (IncrementalAlterConfigs); plain AlterConfigs uses 0 only.
type ConfigOp struct {
	Name  string
	Value *string
	Op    int8
}

// ProduceWait waits for the outcome of a write queued by Backend.Produce. Call it once.
type ProduceWait func() (ProduceResult, error)

// ProduceFailed is the wait of a write refused before it was queued.
func ProduceFailed(err error) ProduceWait {
	return func() (ProduceResult, error) { return ProduceResult{}, err }
}

// ProduceResult answers one partition of a Produce.
type ProduceResult struct {
	BaseOffset     int64
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
}

// FetchPartition is one partition of a Fetch.
type FetchPartition struct {
	Topic              string
	Partition          int32
	Offset             int64
	MaxBytes           int32
	Isolation          int8  // 0 read uncommitted, 1 read committed
	CurrentLeaderEpoch int32 // -1 when the client does not know it
	ReplicaRack        string
}

// FetchResult answers one partition of a Fetch.
type FetchResult struct {
	Records              []byte // whole batches, possibly empty
	HighWatermark        int64
	LastStableOffset     int64
	LogStartOffset       int64
	PreferredReadReplica int32 // -1 = none
}

// LogDirInfo describes one data directory for DescribeLogDirs.
type LogDirInfo struct {
	Path        string
	TotalBytes  int64
	UsableBytes int64
	Topics      map[string][]LogDirPartition
}

// LogDirPartition is one partition's size in a log dir.
type LogDirPartition struct {
	Partition int32
	Size      int64
	OffsetLag int64
}
