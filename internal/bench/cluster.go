package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cluster runs a Chronik cluster of Nodes (0 = 3) `chronik-server raft-cluster`
// processes on loopback, each on free Kafka and raft ports and a fresh data directory,
// with node 1 bootstrapping. Start returns once every node's Metadata lists all the
// brokers; it returns every node's Kafka address. Topics created with replication
// factor -1 get min(3, Nodes) replicas. Stopping sends SIGTERM to every node at once,
// SIGKILL to those still running 10 s later, and removes the data directories.
type Cluster struct {
	Binary string
	Nodes  int
	// ExtraArgs are appended to every node's arguments (split on spaces).
	ExtraArgs string
	// DataDir is where the cluster's directory is made ("" = the system temp dir).
	DataDir string
	// ReadyTimeout bounds the wait for every node to list every broker (0 = 60 s).
	ReadyTimeout time.Duration
	// OnStart, if set, is called with the nodes' pids (node i+1 at index i) once the
	// cluster is ready.
	OnStart func(pids []int)
	metrics []string // the running nodes' /metrics addresses

	// Log, if set, receives what the nodes logged (they run at --log-level warn) when
	// they are stopped, and the exit status of a node that stopped by itself.
	Log io.Writer
}

func (t *Cluster) nodes() int {
	if t.Nodes < 1 {
		return 3
	}
	return t.Nodes
}

func (t *Cluster) Name() string { return fmt.Sprintf("chronik-%d", t.nodes()) }

// MetricsURLs implements metricsTarget.
func (t *Cluster) MetricsURLs() []string { return t.metrics }

// clusterNode is one running chronik-server of a Cluster.
type clusterNode struct {
	id        int
	kafkaAddr string
	logPath   string
	cmd       *exec.Cmd
	logf      *os.File
	exited    chan struct{}
	waitErr   error
}

func (n *clusterNode) hasExited() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// ClusterArgs returns node id's chronik-server arguments (ids from 1): kafkaPorts and
// raftPorts are indexed by id-1; httpPort -1 serves no metrics.
func ClusterArgs(id int, kafkaPorts, raftPorts []int, httpPort int, dataDir string) []string {
	var peers []string
	for j := range raftPorts {
		if j+1 != id {
			peers = append(peers, fmt.Sprintf("%d@127.0.0.1:%d", j+1, raftPorts[j]))
		}
	}
	args := []string{"raft-cluster", "--node-id", strconv.Itoa(id),
		"--raft-addr", "127.0.0.1:" + strconv.Itoa(raftPorts[id-1]),
		"--peers", strings.Join(peers, ","),
		"--kafka-port", strconv.Itoa(kafkaPorts[id-1]),
		"--data-dir", dataDir,
		"--bind", "127.0.0.1", "--advertised-host", "127.0.0.1",
		"--http-port", strconv.Itoa(httpPort), "--log-level", "warn"}
	if id == 1 {
		args = append(args, "--bootstrap")
	}
	return args
}

func (t *Cluster) Start(ctx context.Context) ([]string, func(), error) {
	if _, err := os.Stat(t.Binary); err != nil {
		return nil, nil, fmt.Errorf("chronik-server binary: %w", err)
	}
	// A free port can be taken by someone else between our probe and the server's
	// bind; start again on other ports when that happens.
	for attempt := 1; ; attempt++ {
		addrs, stop, portTaken, err := t.tryStart(ctx)
		if err == nil || !portTaken || attempt == 3 || ctx.Err() != nil {
			return addrs, stop, err
		}
	}
}

func (t *Cluster) tryStart(ctx context.Context) (addrs []string, stop func(), portTaken bool, err error) {
	root, err := os.MkdirTemp(t.DataDir, "chronik-bench-cluster-")
	if err != nil {
		return nil, nil, false, err
	}
	n := t.nodes()
	ports, err := FreePorts(3 * n)
	if err != nil {
		os.RemoveAll(root)
		return nil, nil, false, err
	}
	kafkaPorts, raftPorts, httpPorts := ports[:n], ports[n:2*n], ports[2*n:]
	t.metrics = nil
	nodes := make([]*clusterNode, 0, n)
	var stopOnce sync.Once
	stop = func() {
		stopOnce.Do(func() {
			t.stopNodes(nodes)
			os.RemoveAll(root)
		})
	}
	for id := 1; id <= n; id++ {
		node := &clusterNode{id: id, kafkaAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(kafkaPorts[id-1])),
			logPath: filepath.Join(root, fmt.Sprintf("node%d.log", id)), exited: make(chan struct{})}
		node.logf, err = os.Create(node.logPath)
		if err != nil {
			stop()
			return nil, nil, false, err
		}
		args := ClusterArgs(id, kafkaPorts, raftPorts, httpPorts[id-1], filepath.Join(root, fmt.Sprintf("node%d", id)))
		args = append(args, strings.Fields(t.ExtraArgs)...)
		node.cmd = exec.Command(t.Binary, args...)
		node.cmd.Stdout, node.cmd.Stderr = node.logf, node.logf
		node.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := node.cmd.Start(); err != nil {
			node.logf.Close()
			stop()
			return nil, nil, false, fmt.Errorf("start %s: %w", t.Binary, err)
		}
		go func() { node.waitErr = node.cmd.Wait(); close(node.exited) }()
		nodes = append(nodes, node)
	}
	timeout := t.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if err := waitCluster(ctx, nodes, timeout); err != nil {
		for _, node := range nodes {
			if node.hasExited() && strings.Contains(TailFile(node.logPath, 4000), "address already in use") {
				portTaken = true
			}
		}
		stop()
		return nil, nil, portTaken, fmt.Errorf("%s cluster of %d: %w", t.Binary, n, err)
	}
	pids := make([]int, n)
	for i, node := range nodes {
		addrs = append(addrs, node.kafkaAddr)
		pids[i] = node.cmd.Process.Pid
		t.metrics = append(t.metrics, metricsURL(httpPorts[i]))
	}
	if t.OnStart != nil {
		t.OnStart(pids)
	}
	return addrs, stop, false, nil
}

