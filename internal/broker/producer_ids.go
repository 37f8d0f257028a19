package broker

import (
	"context"
	"fmt"
	"sync"

	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// producerIDBlock is how many producer ids a node takes from the controller at once.
const producerIDBlock = 1000

// pidBlock is this node's current block of producer ids.
type pidBlock struct {
	mu        sync.Mutex
	next, end int64
}

// InitProducerID implements kafka.Backend for idempotent producers: a fresh producer id
// from this node's block (taken from the controller, so ids are unique cluster-wide), or
// the next epoch of a given producer id (KIP-360). Transactions are not supported.
func (b *Broker) InitProducerID(ctx context.Context, transactionalID *string, producerID int64, producerEpoch int16) (int64, int16, error) {
	if transactionalID != nil && *transactionalID != "" {
		return -1, -1, fmt.Errorf("%w: transactions are not supported", kerr.TransactionalIDAuthorizationFailed)
	}
	if producerID >= 0 && producerEpoch >= 0 {
		if producerEpoch < 32766 {
			return producerID, producerEpoch + 1, nil
		}
	}
	b.pids.mu.Lock()
	defer b.pids.mu.Unlock()
	if b.pids.next >= b.pids.end {
		v, err := b.propose(ctx, cluster.Command{Op: cluster.OpAllocateProducerIDs, Count: producerIDBlock})
		if err != nil {
			return -1, -1, err
		}
		first, ok := v.(int64)
		if !ok {
			return -1, -1, kerr.UnknownServerError
		}
		b.pids.next, b.pids.end = first, first+producerIDBlock
	}
	id := b.pids.next
	b.pids.next++
	return id, 0, nil
}
