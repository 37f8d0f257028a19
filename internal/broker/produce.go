package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/chronik-stream/chronik/internal/kafka"
	"github.com/chronik-stream/chronik/internal/partition"
	"github.com/chronik-stream/chronik/internal/record"
	"github.com/chronik-stream/chronik/internal/replication"
	"github.com/twmb/franz-go/pkg/kerr"
)

// maxDecompressionFactor bounds how far a compressed batch may expand while it is
// validated, relative to max.message.bytes (Kafka applies max.message.bytes to the
// compressed size; this only guards against decompression bombs).
const maxDecompressionFactor = 64

// Produce implements kafka.Backend. The batches are validated here, on the leader, then
// submitted to the partition's raft group. acks=all is answered once they are committed
// (durable on a majority) and applied; acks=1 once they are durable on this leader,
// before they commit (a write the leader loses before replicating it is lost, as in
// Kafka); acks=0 callers drop the answer.
func (b *Broker) Produce(ctx context.Context, topic string, index int32, records []byte, acks int16) kafka.ProduceWait {
	pending, err := b.submitProduce(topic, index, records, acks)
	if err != nil {
		return kafka.ProduceFailed(err)
	}
	return func() (kafka.ProduceResult, error) {
		v, err := pending.Wait(ctx)
		if err != nil {
			return kafka.ProduceResult{}, mapReplicationErr(err)
		}
		res, ok := v.(*partition.ProduceResult)
		if !ok || res == nil {
			return kafka.ProduceResult{}, kerr.UnknownServerError
		}
		if res.Err != nil {
			return kafka.ProduceResult{}, res.Err
		}
		return kafka.ProduceResult{BaseOffset: res.BaseOffset, LogAppendTime: res.LogAppendTime, LogStartOffset: res.LogStartOffset}, nil
	}
}

// submitProduce checks a produce (acks, leadership, the batches, min.insync.replicas for
// acks=all) and submits a copy of its batches to the partition's raft group.
func (b *Broker) submitProduce(topic string, index int32, records []byte, acks int16) (*replication.Pending, error) {
	if acks != 0 && acks != 1 && acks != -1 {
		return nil, kerr.InvalidRequiredAcks
	}
	t, r, err := b.localPartition(topic, index)
	if err != nil {
		return nil, err
	}
	if leader, _, _ := b.host.Leader(r.group); leader != uint64(b.cfg.NodeID) {
		return nil, kerr.NotLeaderForPartition
	}
	maxBytes := cluster.EffectiveInt(t.Configs, "max.message.bytes", b.cfg.Defaults)
	if err := validateProduce(records, maxBytes); err != nil {
		return nil, err
	}
	if acks == -1 {
		minISR := cluster.EffectiveInt(t.Configs, "min.insync.replicas", b.cfg.Defaults)
		if isr := len(b.isr(r.group, t.Partitions[index].Replicas)); int64(isr) < minISR {
			return nil, fmt.Errorf("%w: %d in-sync replicas, min.insync.replicas is %d", kerr.NotEnoughReplicas, isr, minISR)
		}
	}
	appendTime := int64(-1)
	if cluster.Effective(t.Configs, "message.timestamp.type", b.cfg.Defaults) == "LogAppendTime" {
		appendTime = time.Now().UnixMilli()
	}
	submit := b.host.Submit
	if acks == 1 {
		submit = b.host.SubmitLocal // answered once durable on this leader, as Kafka does
	}
	pending, err := submit(r.group, partition.EncodeProduce(replication.HeaderRoom, records, appendTime))
	if err != nil {
		return nil, mapReplicationErr(err)
	}
	return pending, nil
}

// validateProduce checks every batch of a produce: whole v2 batches, CRC, record
// framing (decompressing compressed ones), no control or transactional batches (this
// broker has no transactions), each within max.message.bytes.
func validateProduce(records []byte, maxBytes int64) error {
	if len(records) == 0 {
		return fmt.Errorf("%w: produce without records", kerr.InvalidRecord)
	}
	batches, err := record.Split(records)
	if err != nil {
		return fmt.Errorf("%w: %v", kerr.CorruptMessage, err)
	}
	maxOut := int(maxBytes) * maxDecompressionFactor
	if maxOut < 1<<20 {
		maxOut = 1 << 20
	}
	for _, bt := range batches {
		if int64(len(bt.Bytes)) > maxBytes {
			return fmt.Errorf("%w: batch of %d bytes exceeds max.message.bytes %d", kerr.MessageTooLarge, len(bt.Bytes), maxBytes)
		}
		h, err := record.Validate(bt.Bytes, maxOut)
		if err != nil {
			return fmt.Errorf("%w: %v", kerr.CorruptMessage, err)
		}
		if h.IsControl() || h.IsTransactional() {
			return fmt.Errorf("%w: transactional and control batches are not supported", kerr.InvalidRecord)
		}
		if h.ProducerID >= 0 && h.BaseSequence < 0 {
			return fmt.Errorf("%w: idempotent batch without a sequence", kerr.InvalidRecord)
		}
	}
	return nil
}

// mapReplicationErr turns replication errors into Kafka errors.
func mapReplicationErr(err error) error {
	switch {
	case errors.Is(err, replication.ErrNotLeader), errors.Is(err, replication.ErrLeadershipLost):
		return fmt.Errorf("%w: %v", kerr.NotLeaderForPartition, err)
	case errors.Is(err, replication.ErrUnknownGroup):
		return kerr.UnknownTopicOrPartition
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut
	case errors.Is(err, replication.ErrStopped):
		return fmt.Errorf("%w: broker shutting down", kerr.NotLeaderForPartition)
	}
	return fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
}
