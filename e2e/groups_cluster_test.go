//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// grpConsumer is a franz-go group member in the test process: it polls with rebalances
// blocked, records what it got and commits it synchronously before allowing a rebalance
// (so a record is consumed twice only after a failed commit).
type grpConsumer struct {
	cl   *kgo.Client
	done chan struct{}
	stop context.CancelFunc

	mu          sync.Mutex
	seen        map[string]int
	dups        int
	commitErrs  []string
	fetchErrs   []string
	n           atomic.Int64
	commits     atomic.Int64 // successful commits
	generations []int32
}

func startGrpConsumer(t *testing.T, addrs []string, group, topic string) *grpConsumer {
	t.Helper()
	g := &grpConsumer{seen: map[string]int{}, done: make(chan struct{})}
	g.cl = client(t, addrs, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ClientID("e2e-group"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.HeartbeatInterval(300*time.Millisecond), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, _ map[string][]int32) {
			_, gen := cl.GroupMetadata()
			g.mu.Lock()
			g.generations = append(g.generations, gen)
			g.mu.Unlock()
		}))
	ctx, cancel := context.WithCancel(context.Background())
	g.stop = cancel
	go func() {
		defer close(g.done)
		for ctx.Err() == nil {
			pctx, pc := context.WithTimeout(ctx, 300*time.Millisecond)
			fs := g.cl.PollRecords(pctx, 1000)
			pc()
			recs := fs.Records()
			g.mu.Lock()
			fs.EachError(func(tp string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
					g.fetchErrs = append(g.fetchErrs, fmt.Sprintf("%s/%d: %v", tp, p, err))
				}
			})
			for _, r := range recs {
				v := string(r.Value)
				g.seen[v]++
				if g.seen[v] == 2 {
					g.dups++
				}
			}
			g.mu.Unlock()
			g.n.Add(int64(len(recs)))
			if len(recs) > 0 {
				cctx, cc := context.WithTimeout(context.Background(), 30*time.Second)
				err := g.cl.CommitRecords(cctx, recs...)
				cc()
				if err != nil {
					g.mu.Lock()
					g.commitErrs = append(g.commitErrs, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
					g.mu.Unlock()
				} else {
					g.commits.Add(1)
				}
			}
			g.cl.AllowRebalance()
		}
	}()
	t.Cleanup(func() { cancel(); <-g.done })
	return g
}

func (g *grpConsumer) missing(prefix string, from, to int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return grpMissing(g.seen, prefix, from, to)
}

func (g *grpConsumer) state() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return fmt.Sprintf("%d records consumed (%d distinct, %d duplicates), %d commits, generations %v, commit errors %v, fetch errors %v",
		g.n.Load(), len(g.seen), g.dups, g.commits.Load(), g.generations, g.commitErrs, firstN(g.fetchErrs, 5))
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }

// offsetWatch samples a group's committed offsets every 50ms and keeps every sample.
type offsetWatch struct {
	mu      sync.Mutex
	samples []map[int32]int64
	errs    int
	stopCh  chan struct{}
	done    chan struct{}
}

