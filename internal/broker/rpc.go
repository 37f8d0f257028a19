package broker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/chronik-stream/chronik/internal/replication"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Peers is what the broker needs of the node-to-node transport (nil on a single node).
type Peers interface {
	// Call sends a request to a node and waits for its answer.
	Call(ctx context.Context, to uint64, method byte, req []byte) ([]byte, error)
	// Live reports whether the node was heard from within window.
	Live(id uint64, window time.Duration) bool
}

// Node-to-node call methods served by ServeCall.
const (
	methodControllerPropose = 1 // controller command JSON -> proposeResult JSON
	methodFetchLog          = 2 // u64 group, i64 offset, i32 max bytes -> i64 start, i64 end, batches
)

// liveWindow is how recently a peer must have been heard from to count as live.
const liveWindow = 3 * time.Second

// proposeResult carries a controller command's outcome across nodes.
type proposeResult struct {
	Code  int16  `json:"code,omitempty"`
	Msg   string `json:"msg,omitempty"`
	Kind  string `json:"kind,omitempty"` // "", "int", "str"
	Int   int64  `json:"int,omitempty"`
	Str   string `json:"str,omitempty"`
	Local string `json:"local,omitempty"` // a non-Kafka error's text
}

// propose sends a command to the controller group: locally when this node leads it,
// otherwise to the leader. It retries while the controller has no leader, until ctx ends.
func (b *Broker) propose(ctx context.Context, cmd cluster.Command) (any, error) {
	for {
		v, err := b.proposeOnce(ctx, cmd)
		if !errors.Is(err, kerr.NotController) || ctx.Err() != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return nil, kerr.RequestTimedOut
		case <-time.After(50 * time.Millisecond): // controller election in progress
		}
	}
}

func (b *Broker) proposeOnce(ctx context.Context, cmd cluster.Command) (any, error) {
	leader, _, _ := b.host.Leader(cluster.ControllerGroup)
	switch {
	case leader == uint64(b.cfg.NodeID):
		return b.proposeLocal(ctx, cmd)
	case leader == 0 || b.cfg.Peers == nil:
		return nil, kerr.NotController
	}
	resp, err := b.cfg.Peers.Call(ctx, leader, methodControllerPropose, cluster.Encode(0, cmd))
	if err != nil {
		if ctx.Err() != nil {
			return nil, kerr.RequestTimedOut
		}
		return nil, fmt.Errorf("%w: forwarding to controller %d: %v", kerr.NotController, leader, err)
	}
	var r proposeResult
	if err := json.Unmarshal(resp, &r); err != nil {
		return nil, fmt.Errorf("controller answer: %w", err)
	}
	return r.decode()
}

func (b *Broker) proposeLocal(ctx context.Context, cmd cluster.Command) (any, error) {
	v, err := b.host.Propose(ctx, cluster.ControllerGroup, cluster.Encode(replication.HeaderRoom, cmd))
	if err != nil {
		if errors.Is(err, replication.ErrNotLeader) || errors.Is(err, replication.ErrLeadershipLost) {
			return nil, kerr.NotController
		}
		return nil, mapReplicationErr(err)
	}
	if e, ok := v.(error); ok {
		return nil, e
	}
	return v, nil
}

func encodeResult(v any, err error) proposeResult {
	var r proposeResult
	if err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			r.Code, r.Msg = ke.Code, err.Error()
		} else {
			r.Local = err.Error()
		}
		return r
	}
	switch x := v.(type) {
	case int64:
		r.Kind, r.Int = "int", x
	case string:
		r.Kind, r.Str = "str", x
	}
	return r
}

func (r proposeResult) decode() (any, error) {
	switch {
	case r.Code != 0:
		if ke := kerr.ErrorForCode(r.Code); ke != nil {
			return nil, fmt.Errorf("%w: %s", ke, r.Msg)
		}
		return nil, errors.New(r.Msg)
	case r.Local != "":
		return nil, errors.New(r.Local)
	case r.Kind == "int":
		return r.Int, nil
	case r.Kind == "str":
		return r.Str, nil
	}
	return nil, nil
}

// ServeCall answers another node's call (the transport's handler).
func (b *Broker) ServeCall(ctx context.Context, from uint64, method byte, req []byte) ([]byte, error) {
	switch method {
	case methodControllerPropose:
		var cmd cluster.Command
		if err := json.Unmarshal(req, &cmd); err != nil {
			return nil, fmt.Errorf("controller command from node %d: %w", from, err)
		}
		return json.Marshal(encodeResult(b.proposeLocal(ctx, cmd)))
	case methodFetchLog:
		return b.serveFetchLog(req)
	}
	return nil, fmt.Errorf("unknown method %d", method)
}

// serveFetchLog returns committed batches of a local partition for a replica catching up.
func (b *Broker) serveFetchLog(req []byte) ([]byte, error) {
	if len(req) != 20 {
		return nil, fmt.Errorf("fetch-log request of %d bytes", len(req))
	}
	group := binary.BigEndian.Uint64(req)
	offset := int64(binary.BigEndian.Uint64(req[8:]))
	max := int(binary.BigEndian.Uint32(req[16:]))
	b.mu.RLock()
	r := b.replicas[group]
	b.mu.RUnlock()
	if r == nil {
		return nil, fmt.Errorf("no replica of group %d here", group)
	}
	start, end := r.p.StartOffset(), r.p.HighWatermark()
	out := binary.BigEndian.AppendUint64(nil, uint64(start))
	out = binary.BigEndian.AppendUint64(out, uint64(end))
	if offset < start || offset >= end {
		return out, nil
	}
	data, err := r.p.Read(offset, max)
	if err != nil {
		return nil, err
	}
	return append(out, data...), nil
}

// fetchFromLeader is a replica's partition.Fetcher: it asks the group's current leader.
func (b *Broker) fetchFromLeader(group uint64) func(ctx context.Context, offset int64, max int) ([]byte, int64, int64, error) {
	return func(ctx context.Context, offset int64, max int) ([]byte, int64, int64, error) {
		leader, _, _ := b.host.Leader(group)
		if leader == 0 || leader == uint64(b.cfg.NodeID) || b.cfg.Peers == nil {
			return nil, 0, 0, fmt.Errorf("no leader to copy from")
		}
		req := binary.BigEndian.AppendUint64(nil, group)
		req = binary.BigEndian.AppendUint64(req, uint64(offset))
		req = binary.BigEndian.AppendUint32(req, uint32(max))
		resp, err := b.cfg.Peers.Call(ctx, leader, methodFetchLog, req)
		if err != nil {
			return nil, 0, 0, err
		}
		if len(resp) < 16 {
			return nil, 0, 0, fmt.Errorf("short fetch-log answer")
		}
		return resp[16:], int64(binary.BigEndian.Uint64(resp)), int64(binary.BigEndian.Uint64(resp[8:])), nil
	}
}

// ProposeController runs a controller command wherever the controller leader is.
func (b *Broker) ProposeController(ctx context.Context, cmd cluster.Command) (any, error) {
	return b.propose(ctx, cmd)
}
