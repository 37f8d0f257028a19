package broker

import (
	"github.com/chronik-stream/chronik/internal/group"
	"github.com/chronik-stream/chronik/internal/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Groups is the consumer-group coordinator of this node. Stub until the coordinator is
// wired in: nil makes every group request answer COORDINATOR_NOT_AVAILABLE.
func (b *Broker) Groups() *group.Coordinator { return nil }

// GroupCoordinator returns the broker coordinating key's group. Stub: none.
func (b *Broker) GroupCoordinator(string) (kafka.BrokerInfo, error) {
	return kafka.BrokerInfo{}, kerr.CoordinatorNotAvailable
}
