package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chronik-stream/chronik/internal/bench"
)

// NodeState is what the nemesis has done to a node.
type NodeState int

const (
	Up     NodeState = iota // running and not frozen
	Down                    // killed or stopped, not running
	Paused                  // frozen with SIGSTOP
)

func (s NodeState) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	case Paused:
		return "paused"
	}
	return "?"
}

// Node is one chronik-server process of a Cluster. Signals go to its pid only.
type Node struct {
	ID      int
	Addr    string // Kafka address
	args    []string
	binary  string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	state   NodeState
	starts  int
}

// Cluster is a 3-node (or Nodes-node) `chronik-server raft-cluster` on loopback whose
// nodes can be killed, frozen, resumed and restarted one by one, by pid. It uses the
// same arguments as the bench's chronik-3 target (bench.ClusterArgs).
type Cluster struct {
	Binary string
	Nodes  int
	// DataDir is where the cluster's directory is made ("" = the system temp dir).
	DataDir string
	// Keep leaves the data directories and logs in place after Close.
	Keep bool

	root  string
	nodes []*Node
}

// Start launches every node and waits (bounded by timeout) until each lists every
// broker and a controller. A free port taken in the meantime makes it try again on
// other ports (3 attempts).
func (c *Cluster) Start(ctx context.Context, timeout time.Duration) error {
	if _, err := os.Stat(c.Binary); err != nil {
		return fmt.Errorf("chronik-server binary: %w", err)
	}
	if c.Nodes < 1 {
		c.Nodes = 3
	}
	for attempt := 1; ; attempt++ {
		err := c.tryStart(ctx, timeout)
		if err == nil {
			return nil
		}
		portTaken := false
		for _, n := range c.nodes {
			if b, _ := os.ReadFile(n.logPath); strings.Contains(string(b), "address already in use") {
				portTaken = true
			}
		}
		c.Close()
		if !portTaken || attempt == 3 || ctx.Err() != nil {
			return err
		}
	}
}

func (c *Cluster) tryStart(ctx context.Context, timeout time.Duration) error {
	root, err := os.MkdirTemp(c.DataDir, "chronik-verify-")
	if err != nil {
		return err
	}
	c.root = root
	c.nodes = nil
	n := c.Nodes
	ports, err := bench.FreePorts(2 * n)
	if err != nil {
		return err
	}
	kafkaPorts, raftPorts := ports[:n], ports[n:]
	for id := 1; id <= n; id++ {
		node := &Node{ID: id, binary: c.Binary,
			Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(kafkaPorts[id-1])),
			args:    bench.ClusterArgs(id, kafkaPorts, raftPorts, -1, filepath.Join(root, fmt.Sprintf("node%d", id))),
			logPath: filepath.Join(root, fmt.Sprintf("node%d.log", id))}
		c.nodes = append(c.nodes, node)
		if err := node.Start(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, node := range c.nodes {
		if err := c.WaitReady(ctx, node.ID); err != nil {
			return err
		}
	}
	return nil
}

// Node returns node id (from 1).
func (c *Cluster) Node(id int) *Node { return c.nodes[id-1] }

// All returns every node.
func (c *Cluster) All() []*Node { return c.nodes }

// Addrs returns every node's Kafka address.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.Addr)
	}
	return out
}

// Root is the cluster's directory (data and logs).
func (c *Cluster) Root() string { return c.root }

// WaitReady polls node id until it lists every broker and a controller, or ctx ends,
// or the process exits.
func (c *Cluster) WaitReady(ctx context.Context, id int) error {
	n := c.Node(id)
	for {
		if n.hasExited() {
			return fmt.Errorf("node %d exited (%v); its log:\n%s", id, n.exitErr(), bench.TailFile(n.logPath, 2000))
		}
		err := bench.ProbeBrokers(ctx, n.Addr, len(c.nodes))
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d at %s not ready: %w; its log:\n%s", id, n.Addr, errors.Join(ctx.Err(), err), bench.TailFile(n.logPath, 2000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close resumes frozen nodes, sends SIGTERM to every running node, SIGKILL to those
// still running 10 s later, and removes the cluster's directory unless Keep.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.Terminate(10 * time.Second) }()
	}
	wg.Wait()
	if c.root != "" && !c.Keep {
		os.RemoveAll(c.root)
	}
}

// Start launches the node's process (appending to its log).
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && !n.hasExitedLocked() {
		return fmt.Errorf("node %d already running", n.ID)
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== %s start %d\n", time.Now().Format(time.RFC3339Nano), n.starts+1)
	cmd := exec.Command(n.binary, n.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start node %d: %w", n.ID, err)
	}
	n.starts++
	exited := make(chan struct{})
	n.cmd, n.exited, n.waitErr, n.state = cmd, exited, nil, Up
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.waitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	return nil
}

