package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupConsumer consumes with a consumer group and commits what it received.
func groupConsumer(t *testing.T, seeds []string, group, topic string, seen *sync.Map, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func pollInto(ctx context.Context, cl *kgo.Client, seen *sync.Map) {
	fs := cl.PollFetches(ctx)
	fs.EachRecord(func(r *kgo.Record) { seen.Store(string(r.Value), true) })
	_ = cl.CommitUncommittedOffsets(ctx)
}

func count(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

// Two group members share a topic; when one leaves the other takes over its partitions;
// a restarted node resumes the group from its committed offsets.
func TestConsumerGroupsStandalone(t *testing.T) { groupScenario(t) }

// The same with KIP-848's server-side assignment (ConsumerGroupHeartbeat).
func TestConsumerGroupsServerSideAssignment(t *testing.T) {
	groupScenario(t, kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
}

func groupScenario(t *testing.T, opts ...kgo.Opt) {
	cfg := testConfig(t.TempDir())
	n := startNode(t, cfg)
	ctx := context.Background()
	seeds := []string{n.KafkaAddr()}
	adm := kadm.NewClient(client(t, n))
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "grouped"); err != nil {
		t.Fatal(err)
	}
	p := client(t, n, kgo.DefaultProduceTopic("grouped"))
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 400)
	var seen sync.Map
	a := groupConsumer(t, seeds, "g1", "grouped", &seen, opts...)
	b := groupConsumer(t, seeds, "g1", "grouped", &seen, opts...)
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for count(&seen) < 400 && cctx.Err() == nil {
		var wg sync.WaitGroup
		for _, c := range []*kgo.Client{a, b} {
			wg.Go(func() {
				pctx, pc := context.WithTimeout(cctx, time.Second)
				defer pc()
				pollInto(pctx, c, &seen)
			})
		}
		wg.Wait()
	}
	if count(&seen) < 400 {
		t.Fatalf("group consumed %d of 400", count(&seen))
	}
	b.Close() // leaves the group; a takes every partition
	produce(400, 500)
	for count(&seen) < 500 && cctx.Err() == nil {
		pctx, pc := context.WithTimeout(cctx, time.Second)
		pollInto(pctx, a, &seen)
		pc()
	}
	if count(&seen) < 500 {
		t.Fatalf("after a member left: %d of 500", count(&seen))
	}
	a.Close()
	// The committed offsets survive a restart: a new member starts after them.
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n = startNode(t, cfg)
	defer n.Stop()
	seeds = []string{n.KafkaAddr()}
	offs, err := kadm.NewClient(client(t, n)).FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 500 {
		t.Fatalf("committed offsets sum to %d after restart, want 500", committed)
	}
	p2 := client(t, n, kgo.DefaultProduceTopic("grouped"))
	for i := 500; i < 510; i++ {
		if err := p2.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var again sync.Map
	c := groupConsumer(t, seeds, "g1", "grouped", &again, opts...)
	defer c.Close()
	for count(&again) < 10 && cctx.Err() == nil {
		pctx, pc := context.WithTimeout(cctx, time.Second)
		pollInto(pctx, c, &again)
		pc()
	}
	if count(&again) != 10 {
		t.Fatalf("resumed member read %d records, want exactly the 10 new ones", count(&again))
	}
}

// Killing the coordinator of a group in the middle of consumption: the group moves to
// the new leader of its __consumer_offsets partition, which rebuilds it from the log, and
// consumption carries on from the committed offsets, which never move backwards.
func TestConsumerGroupCoordinatorFailover(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	adm := kadm.NewClient(newClient(t, c.seeds()))
	for _, n := range c.nodes {
		waitFor(t, "3 brokers", func() bool { return len(brokersSeenBy(t, n)) == 3 })
	}
	if _, err := adm.CreateTopic(ctx, 3, 3, nil, "gfail"); err != nil {
		t.Fatal(err)
	}
	p := newClient(t, c.seeds(), kgo.DefaultProduceTopic("gfail"), kgo.RecordRetries(100))
	for i := 0; i < 300; i++ {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var seen sync.Map
	cons := groupConsumer(t, c.seeds(), "gf", "gfail", &seen, kgo.MetadataMinAge(100*time.Millisecond))
	defer func() { cons.Close() }()
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for count(&seen) < 150 && cctx.Err() == nil {
		pctx, pc := context.WithTimeout(cctx, time.Second)
		pollInto(pctx, cons, &seen)
		pc()
	}
	before, err := adm.FetchOffsets(ctx, "gf")
	if err != nil {
		t.Fatal(err)
	}
	coord := adm.FindGroupCoordinators(ctx, "gf")
	var coordID int32 = -1
	coord.Each(func(d kadm.FindCoordinatorResponse) { coordID = d.NodeID })
	if coordID < 1 {
		t.Fatalf("no coordinator: %+v", coord)
	}
	c.nodes[coordID-1].Stop()
	c.nodes[coordID-1] = nil
	for count(&seen) < 300 && cctx.Err() == nil {
		pctx, pc := context.WithTimeout(cctx, time.Second)
		pollInto(pctx, cons, &seen)
		pc()
	}
	if count(&seen) < 300 {
		t.Fatalf("consumed %d of 300 after the coordinator stopped", count(&seen))
	}
	adm2 := kadm.NewClient(newClient(t, c.seeds()))
	var after kadm.OffsetResponses
	waitFor(t, "offsets from the new coordinator", func() bool {
		after, err = adm2.FetchOffsets(ctx, "gf")
		return err == nil
	})
	before.Each(func(o kadm.OffsetResponse) {
		if a, ok := after.Lookup(o.Topic, o.Partition); ok && a.At < o.At {
			t.Fatalf("%s/%d: committed offset went back from %d to %d", o.Topic, o.Partition, o.At, a.At)
		}
	})
}
