package cluster

import (
	"context"
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

	// view is an immutable copy of state; readers use it without locks and must not
	// modify what it holds. byID indexes its topics by id. A change only marks the view
	// stale; the next reader makes the copy (see current), so that a burst of changes
	// (the leader reports of a thousand new partitions) costs one copy, not one each.
	view  atomic.Pointer[State]
	byID  atomic.Pointer[map[[16]byte]string]
	stale atomic.Bool

	viewMu   sync.Mutex // one refresh at a time among readers
	cpMu     sync.Mutex
	durable  atomic.Uint64
	onChange func()
}

// publish marks the readers' view stale. Call with mu held.
func (c *Controller) publish() { c.stale.Store(true) }

// current returns the readers' view, refreshing it first when the state changed.
func (c *Controller) current() *State {
	if !c.stale.Load() {
		return c.view.Load()
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	if c.stale.Load() {
		c.refresh()
	}
	return c.view.Load()
}

// refresh replaces the readers' view with a copy of the state. Call with mu held (read
// or write) and, for readers, viewMu.
func (c *Controller) refresh() {
	v := c.state.clone()
	ids := make(map[[16]byte]string, len(v.Topics))
	for name, t := range v.Topics {
		ids[t.ID] = name
	}
	c.byID.Store(&ids)
	c.view.Store(&v)
	// Only now: a reader that finds the view fresh must get the new copy, not the old
	// one while this copy is being made. (No writer runs meanwhile: mu is held.)
	c.stale.Store(false)
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
	c.refresh()
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
			c.publish()
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
	c.cpMu.Lock() // one checkpoint at a time: they share the temporary file
	defer c.cpMu.Unlock()
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
func (c *Controller) Restore(_ context.Context, index uint64, data []byte) error {
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
	c.publish()
	c.mu.Unlock()
	c.durable.Store(index)
	if c.onChange != nil {
		c.onChange()
	}
	return nil
}

// Snapshot returns the current state. It is shared: callers must not modify it.
func (c *Controller) Snapshot() State { return *c.current() }

// Version changes whenever the state does.
func (c *Controller) Version() uint64 { return c.version.Load() }

// Topic returns one topic. Its slices and maps are shared: callers must not modify them.
func (c *Controller) Topic(name string) (Topic, bool) {
	t, ok := c.current().Topics[name]
	if !ok {
		return Topic{}, false
	}
	return *t, true
}

// TopicByID returns the name of the topic with the given id.
func (c *Controller) TopicByID(id [16]byte) (string, bool) {
	c.current()
	name, ok := (*c.byID.Load())[id]
	return name, ok
}

// TopicNames lists every topic.
func (c *Controller) TopicNames() []string {
	v := c.current()
	names := make([]string, 0, len(v.Topics))
	for n := range v.Topics {
		names = append(names, n)
	}
	return names
}

// Brokers returns the registered brokers.
func (c *Controller) Brokers() []Broker {
	v := c.current()
	out := make([]Broker, 0, len(v.Brokers))
	for _, b := range v.Brokers {
		out = append(out, b)
	}
	return out
}

// LeaderOf returns the leader a partition group last reported.
func (c *Controller) LeaderOf(group uint64) (Leader, bool) {
	l, ok := c.current().Leaders[group]
	return l, ok
}

// ClusterID returns the cluster id ("" until set).
func (c *Controller) ClusterID() string { return c.current().ClusterID }

// Encode encodes a command as a controller raft payload, preceded by headroom zero
// bytes for the replication layer.
func Encode(headroom int, cmd Command) []byte {
	b, _ := json.Marshal(cmd)
	return append(make([]byte, headroom, headroom+len(b)), b...)
}
