package group

import "context"

// Store is the durable log of the __consumer_offsets partitions led by this node.
//
// Contract: safe for concurrent use. Offsets are the partition's Kafka offsets; records
// of one Append get consecutive offsets in the order given.
type Store interface {
	// Append writes records to the partition and returns once they are committed (durable
	// on a majority of replicas). An error means the write may not have happened.
	Append(ctx context.Context, partition int32, records []Record) error
	// Scan calls fn for every record of the partition, from its log start to its high
	// watermark, in order.
	Scan(ctx context.Context, partition int32, fn func(Record) error) error
	// DeleteBefore moves the partition's log start to offset (records before it are
	// dropped).
	DeleteBefore(ctx context.Context, partition int32, offset int64) error
	// HighWatermark is the partition's committed end offset.
	HighWatermark(partition int32) (int64, error)
}

// Record is one record of a __consumer_offsets partition. Value nil is a tombstone.
// Offset is filled by Scan; Append ignores it.
type Record struct {
	Offset     int64
	Key, Value []byte
}
