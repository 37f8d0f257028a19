package kafka

// Helpers shared by the consumer-group API handlers (OffsetCommit, OffsetFetch,
// FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, DescribeGroups,
// ListGroups, DeleteGroups, OffsetDelete). They translate kmsg requests into the
// coordinator's own types (internal/group); kmsg stops here.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
)

// coordinatorNotAvailable is answered while the node has no coordinator.
var coordinatorNotAvailable = kerr.CoordinatorNotAvailable.Code

// headerClientID is the request header's client id ("" when null).
func headerClientID(r *Request) string {
	if r.ClientID == nil {
		return ""
	}
	return *r.ClientID
}

// derefString returns *s, or "" for nil.
func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// emptyIfNil returns b, or an empty non-nil slice.
func emptyIfNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// partitionCounts returns the partition count of every named topic that exists (topics
// the Backend answers with an error are left out). Kafka answers offsets of unknown
// partitions with UNKNOWN_TOPIC_OR_PARTITION before the coordinator sees them.
func partitionCounts(ctx context.Context, s *Server, topics []string) map[string]int32 {
	out := make(map[string]int32, len(topics))
	if len(topics) == 0 {
		return out
	}
	seen := map[string]bool{}
	var names []string
	for _, t := range topics {
		if !seen[t] {
			seen[t] = true
			names = append(names, t)
		}
	}
	for _, ti := range s.backend.Metadata(ctx, names, false) {
		if ti.Err == nil && seen[ti.Name] {
			out[ti.Name] = int32(len(ti.Partitions))
		}
	}
	return out
}

// knownPartition reports whether p is a partition of a topic in counts.
func knownPartition(counts map[string]int32, topic string, p int32) bool {
	n, ok := counts[topic]
	return ok && p >= 0 && p < n
}
