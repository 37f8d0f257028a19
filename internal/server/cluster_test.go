package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/kafka"
	"github.com/chronik-stream/chronik/internal/record"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

type testCluster struct {
	cfgs  []Config
	nodes []*Node
}

func clusterConfigs(t *testing.T, size int) []Config {
	ports := freePorts(t, 2*size)
	raft, kafka := ports[:size], ports[size:]
	var cfgs []Config
	for i := 0; i < size; i++ {
		cfg := testConfig(t.TempDir())
		cfg.NodeID = uint64(i + 1)
		cfg.KafkaPort = kafka[i]
		cfg.RaftAddr = "127.0.0.1:" + strconv.Itoa(raft[i])
		cfg.Bootstrap = i == 0
		cfg.Peers = map[uint64]string{}
		for j := 0; j < size; j++ {
			if j != i {
				cfg.Peers[uint64(j+1)] = "127.0.0.1:" + strconv.Itoa(raft[j])
			}
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs
}

// startCluster starts every node concurrently (a node waits for a quorum to start).
func startCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	c := &testCluster{cfgs: clusterConfigs(t, size), nodes: make([]*Node, size)}
	var wg sync.WaitGroup
	errs := make([]error, size)
	for i := range c.cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c.nodes[i], errs[i] = Start(ctx, c.cfgs[i], nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n != nil {
				n.Stop()
			}
		}
	})
	return c
}

func (c *testCluster) seeds() []string {
	var s []string
	for _, n := range c.nodes {
		if n != nil {
			s = append(s, n.KafkaAddr())
		}
	}
	return s
}

