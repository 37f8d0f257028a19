package kafka

// Helpers shared by the admin API handlers (CreateTopics, DeleteTopics, DeleteRecords,
// the config APIs, DescribeLogDirs, CreatePartitions, DescribeCluster).

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminError is an error with a Kafka error code (found by errCode through Unwrap) and a
// message of our own (what errMessage puts in the response).
type adminError struct {
	kind *kerr.Error
	msg  string
}

func (e *adminError) Error() string { return e.msg }
func (e *adminError) Unwrap() error { return e.kind }

// adminErrorf returns an error answered as kind with the formatted message.
func adminErrorf(kind *kerr.Error, format string, args ...any) error {
	return &adminError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// requestBody returns r.Body as the request type T. A mismatch is a dispatcher bug; the
// error closes the connection.
func requestBody[T kmsg.Request](r *Request) (T, error) {
	body, ok := r.Body.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("kafka: api key %d: unexpected request body %T", r.Key, r.Body)
	}
	return body, nil
}

// withRequestTimeout bounds ctx by a request's TimeoutMillis when it is positive. A zero or
// negative timeout means "do not wait" in Kafka, yet the work is still done, so ctx is
// then left as is. The returned cancel must be called.
func withRequestTimeout(ctx context.Context, timeoutMillis int32) (context.Context, context.CancelFunc) {
	if timeoutMillis <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(timeoutMillis)*time.Millisecond)
}

// checkConfigResource validates a config resource of DescribeConfigs, AlterConfigs and
// IncrementalAlterConfigs before the Backend sees it: only topics (2) and brokers (4) are
// supported, and a broker resource names this node ("" is the cluster-wide default).
func checkConfigResource(s *Server, typ kmsg.ConfigResourceType, name string) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return nil
	case kmsg.ConfigResourceTypeBroker:
		if name == "" {
			return nil
		}
		id, err := strconv.ParseInt(name, 10, 32)
		if err != nil || int32(id) != s.backend.NodeID() {
			return adminErrorf(kerr.InvalidRequest, "unexpected broker id %q, this broker is %d", name, s.backend.NodeID())
		}
		return nil
	default:
		return adminErrorf(kerr.InvalidRequest, "unsupported config resource type %d", int8(typ))
	}
}

// configResourceKey identifies a config resource to find duplicates in one request.
type configResourceKey struct {
	typ  kmsg.ConfigResourceType
	name string
}

// duplicateResources returns the resources named more than once, which Kafka answers with
// INVALID_REQUEST instead of altering.
func duplicateResources(n int, at func(i int) configResourceKey) map[configResourceKey]bool {
	seen := make(map[configResourceKey]bool, n)
	dups := map[configResourceKey]bool{}
	for i := range n {
		k := at(i)
		if seen[k] {
			dups[k] = true
		}
		seen[k] = true
	}
	return dups
}
