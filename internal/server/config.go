// Package server wires one Chronik node together (storage, replication, controller,
// Kafka listener, HTTP metrics) and runs it until its context ends. Nothing imports it but
// the commands.
package server

import "time"

// Config is the whole configuration of one node. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// NodeID is this node's id (1 for standalone).
	NodeID uint64
	// DataDir holds the node WAL, the partition logs and the node identity file.
	DataDir string
	// Bind is the address the Kafka and HTTP listeners bind to.
	Bind string
	// KafkaPort is the Kafka listener port; 0 picks a free port (tests).
	KafkaPort int
	// AdvertisedHost and AdvertisedPort are what clients are told to connect to.
	// AdvertisedPort 0 means KafkaPort.
	AdvertisedHost string
	AdvertisedPort int
	// HTTPPort serves /metrics and /health; 0 picks a free port, -1 disables it.
	HTTPPort int
	// Rack is this node's rack (KIP-392 preferred read replicas); "" means none.
	Rack string

	// RaftAddr is the address the node-to-node transport listens on (cluster mode only).
	RaftAddr string
	// Peers are the other nodes of the cluster, id -> raft address (cluster mode only).
	Peers map[uint64]string
	// Bootstrap lets this node create the cluster when no data dir exists yet.
	Bootstrap bool

	// MaxRequestBytes bounds one Kafka request frame.
	MaxRequestBytes int32
	// AutoCreateTopics enables topic auto-creation on Metadata and Produce.
	AutoCreateTopics bool
	// DefaultPartitions and DefaultReplicationFactor apply to auto-created topics and to
	// CreateTopics requests that leave them at -1. Replication factor 0 = min(3, nodes).
	DefaultPartitions        int32
	DefaultReplicationFactor int16

	// Log defaults for topics (overridable per topic).
	SegmentBytes int64
	// PageCacheBytes is how much of the newest data of each partition stays in the page
	// cache once synced (older data is dropped from it); -1 keeps everything cached.
	PageCacheBytes  int64
	RetentionMs     int64
	RetentionBytes  int64
	MaxMessageBytes int32

	// RaftTick is the period of the one ticker that drives every raft group.
	RaftTick time.Duration
	// ElectionTicks and HeartbeatTicks are raft's timeouts in ticks.
	ElectionTicks  int
	HeartbeatTicks int
	// Workers is the size of the raft worker pool (0 = GOMAXPROCS).
	Workers int
	// JoinTimeout bounds how long start-up waits to join the cluster (a controller
	// leader, the cluster id from a --bootstrap node, this broker's registration).
	JoinTimeout time.Duration
}

// DefaultConfig returns the standalone defaults: node 1, ./data, port 9092.
func DefaultConfig() Config {
	return Config{
		NodeID:                   1,
		DataDir:                  "./data",
		Bind:                     "0.0.0.0",
		KafkaPort:                9092,
		AdvertisedHost:           "localhost",
		HTTPPort:                 9644,
		MaxRequestBytes:          100 << 20,
		AutoCreateTopics:         true,
		DefaultPartitions:        3,
		DefaultReplicationFactor: 0,
		SegmentBytes:             1 << 30,
		PageCacheBytes:           64 << 20,
		RetentionMs:              7 * 24 * 3600 * 1000,
		RetentionBytes:           -1,
		MaxMessageBytes:          1048588,
		RaftTick:                 100 * time.Millisecond,
		ElectionTicks:            10,
		HeartbeatTicks:           2,
		JoinTimeout:              5 * time.Minute,
		Bootstrap:                true,
	}
}