func TestClusterProduceConsumeAndFailover(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Every node must list all three brokers (uncached metadata from each node).
	for _, n := range c.nodes {
		waitFor(t, "3 brokers", func() bool { return len(brokersSeenBy(t, n)) == 3 })
	}
	if _, err := adm.CreateTopic(ctx, 3, 3, nil, "replicated"); err != nil {
		t.Fatal(err)
	}
	p, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.DefaultProduceTopic("replicated"),
		kgo.RecordRetries(100), kgo.RequestTimeoutOverhead(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	acked := map[string]bool{}
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			v := fmt.Sprintf("m%d", i)
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			acked[v] = true
		}
	}
	produce(0, 200)

	// Stop the leader of partition 0; the others keep serving.
	md, err := adm.Metadata(ctx, "replicated")
	if err != nil {
		t.Fatal(err)
	}
	leader := md.Topics["replicated"].Partitions[0].Leader
	c.nodes[leader-1].Stop()
	c.nodes[leader-1] = nil
	produce(200, 400)

	got := map[string]bool{}
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.ConsumeTopics("replicated"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for len(got) < len(acked) && cctx.Err() == nil {
		cons.PollFetches(cctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	for v := range acked {
		if !got[v] {
			t.Fatalf("acknowledged %s missing", v)
		}
	}

	// The stopped node restarts and catches up.
	n, err := Start(ctx, c.cfgs[leader-1], nil)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[leader-1] = n
	produce(400, 450)
}

// brokersSeenBy asks one node directly for its broker list.
func brokersSeenBy(t *testing.T, n *Node) []kmsg.MetadataResponseBroker {
	one, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), one)
	if err != nil {
		return nil
	}
	return resp.Brokers
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A node that was down while the others compacted their raft logs past what it has is
// caught up by a snapshot: it copies the partition data from the leader and then follows.
func TestClusterCatchUpBySnapshot(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	adm := kadm.NewClient(newClient(t, c.seeds()))
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "catchup"); err != nil {
		t.Fatal(err)
	}
	p := newClient(t, c.seeds(), kgo.DefaultProduceTopic("catchup"), kgo.RecordRetries(100))
	produceN := func(from, to int) {
		for i := from; i < to; i++ {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("r%d", i))}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	produceN(0, 50)
	// Stop a follower of the partition, then write well past the entries a leader keeps.
	md, err := adm.Metadata(ctx, "catchup")
	if err != nil {
		t.Fatal(err)
	}
	leader := md.Topics["catchup"].Partitions[0].Leader
	down := int32(1)
	if leader == 1 {
		down = 2
	}
	c.nodes[down-1].Stop()
	c.nodes[down-1] = nil
	produceN(50, 800)
	for _, n := range c.nodes {
		if n != nil {
			n.host.CheckpointAll()
		}
	}
	// Wait until the leader compacted past the stopped node's log.
	waitFor(t, "compaction", func() bool {
		for _, n := range c.nodes {
			if n != nil {
				n.host.CheckpointAll()
			}
		}
		ln := c.nodes[leader-1]
		for _, g := range ln.host.Groups() {
			st, err := ln.host.Status(g)
			if err == nil && g != 0 && st.Applied >= 700 {
				return true
			}
		}
		return false
	})
	n, err := Start(ctx, c.cfgs[down-1], nil)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[down-1] = n
	// The restarted node holds every record in its own log, at the same offsets.
	waitFor(t, "catch-up", func() bool {
		res, err := n.broker.Fetch(kafka.FetchPartition{Topic: "catchup", Offset: 0, MaxBytes: 1})
		return err == nil && res.HighWatermark >= 800
	})
	got := 0
	for off := int64(0); off < 800; {
		res, err := n.broker.Fetch(kafka.FetchPartition{Topic: "catchup", Offset: off, MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range record.SplitPartial(res.Records) {
			_ = record.ForEachRecord(b.Bytes, func(r record.Record) bool {
				if r.Offset >= off {
					if string(r.Value) != fmt.Sprintf("r%d", r.Offset) {
						t.Fatalf("offset %d holds %q", r.Offset, r.Value)
					}
					got++
					off = r.Offset + 1
				}
				return true
			})
		}
	}
	if got != 800 {
		t.Fatalf("restarted node holds %d of 800 records", got)
	}
}

func newClient(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// KIP-392: a leader points a client in another rack at the in-sync replica in the
// client's rack, and a rack-aware consumer reads everything through followers.
func TestClusterPreferredReadReplica(t *testing.T) {
	c := &testCluster{cfgs: clusterConfigs(t, 3), nodes: make([]*Node, 3)}
	for i := range c.cfgs {
		c.cfgs[i].Rack = fmt.Sprintf("r%d", i+1)
	}
	var wg sync.WaitGroup
	for i := range c.cfgs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			n, err := Start(ctx, c.cfgs[i], nil)
			if err != nil {
				t.Error(err)
				return
			}
			c.nodes[i] = n
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n != nil {
				n.Stop()
			}
		}
	})
	if t.Failed() {
		return
	}
	ctx := context.Background()
	adm := kadm.NewClient(newClient(t, c.seeds()))
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "racked"); err != nil {
		t.Fatal(err)
	}
	p := newClient(t, c.seeds(), kgo.DefaultProduceTopic("racked"), kgo.RecordRetries(100))
	for i := 0; i < 100; i++ {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	md, err := adm.Metadata(ctx, "racked")
	if err != nil {
		t.Fatal(err)
	}
	leader := md.Topics["racked"].Partitions[0].Leader
	other := leader%3 + 1
	otherRack := fmt.Sprintf("r%d", other)
	waitFor(t, "a preferred replica", func() bool {
		res, err := c.nodes[leader-1].broker.Fetch(kafka.FetchPartition{Topic: "racked", Offset: 0, MaxBytes: 1 << 20, ReplicaRack: otherRack})
		return err == nil && res.PreferredReadReplica == other
	})
	cons := newClient(t, c.seeds(), kgo.Rack(otherRack), kgo.ConsumeTopics("racked"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for got < 100 && cctx.Err() == nil {
		got += len(cons.PollFetches(cctx).Records())
	}
	if got != 100 {
		t.Fatalf("rack-aware consumer read %d of 100", got)
	}
}
