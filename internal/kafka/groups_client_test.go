package kafka

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer groups end to end: franz-go (eager and cooperative balancers) and sarama
// against a Server whose Backend coordinates every group over an in-memory
// __consumer_offsets.

// groupConsumer is a franz-go group member that records what it polls and which
// partitions it owns.
type groupConsumer struct {
	t    *testing.T
	name string
	cl   *kgo.Client
	done chan struct{}

	mu       sync.Mutex
	owned    map[int32]bool
	seen     map[string]int // value -> times polled
	order    []string
	changed  chan struct{}
	pollErrs []error
}

func startGroupConsumer(t *testing.T, addr, name, groupID, topic string, opts ...kgo.Opt) *groupConsumer {
	t.Helper()
	gc := &groupConsumer{t: t, name: name, owned: map[int32]bool{}, seen: map[string]int{}, changed: make(chan struct{}), done: make(chan struct{})}
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ClientID(name),
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.HeartbeatInterval(100 * time.Millisecond),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.RetryTimeout(20 * time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			gc.update(func() {
				for _, p := range m[topic] {
					gc.owned[p] = true
				}
			})
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				t.Logf("%s: commit on revoke: %v", name, err)
			}
			gc.update(func() {
				for _, p := range m[topic] {
					delete(gc.owned, p)
				}
			})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			gc.update(func() {
				for _, p := range m[topic] {
					delete(gc.owned, p)
				}
			})
		}),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	gc.cl = cl
	go gc.poll()
	t.Cleanup(gc.close)
	return gc
}

func (gc *groupConsumer) update(f func()) {
	gc.mu.Lock()
	f()
	close(gc.changed)
	gc.changed = make(chan struct{})
	gc.mu.Unlock()
}

func (gc *groupConsumer) poll() {
	defer close(gc.done)
	for {
		fs := gc.cl.PollFetches(context.Background())
		if fs.IsClientClosed() {
			return
		}
		gc.update(func() {
			fs.EachError(func(topic string, p int32, err error) {
				gc.pollErrs = append(gc.pollErrs, fmt.Errorf("%s/%d: %w", topic, p, err))
			})
			fs.EachRecord(func(r *kgo.Record) {
				v := string(r.Value)
				gc.seen[v]++
				gc.order = append(gc.order, v)
			})
		})
	}
}

// waitFor blocks until cond (evaluated under gc.mu) holds; it fails the test after
// coreTestTimeout.
func (gc *groupConsumer) waitFor(what string, cond func() bool) {
	gc.t.Helper()
	ctx := testCtx(gc.t)
	for {
		gc.mu.Lock()
		ok, ch := cond(), gc.changed
		gc.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond): // cond may depend on other consumers
		case <-ctx.Done():
			gc.mu.Lock()
			defer gc.mu.Unlock()
			gc.t.Fatalf("%s: timed out waiting for %s (owned %v, seen %d, errors %v)", gc.name, what, slices.Sorted(maps.Keys(gc.owned)), len(gc.seen), gc.pollErrs)
		}
	}
}

func (gc *groupConsumer) ownedN() int {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return len(gc.owned)
}

func (gc *groupConsumer) seenAll(prefix string, n int) bool {
	for i := range n {
		if gc.seen[fmt.Sprintf("%s-%d", prefix, i)] == 0 {
			return false
		}
	}
	return true
}

// commitAndClose commits what was polled and leaves the group.
func (gc *groupConsumer) commitAndClose() {
	gc.t.Helper()
	if err := gc.cl.CommitUncommittedOffsets(testCtx(gc.t)); err != nil {
		gc.t.Fatalf("%s: commit: %v", gc.name, err)
	}
	gc.close()
}

func (gc *groupConsumer) close() {
	select {
	case <-gc.done:
		return
	default:
	}
	gc.cl.Close()
	<-gc.done
}