// FreePorts returns n distinct free loopback ports.
func FreePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10*n {
			return nil, errors.New("no distinct free ports")
		}
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// waitCluster waits until every node's Metadata lists every node as a broker and names
// a controller. A node that exits ends the wait at once, with its log.
func waitCluster(ctx context.Context, nodes []*clusterNode, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, node := range nodes {
		for {
			for _, o := range nodes {
				if o.hasExited() {
					return fmt.Errorf("node %d exited while the cluster started (%v); its log:\n%s", o.id, o.waitErr, TailFile(o.logPath, 2000))
				}
			}
			err := ProbeBrokers(ctx, node.kafkaAddr, len(nodes))
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("node %d at %s not ready: %w; its log:\n%s", node.id, node.kafkaAddr, errors.Join(ctx.Err(), err), TailFile(node.logPath, 2000))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// NodeMetadata sends a Metadata request for topics (nil = none, brokers only) to the
// broker at addr itself, not to whichever broker the client would pick, giving up after
// timeout.
func NodeMetadata(ctx context.Context, addr string, topics []string, timeout time.Duration) (*kmsg.MetadataResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.DialTimeout(min(timeout, time.Second)))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, tp := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(tp)
		req.Topics = append(req.Topics, rt)
	}
	// franz-go keeps seed brokers under ids from math.MinInt32.
	resp, err := cl.Broker(math.MinInt32).Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// ProbeBrokers checks that the broker at addr lists at least brokers brokers and names a
// controller.
func ProbeBrokers(ctx context.Context, addr string, brokers int) error {
	m, err := NodeMetadata(ctx, addr, nil, 2*time.Second)
	if err != nil {
		return err
	}
	if len(m.Brokers) < brokers {
		return fmt.Errorf("metadata lists %d brokers, want %d", len(m.Brokers), brokers)
	}
	if m.ControllerID < 0 {
		return errors.New("metadata names no controller yet")
	}
	return nil
}

// stopNodes sends SIGTERM to every node at once and SIGKILL to those still running
// after 10 s, then reports to t.Log what each node logged.
func (t *Cluster) stopNodes(nodes []*clusterNode) {
	var wg sync.WaitGroup
	already := make([]bool, len(nodes))
	killed := make([]bool, len(nodes))
	start := time.Now()
	for i, node := range nodes {
		already[i] = node.hasExited()
		if already[i] {
			continue
		}
		_ = node.cmd.Process.Signal(syscall.SIGTERM)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-node.exited:
			case <-time.After(10 * time.Second):
				killed[i] = true
				_ = node.cmd.Process.Kill()
				<-node.exited
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for i, node := range nodes {
		node.logf.Close()
		if t.Log == nil {
			continue
		}
		switch {
		case already[i]:
			fmt.Fprintf(t.Log, "node %d had exited by itself before the stop (%v)\n", node.id, node.waitErr)
		case killed[i]:
			fmt.Fprintf(t.Log, "node %d did not stop within 10 s of SIGTERM; killed\n", node.id)
		}
		if b, err := os.ReadFile(node.logPath); err == nil && len(bytes.TrimSpace(b)) > 0 {
			writeLogSummary(t.Log, node.id, b)
		}
	}
	if t.Log != nil {
		fmt.Fprintf(t.Log, "cluster stopped in %v\n", took.Round(time.Millisecond))
	}
}

// writeLogSummary writes how often a node logged each message (the msg= field of its
// slog lines, or the whole line), with the time of the first and last, and its last line.
func writeLogSummary(w io.Writer, id int, b []byte) {
	type count struct {
		n           int
		first, last string
	}
	var order []string
	counts := map[string]*count{}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for _, l := range lines {
		s := string(l)
		msg, ts := s, ""
		if _, rest, ok := strings.Cut(s, "msg="); ok {
			msg = rest
			if strings.HasPrefix(rest, `"`) {
				if q, err := strconv.QuotedPrefix(rest); err == nil {
					msg, _ = strconv.Unquote(q)
				}
			} else if m, _, ok := strings.Cut(rest, " "); ok {
				msg = m
			}
		}
		if _, rest, ok := strings.Cut(s, "time="); ok {
			ts, _, _ = strings.Cut(rest, " ")
		}
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		c := counts[msg]
		if c == nil {
			c = &count{first: ts}
			counts[msg] = c
			order = append(order, msg)
		}
		c.n++
		c.last = ts
	}
	fmt.Fprintf(w, "node %d logged %d line(s) at warn level or above:\n", id, len(lines))
	for _, msg := range order {
		c := counts[msg]
		fmt.Fprintf(w, "    %d× %q (%s – %s)\n", c.n, msg, c.first, c.last)
	}
	last := lines[len(lines)-1]
	if len(last) > 400 {
		last = append(last[:400:400], "…"...)
	}
	fmt.Fprintf(w, "    last: %s\n", last)
}