func watchOffsets(t *testing.T, addrs []string, group, topic string) *offsetWatch {
	w := &offsetWatch{stopCh: make(chan struct{}), done: make(chan struct{})}
	// franz-go forgets a cached coordinator only on coordinator error codes, not when it
	// cannot dial it: after a failed sample the next one uses a new client.
	newAdm := func() *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RequestRetries(2), kgo.MetadataMinAge(100*time.Millisecond),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
		if err != nil {
			panic(err)
		}
		return kadm.NewClient(cl)
	}
	adm := newAdm()
	go func() {
		defer close(w.done)
		defer func() { adm.Close() }()
		for {
			select {
			case <-w.stopCh:
				return
			case <-time.After(50 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			offs, err := adm.FetchOffsets(ctx, group)
			cancel()
			if err == nil {
				err = offs.Error()
			}
			w.mu.Lock()
			if err != nil {
				w.errs++
				adm.Close()
				adm = newAdm()
			} else {
				s := map[int32]int64{}
				offs.Each(func(o kadm.OffsetResponse) {
					if o.Topic == topic {
						s[o.Partition] = o.At
					}
				})
				w.samples = append(w.samples, s)
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *offsetWatch) close() {
	select {
	case <-w.stopCh:
	default:
		close(w.stopCh)
	}
	<-w.done
}

// backwards returns the first decrease of a partition's committed offset between
// consecutive samples (a partition missing from a sample after it had an offset counts).
func (w *offsetWatch) backwards() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	last := map[int32]int64{}
	for i, s := range w.samples {
		for p, prev := range last {
			if cur, ok := s[p]; !ok || cur < prev {
				return fmt.Sprintf("sample %d: partition %d went from %d to %v (present %v)", i, p, prev, cur, ok)
			}
		}
		for p, v := range s {
			last[p] = v
		}
	}
	return ""
}

func fmtOffsets(m map[int32]int64) string {
	var ps []int
	for p := range m {
		ps = append(ps, int(p))
	}
	sort.Ints(ps)
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d:%d", p, m[int32(p)]))
	}
	return "{" + strings.Join(out, " ") + "}"
}

// TestClusterGroupCoordinatorCrash: three raft-cluster processes, a 3-partition topic
// replicated 3 ways, one franz-go group member consuming it and committing after every
// poll. While records are being produced and consumed, the node coordinating the group
// (kadm FindGroupCoordinators) is SIGKILLed: the coordinator moves to the new leader of
// the group's __consumer_offsets partition and consumption carries on through the other
// two nodes. Every produced record is consumed, the committed offsets (sampled every 50ms
// throughout, and before and after the kill) never go backwards and end at the log end.
// The killed node restarts and rejoins, and the group keeps consuming.
func TestClusterGroupCoordinatorCrash(t *testing.T) {
	start := time.Now()
	c := startSeedCluster(t)
	var addrs []string
	for id := 1; id <= 3; id++ {
		addrs = append(addrs, c.nodes[id].addr())
	}
	const topic, group, parts = "grp-crash", "grp-crash-g", 3
	adm := kadm.NewClient(client(t, addrs, kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond })))
	if _, err := adm.CreateTopic(context.Background(), parts, 3, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	prodOpts := []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond })}
	grpProduce(t, addrs, topic, "x", parts, 0, 3000, prodOpts...)
	t.Logf("cluster up and 3000 records produced in %v", time.Since(start).Round(time.Millisecond))

	watch := watchOffsets(t, addrs, group, topic)
	cons := startGrpConsumer(t, addrs, group, topic)
	waitCond := func(timeout time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, cons.state())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t0 := time.Now()
	waitCond(30*time.Second, "the first 3000 records", func() bool { return cons.missing("x", 0, 3000) == 0 })
	grpWaitCommittedAtEnd(t, adm, group, topic, parts, 10*time.Second)
	t.Logf("group consumer read and committed the first 3000 in %v", time.Since(t0).Round(time.Millisecond))

	// Produce 6000 more in batches of 300 while consuming; kill the coordinator once
	// 1500 of them were consumed.
	var produced atomic.Int64
	prodDone := make(chan error, 1)
	go func() {
		p, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner())}, prodOpts...)...)
		if err != nil {
			prodDone <- err
			return
		}
		defer p.Close()
		for from := 3000; from < 9000; from += 300 {
			var first atomic.Value
			for i := from; i < from+300; i++ {
				p.Produce(context.Background(), &kgo.Record{Value: fmt.Appendf(nil, "x-%d", i), Partition: int32(i % parts)},
					func(_ *kgo.Record, err error) {
						if err != nil {
							first.CompareAndSwap(nil, err)
						}
					})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			err := p.Flush(ctx)
			cancel()
			if err == nil {
				if e, ok := first.Load().(error); ok {
					err = e
				}
			}
			if err != nil {
				prodDone <- fmt.Errorf("records %d..%d: %w", from, from+299, err)
				return
			}
			produced.Store(int64(from + 300))
		}
		prodDone <- nil
	}()
	waitCond(30*time.Second, "1500 records of the second batch", func() bool { return cons.n.Load() >= 4500 })

	before, _, err := grpOffsets(context.Background(), adm, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	// The coordinator is briefly unavailable while its partition changes leader (the
	// cluster is seconds old): ask until it is named, as clients do.
	coordID := int32(-1)
	var coordErr error
	waitCond(10*time.Second, "FindCoordinator to name a node", func() bool {
		adm.FindGroupCoordinators(context.Background(), group).Each(func(r kadm.FindCoordinatorResponse) {
			coordID, coordErr = r.NodeID, r.Err
		})
		return coordErr == nil
	})
	if coordID < 1 || coordID > 3 {
		t.Fatalf("FindCoordinator for %s: node %d", group, coordID)
	}
	victim := c.nodes[int(coordID)]
	atKill := cons.n.Load()
	commitsAtKill := cons.commits.Load()
	victim.kill()
	killed := time.Now()
	t.Logf("SIGKILLed node %d (the coordinator) at %d consumed, %d produced; committed before: %s",
		coordID, atKill, produced.Load(), fmtOffsets(before))

	// Consumption and commits carry on through the other two nodes.
	waitCond(60*time.Second, "a commit after the kill", func() bool { return cons.commits.Load() > commitsAtKill+1 })
	firstCommit := time.Since(killed)
	select {
	case err := <-prodDone:
		if err != nil {
			t.Fatalf("producing during the failover: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("producer not done 60s after the kill (%d produced)", produced.Load())
	}
	waitCond(60*time.Second, "every record produced", func() bool { return cons.missing("x", 0, 9000) == 0 })
	// A new admin client: franz-go keeps a cached coordinator it cannot dial.
	adm = kadm.NewClient(client(t, addrs, kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond })))
	after := grpWaitCommittedAtEnd(t, adm, group, topic, parts, 30*time.Second)
	newCoord := int32(-1)
	adm.FindGroupCoordinators(context.Background(), group).Each(func(r kadm.FindCoordinatorResponse) {
		if r.Err == nil {
			newCoord = r.NodeID
		}
	})
	t.Logf("coordinator moved to node %d; first commit %v after the kill; all 9000 consumed and committed %v after it: %s",
		newCoord, firstCommit.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), fmtOffsets(after))
	if newCoord == coordID {
		t.Errorf("FindCoordinator still names the killed node %d", coordID)
	}
	for p, b := range before {
		if after[p] < b {
			t.Errorf("partition %d: committed offset went back from %d to %d", p, b, after[p])
		}
	}

	// The killed node restarts and rejoins; the group goes on consuming.
	victim.start()
	victim.waitReady(3, 60*time.Second)
	rejoined := time.Since(killed)
	grpProduce(t, addrs, topic, "x", parts, 9000, 9300, prodOpts...)
	waitCond(30*time.Second, "300 records after the restart", func() bool { return cons.missing("x", 9000, 9300) == 0 })
	final := grpWaitCommittedAtEnd(t, adm, group, topic, parts, 30*time.Second)
	for p, a := range after {
		if final[p] < a {
			t.Errorf("partition %d: committed offset went back from %d to %d after the restart", p, a, final[p])
		}
	}
	watch.close()
	if b := watch.backwards(); b != "" {
		t.Errorf("committed offsets went backwards: %s", b)
	}
	cons.mu.Lock()
	dups, commitErrs, gens := cons.dups, cons.commitErrs, cons.generations
	cons.mu.Unlock()
	if dups > 0 && len(commitErrs) == 0 {
		t.Errorf("%d records consumed twice though every commit succeeded", dups)
	}
	watch.mu.Lock()
	samples, sampleErrs := len(watch.samples), watch.errs
	watch.mu.Unlock()
	t.Logf("node %d rejoined %v after the kill; %d duplicates, commit errors %v, generations %v; %d offset samples (%d failed); %v in all",
		coordID, rejoined.Round(time.Millisecond), dups, commitErrs, gens, samples, sampleErrs, time.Since(start).Round(time.Millisecond))
}
