package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serverBinary is a built chronik-server: $CHRONIK_SERVER_BINARY, else the repository's
// bin/chronik-server (make build). The test is skipped without one rather than
// building it, to keep the unit tests quick.
func serverBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("CHRONIK_SERVER_BINARY")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "chronik-server")
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		t.Skipf("no chronik-server binary at %s (make build, or set CHRONIK_SERVER_BINARY)", bin)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestClusterTarget runs the harness's tiny workloads against a 3-node cluster: the
// nodes come up, every node lists three brokers, a topic gets replication factor 3,
// and stopping removes everything.
func TestClusterTarget(t *testing.T) {
	bin := serverBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var log bytes.Buffer
	var pids []int
	c := &Cluster{Binary: bin, DataDir: dir, Log: &log, OnStart: func(p []int) { pids = p }}
	if c.Name() != "chronik-3" {
		t.Fatalf("name %q", c.Name())
	}
	start := time.Now()
	addrs, stop, err := c.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster up in %v", time.Since(start).Round(time.Millisecond))
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	if len(addrs) != 3 || len(pids) != 3 {
		t.Fatalf("addresses %v, pids %v", addrs, pids)
	}
	for _, a := range addrs {
		if err := ProbeBrokers(ctx, a, 3); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	for _, pid := range pids {
		if _, err := ProcessCPU(pid); err != nil {
			t.Fatal(err)
		}
	}

	cfg := tiny()
	cfg.Sizes = []int{100}
	cfg.Records = 500
	cfg.LatencyDuration = 200 * time.Millisecond
	topic := "rf3"
	if err := createTopic(ctx, cfg, addrs, topic); err != nil {
		t.Fatal(err)
	}
	m, err := NodeMetadata(ctx, addrs[1], []string{topic}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Topics) != 1 || len(m.Topics[0].Partitions) != int(cfg.Partitions) {
		t.Fatalf("metadata %+v", m.Topics)
	}
	for _, p := range m.Topics[0].Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("partition %d: replicas %v, want 3", p.Partition, p.Replicas)
		}
	}
	pr, _, err := runProduce(ctx, cfg, addrs, topic, 100)
	if err != nil || pr.Errors != 0 || pr.Records != int64(cfg.Records) {
		t.Fatalf("produce: %+v %v", pr, err)
	}

	start = time.Now()
	stop()
	stopped = true
	t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
	for _, pid := range pids { // reaped: gone, or the pid reused by something else
		if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil && strings.Contains(string(b), "(chronik-server)") {
			t.Errorf("pid %d still there: %s", pid, b)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
	if strings.Contains(log.String(), "killed") || strings.Contains(log.String(), "by itself") {
		t.Errorf("stop:\n%s", log.String())
	}
	if testing.Verbose() {
		t.Log(log.String())
	}
}
