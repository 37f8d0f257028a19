//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The seed's two end-to-end scenarios (/work/shared/acceptance in the development
// setup; the scripts are copied to testdata/ because CI clones only this repository),
// against three `raft-cluster` nodes started with the seed's own command shape:
//
//	chronik-server raft-cluster --node-id N --raft-addr HOST:RAFTPORT \
//	    --peers "J@localhost:RAFTPORT_J,K@localhost:RAFTPORT_K" --kafka-port PORT \
//	    --data-dir DIR/nodeN [--bootstrap on node 1]
//
// with free loopback ports instead of 9092-9094/5001-5003, and --http-port 0 (the seed
// leaves it at the default 9644, which three nodes on one host cannot all bind).

type cluster struct {
	nodes map[int]*server
}

func startSeedCluster(t *testing.T) *cluster {
	t.Helper()
	for attempt := 1; ; attempt++ {
		c, err := tryStartSeedCluster(t)
		if err == nil {
			return c
		}
		taken := false
		for _, n := range c.nodes {
			taken = taken || (n.exited() && n.portTaken())
			n.kill()
		}
		if attempt < 3 && taken {
			t.Logf("a port was taken by someone else; retrying with other ports")
			continue
		}
		t.Fatal(err)
	}
}

func tryStartSeedCluster(t *testing.T) (*cluster, error) {
	t.Helper()
	root := t.TempDir()
	kafkaPort, raftPort := map[int]int{}, map[int]int{}
	for id := 1; id <= 3; id++ {
		kafkaPort[id], raftPort[id] = freePort(t), freePort(t)
	}
	c := &cluster{nodes: map[int]*server{}}
	for id := 1; id <= 3; id++ {
		var peers []string
		for j := 1; j <= 3; j++ {
			if j != id {
				peers = append(peers, fmt.Sprintf("%d@localhost:%d", j, raftPort[j]))
			}
		}
		dir := filepath.Join(root, "data", fmt.Sprintf("node%d", id))
		args := []string{"raft-cluster", "--node-id", strconv.Itoa(id),
			"--raft-addr", "127.0.0.1:" + strconv.Itoa(raftPort[id]),
			"--peers", strings.Join(peers, ","),
			"--kafka-port", strconv.Itoa(kafkaPort[id]),
			"--data-dir", dir, "--http-port", "0"}
		if id == 1 {
			args = append(args, "--bootstrap")
		}
		c.nodes[id] = newServer(t, fmt.Sprintf("node%d", id), args, kafkaPort[id], dir)
	}
	for id := 1; id <= 3; id++ {
		c.nodes[id].start()
	}
	// Like the seed script: every node's metadata lists all three brokers. A node that
	// exits ends the wait at once.
	deadline := time.Now().Add(60 * time.Second)
	for id := 1; id <= 3; {
		for _, n := range c.nodes {
			if n.exited() {
				return c, fmt.Errorf("%s exited while the cluster started (%v); log:\n%s", n.name, n.err, n.logTail(30))
			}
		}
		err := probe(c.nodes[id].addr(), 3)
		if err == nil {
			id++
			continue
		}
		if time.Now().After(deadline) {
			return c, fmt.Errorf("node%d not ready after 60s: %v; log:\n%s", id, err, c.nodes[id].logTail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c, nil
}

func (c *cluster) env() []string {
	var pids, addrs, servers []string
	for id := 1; id <= 3; id++ {
		n := c.nodes[id]
		pids = append(pids, fmt.Sprintf("%d:%d", id, n.pid()))
		addrs = append(addrs, fmt.Sprintf("%d=%s", id, n.addr()))
		servers = append(servers, n.addr())
	}
	return []string{"NODE_PIDS=" + strings.Join(pids, ","), "NODE_ADDRS=" + strings.Join(addrs, ","),
		"BOOTSTRAP_SERVERS=" + strings.Join(servers, ","), "CONSUME_SERVER=" + c.nodes[2].addr()}
}

// TestClusterSeedScenarios: measured on 2 cores ~31 s (cluster up ~1.2 s; scenario 1
// ~11 s, 10 of them the script's consumer_timeout_ms; scenario 2 ~19 s: 5 s of sends,
// failover ~3 s, 10 s consumer timeout; the killed node rejoins in ~0.3-1.3 s).
func TestClusterSeedScenarios(t *testing.T) {
	needPython(t, "python3-kafka", "kafka")
	start := time.Now()
	c := startSeedCluster(t)
	t.Logf("cluster up in %v", time.Since(start).Round(time.Millisecond))

	t.Run("produce_consume", func(t *testing.T) {
		out, errOut, err := runCmdErr(120*time.Second, nil, c.env(), python, "testdata/seed_produce_consume.py")
		if err != nil {
			t.Fatalf("seed_produce_consume.py: %v\nstdout:\n%s\nstderr:\n%s", err, tail(out, 3000), tail(errOut, 3000))
		}
		t.Logf("%s", lastLine(out))
	})

	t.Run("failover", func(t *testing.T) {
		out, errOut, err := runCmdErr(180*time.Second, nil, c.env(), python, "testdata/seed_failover.py")
		m := regexp.MustCompile(`(?m)^killed node (\d)`).FindSubmatch(out)
		var killed *server
		if m != nil {
			id, _ := strconv.Atoi(string(m[1]))
			killed = c.nodes[id]
			// The script SIGKILLed it; reap it here.
			deadline := time.Now().Add(10 * time.Second)
			for !killed.exited() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if err != nil {
			t.Fatalf("seed_failover.py: %v\nstdout:\n%s\nstderr:\n%s", err, tail(out, 3000), tail(errOut, 3000))
		}
		if killed == nil {
			t.Fatalf("seed_failover.py did not say which node it killed:\n%s", out)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.HasPrefix(l, "killed") || strings.HasPrefix(l, "all 50") || strings.HasPrefix(l, "read ") {
				t.Log(l)
			}
		}

		// The killed node restarts on its data dir and rejoins: it and the others list
		// three brokers again.
		restart := time.Now()
		killed.start()
		killed.waitReady(3, 60*time.Second)
		for _, n := range c.nodes {
			n.waitReady(3, 30*time.Second)
		}
		t.Logf("%s restarted and rejoined in %v", killed.name, time.Since(restart).Round(time.Millisecond))

		// All 50 messages are readable through the restarted node.
		tm := regexp.MustCompile(`(?m)^topic (\S+)`).FindSubmatch(out)
		if tm == nil || !hasKcat() {
			return
		}
		topic := string(tm[1])
		deadline := time.Now().Add(30 * time.Second)
		for {
			o, _, err := runCmdErr(30*time.Second, nil, nil, "kcat", "-C", "-b", killed.addr(), "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q")
			distinct := map[string]bool{}
			for _, l := range strings.Split(strings.TrimSpace(string(o)), "\n") {
				if l != "" {
					distinct[l] = true
				}
			}
			if err == nil && len(distinct) == 50 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("through the restarted %s: %d distinct messages (%v)", killed.name, len(distinct), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
