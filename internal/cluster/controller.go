package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/chronik-stream/chronik/internal/partition"
)

// stateFile holds the controller's last checkpoint in the node's data dir.
const stateFile = "controller.json"

// snapshot is the controller's checkpoint and raft snapshot.
type snapshot struct {
	Applied uint64 `json:"applied"`
	State   State  `json:"state"`
}

// Controller is this node's replica of the controller state machine.
type Controller struct {
	dir string

	mu      sync.RWMutex
	state   State
	applied uint64
	version atomic.Uint64 // bumped on every change, for cheap change detection

	durable  atomic.Uint64
	onChange func()
}

// OpenController loads the controller's checkpoint from dir (or starts empty).
// onChange is called (from the applying goroutine) after every applied change.
func OpenController(dir string, onChange func()) (*Controller, error) {
	c := &Controller{dir: dir, state: newState(), onChange: onChange}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return nil, err
	default:
		var s snapshot
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("controller state %s: %w", filepath.Join(dir, stateFile), err)
		}
		c.state, c.applied = s.State, s.Applied
		c.state.normalize()
		c.durable.Store(s.Applied)
	}
	return c, nil
}

// Applied implements replication.StateMachine.
func (c *Controller) Applied() uint64 { return c.durable.Load() }

// Apply implements replication.StateMachine.
func (c *Controller) Apply(index uint64, data []byte) any {
	var res any
	c.mu.Lock()
	c.applied = index
	if len(data) > 0 {
		var cmd Command
		if err := json.Unmarshal(data, &cmd); err != nil {
			res = fmt.Errorf("controller command: %w", err)
		} else {
			res = c.state.apply(&cmd)
			c.version.Add(1)
		}
	}
	c.mu.Unlock()
	if len(data) > 0 && c.onChange != nil {
		c.onChange()
	}
	return res
}

// Checkpoint implements replication.StateMachine.
func (c *Controller) Checkpoint() (uint64, []byte, error) {
	c.mu.RLock()
	b, err := json.Marshal(snapshot{Applied: c.applied, State: c.state})
	applied := c.applied
	c.mu.RUnlock()
	if err != nil {
		return 0, nil, err
	}
	if applied != c.durable.Load() {
		if err := partition.WriteFileAtomic(filepath.Join(c.dir, stateFile), b); err != nil {
			return 0, nil, err
		}
		c.durable.Store(applied)
	}
	return applied, b, nil
}

// Restore implements replication.StateMachine.
func (c *Controller) Restore(index uint64, data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("controller snapshot: %w", err)
	}
	if err := partition.WriteFileAtomic(filepath.Join(c.dir, stateFile), data); err != nil {
		return err
	}
	c.mu.Lock()
	c.state, c.applied = s.State, index
	c.state.normalize()
	c.version.Add(1)
	c.mu.Unlock()
	c.durable.Store(index)
	if c.onChange != nil {
		c.onChange()
	}
	return nil
}

// Snapshot returns a copy of the current state.
func (c *Controller) Snapshot() State {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.state.clone()
}

// Version changes whenever the state does.
func (c *Controller) Version() uint64 { return c.version.Load() }

// Topic returns a copy of one topic.
func (c *Controller) Topic(name string) (Topic, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.state.Topics[name]
	if !ok {
		return Topic{}, false
	}
	out := *t
	out.Partitions = append([]Partition(nil), t.Partitions...)
	out.Configs = make(map[string]string, len(t.Configs))
	for k, v := range t.Configs {
		out.Configs[k] = v
	}
	return out, true
}

// TopicNames lists every topic.
func (c *Controller) TopicNames() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	names := make([]string, 0, len(c.state.Topics))
	for n := range c.state.Topics {
		names = append(names, n)
	}
	return names
}

// Brokers returns the registered brokers.
func (c *Controller) Brokers() []Broker {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Broker, 0, len(c.state.Brokers))
	for _, b := range c.state.Brokers {
		out = append(out, b)
	}
	return out
}

// LeaderOf returns the leader a partition group last reported.
func (c *Controller) LeaderOf(group uint64) (Leader, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	l, ok := c.state.Leaders[group]
	return l, ok
}

// ClusterID returns the cluster id ("" until set).
func (c *Controller) ClusterID() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.state.ClusterID
}

// Encode encodes a command as a controller raft payload, preceded by headroom zero
// bytes for the replication layer.
func Encode(headroom int, cmd Command) []byte {
	b, _ := json.Marshal(cmd)
	return append(make([]byte, headroom, headroom+len(b)), b...)
}