// produceValues produces prefix-0..prefix-(n-1), record i to partition i%parts.
func produceValues(t *testing.T, addr, topic, prefix string, n, parts int) {
	t.Helper()
	cl := coreClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i % parts), Value: fmt.Appendf(nil, "%s-%d", prefix, i)})
	}
	if err := cl.ProduceSync(testCtx(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// committed returns the group's committed offsets of topic by partition.
func committed(t *testing.T, addr, groupID, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(coreClient(t, addr))
	resp, err := adm.FetchOffsets(testCtx(t), groupID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		if o.Err != nil {
			t.Fatalf("offset %s/%d: %v", topic, p, o.Err)
		}
		out[p] = o.At
	}
	return out
}

func TestGroupFranzEager(t *testing.T) {
	testGroupFranz(t, kgo.Balancers(kgo.RangeBalancer()))
}

func TestGroupFranzCooperative(t *testing.T) {
	testGroupFranz(t, kgo.Balancers(kgo.CooperativeStickyBalancer()))
}

// testGroupFranz: two consumers share a 4-partition topic; one leaves and the other takes
// over; the committed offsets are where a restarted consumer resumes.
func testGroupFranz(t *testing.T, balancer kgo.Opt) {
	_, f, addr := startCore(t, Config{})
	const topic, groupID, parts = "gt", "g", 4
	f.createTopic(topic, parts)
	produceValues(t, addr, topic, "a", 40, parts)

	a := startGroupConsumer(t, addr, "a", groupID, topic, balancer)
	a.waitFor("all 4 partitions", func() bool { return len(a.owned) == parts })
	b := startGroupConsumer(t, addr, "b", groupID, topic, balancer)
	b.waitFor("a share of the partitions", func() bool { return len(b.owned) > 0 })
	a.waitFor("the rest of the partitions", func() bool { return len(a.owned) > 0 && len(a.owned)+b.ownedN() == parts })
	produceValues(t, addr, topic, "m", 40, parts)
	for _, c := range []*groupConsumer{a, b} {
		c.waitFor("its share of the new records", func() bool {
			for p := range int32(parts) {
				if c.owned[p] && c.seen[fmt.Sprintf("m-%d", p)] == 0 {
					return false
				}
			}
			return true
		})
	}
	adm := kadm.NewClient(coreClient(t, addr))
	described, err := adm.DescribeGroups(testCtx(t), groupID)
	if err != nil {
		t.Fatal(err)
	}
	if d := described[groupID]; d.State != "Stable" || len(d.Members) != 2 || d.Protocol == "" {
		t.Fatalf("describe: %+v", d)
	}

	// b leaves: a takes over every partition and consumes what is produced next.
	b.commitAndClose()
	a.waitFor("every partition after b left", func() bool { return len(a.owned) == parts })
	produceValues(t, addr, topic, "b", 40, parts)
	a.waitFor("every record produced after b left", func() bool { return a.seenAll("b", 40) })
	a.commitAndClose()

	for p, o := range committed(t, addr, groupID, topic) {
		if o != 30 {
			t.Fatalf("partition %d committed at %d, want 30", p, o)
		}
	}
	listed, err := adm.ListGroups(testCtx(t), "Empty")
	if err != nil || len(listed) != 1 || listed[groupID].State != "Empty" {
		t.Fatalf("list groups: %+v %v", listed, err)
	}

	// A restarted consumer resumes at the committed offsets.
	c := startGroupConsumer(t, addr, "c", groupID, topic, balancer)
	produceValues(t, addr, topic, "c", 8, parts)
	c.waitFor("the new records", func() bool { return c.seenAll("c", 8) })
	c.mu.Lock()
	for _, v := range c.order {
		if !strings.HasPrefix(v, "c-") {
			t.Errorf("restarted consumer polled %q again", v)
		}
	}
	c.mu.Unlock()
	c.commitAndClose()

	// Deleting the (now empty) group removes its offsets.
	if resp, err := adm.DeleteGroups(testCtx(t), groupID); err != nil || resp[groupID].Err != nil {
		t.Fatalf("delete group: %+v %v", resp, err)
	}
	if got := committed(t, addr, groupID, topic); len(got) != 0 {
		t.Fatalf("offsets after delete: %v", got)
	}
}

// TestGroupFranzCoordinatorFailover replaces the coordinator by a new one loaded from the
// same __consumer_offsets log (a failover): the member rediscovers the coordinator and
// keeps consuming, and the committed offsets do not move back.
func TestGroupFranzCoordinatorFailover(t *testing.T) {
	testCoordinatorFailover(t, "ft", "fg", func(_ *coreFake, store *group.MemStore) *group.Coordinator {
		return newFakeGroupsOn(store)
	})
}

// testCoordinatorFailover: a consumer (franz-go with opts) reads and commits, then its
// coordinator made by newGroups is replaced by a new one on the same store (the old one
// loses its partitions, the new one loads them): the committed offsets stay, the consumer
// reads what is produced next, and every record is polled exactly once.
func testCoordinatorFailover(t *testing.T, topic, groupID string, newGroups func(*coreFake, *group.MemStore) *group.Coordinator, opts ...kgo.Opt) {
	_, f, addr := startCore(t, Config{})
	const parts = 2
	f.createTopic(topic, parts)
	store := group.NewMemStore(group.DefaultPartitions)
	f.setGroups(newGroups(f, store))

	produceValues(t, addr, topic, "a", 10, parts)
	a := startGroupConsumer(t, addr, "a", groupID, topic, opts...)
	a.waitFor("the first records", func() bool { return a.seenAll("a", 10) })
	if err := a.cl.CommitUncommittedOffsets(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	before := committed(t, addr, groupID, topic)

	old := f.setGroups(newGroups(f, store))
	old.Close()
	if got := committed(t, addr, groupID, topic); !maps.Equal(got, before) {
		t.Fatalf("committed offsets moved across the failover: %v -> %v", before, got)
	}
	produceValues(t, addr, topic, "b", 10, parts)
	a.waitFor("records after the failover", func() bool { return a.seenAll("b", 10) })
	a.commitAndClose()
	for p, o := range committed(t, addr, groupID, topic) {
		if o != 10 {
			t.Fatalf("partition %d committed at %d, want 10", p, o)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for v, n := range a.seen {
		if n != 1 {
			t.Errorf("%q polled %d times", v, n)
		}
	}
}

// TestGroupFranzStatic: a static member (group.instance.id) that restarts within its
// session keeps its partitions without a rebalance of the other member.
func TestGroupFranzStatic(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	const topic, groupID, parts = "st", "sg", 2
	f.createTopic(topic, parts)
	a := startGroupConsumer(t, addr, "a", groupID, topic, kgo.InstanceID("inst-a"))
	a.waitFor("both partitions", func() bool { return len(a.owned) == parts })
	b := startGroupConsumer(t, addr, "b", groupID, topic, kgo.InstanceID("inst-b"))
	b.waitFor("one partition", func() bool { return len(b.owned) == 1 })
	a.waitFor("one partition", func() bool { return len(a.owned) == 1 })
	adm := kadm.NewClient(coreClient(t, addr))
	d1, err := adm.DescribeGroups(testCtx(t), groupID)
	if err != nil {
		t.Fatal(err)
	}
	// A static member does not leave the group on close (KIP-345): b restarts.
	b.close()
	b2 := startGroupConsumer(t, addr, "b2", groupID, topic, kgo.InstanceID("inst-b"))
	b2.waitFor("b's partition", func() bool { return len(b2.owned) == 1 })
	d2, err := adm.DescribeGroups(testCtx(t), groupID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d2[groupID].Members) != 2 || d2[groupID].State != "Stable" {
		t.Fatalf("after the static restart: %+v", d2[groupID])
	}
	var inst []string
	for _, m := range d2[groupID].Members {
		if m.InstanceID != nil {
			inst = append(inst, *m.InstanceID)
		}
	}
	slices.Sort(inst)
	if !slices.Equal(inst, []string{"inst-a", "inst-b"}) {
		t.Fatalf("instance ids: %v", inst)
	}
	_ = d1
	if a.ownedN() != 1 {
		t.Fatalf("a owns %d partitions", a.ownedN())
	}
}