// PID is the running process's id (0 if never started).
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// State is what was last done to the node.
func (n *Node) State() NodeState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

func (n *Node) hasExited() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hasExitedLocked()
}

func (n *Node) hasExitedLocked() bool {
	if n.exited == nil {
		return true
	}
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

func (n *Node) exitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.waitErr
}

func (n *Node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.hasExitedLocked() {
		return fmt.Errorf("node %d is not running", n.ID)
	}
	return n.cmd.Process.Signal(sig)
}

func (n *Node) setState(s NodeState) {
	n.mu.Lock()
	n.state = s
	n.mu.Unlock()
}

func (n *Node) waitExit(timeout time.Duration) bool {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return true
	}
	select {
	case <-exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (n *Node) Kill() error {
	if err := n.signal(syscall.SIGKILL); err != nil {
		return err
	}
	n.waitExit(time.Hour)
	n.setState(Down)
	return nil
}

// Pause freezes the process with SIGSTOP.
func (n *Node) Pause() error {
	if err := n.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	n.setState(Paused)
	return nil
}

// Resume sends SIGCONT.
func (n *Node) Resume() error {
	if err := n.signal(syscall.SIGCONT); err != nil {
		return err
	}
	n.setState(Up)
	return nil
}

// Terminate sends SIGCONT (in case it is frozen) and SIGTERM and waits for the exit,
// sending SIGKILL after grace. It reports whether the node exited within grace.
func (n *Node) Terminate(grace time.Duration) bool {
	if n.hasExited() {
		n.setState(Down)
		return true
	}
	_ = n.signal(syscall.SIGCONT)
	_ = n.signal(syscall.SIGTERM)
	clean := n.waitExit(grace)
	if !clean {
		_ = n.signal(syscall.SIGKILL)
		n.waitExit(time.Hour)
	}
	n.setState(Down)
	return clean
}

// LogTail is the last n bytes of the node's log.
func (n *Node) LogTail(max int64) string { return bench.TailFile(n.logPath, max) }

// PartitionView is how one node sees a partition.
type PartitionView struct {
	Leader int32
	Epoch  int32
	ISR    []int32
}

// Views asks every Up node directly how it sees each partition of topic:
// node id -> partition -> view.
func (c *Cluster) Views(ctx context.Context, topic string) map[int]map[int32]PartitionView {
	return c.ViewsExcept(ctx, topic, 0)
}

// ViewsExcept is Views without node skip.
func (c *Cluster) ViewsExcept(ctx context.Context, topic string, skip int) map[int]map[int32]PartitionView {
	out := map[int]map[int32]PartitionView{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n.State() != Up || n.ID == skip {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := bench.NodeMetadata(ctx, n.Addr, []string{topic}, time.Second)
			if err != nil {
				return
			}
			ps := map[int32]PartitionView{}
			for _, t := range m.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode == 0 {
						ps[p.Partition] = PartitionView{Leader: p.Leader, Epoch: p.LeaderEpoch, ISR: p.ISR}
					}
				}
			}
			mu.Lock()
			out[n.ID] = ps
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Leaders returns, per partition, the Up node that reports itself as its leader
// (partitions with none are absent).
func (c *Cluster) Leaders(ctx context.Context, topic string) map[int32]int {
	return leadersOf(c.Views(ctx, topic))
}

func leadersOf(views map[int]map[int32]PartitionView) map[int32]int {
	out := map[int32]int{}
	for id, ps := range views {
		for p, v := range ps {
			if int(v.Leader) == id {
				if prev, ok := out[p]; !ok || views[prev][p].Epoch < v.Epoch {
					out[p] = id
				}
			}
		}
	}
	return out
}

// WaitInSync polls until every partition of topic has a self-reported leader whose ISR
// holds every node, or ctx ends.
func (c *Cluster) WaitInSync(ctx context.Context, topic string, partitions int32) error {
	for {
		views := c.Views(ctx, topic)
		leaders := leadersOf(views)
		ok := true
		var why string
		for p := int32(0); p < partitions; p++ {
			l, has := leaders[p]
			if !has {
				ok, why = false, fmt.Sprintf("partition %d has no leader", p)
				break
			}
			if isr := views[l][p].ISR; len(isr) < len(c.nodes) {
				ok, why = false, fmt.Sprintf("partition %d (leader %d) ISR %v", p, l, isr)
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not in sync: %s: %w", why, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
