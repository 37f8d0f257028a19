package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer groups driven by three more client libraries against an in-process standalone
// node: an IBM/sarama ConsumerGroup (eager range assignor), segmentio/kafka-go Readers
// with a GroupID (old API versions: JoinGroup v1/v2, OffsetCommit v2, LeaveGroup v0) and
// franz-go with the cooperative-sticky balancer (incremental rebalances). In each, two
// members share a 4-partition topic, one leaves and the other takes over every partition;
// the test checks every record was consumed and the committed offsets end at the log end.

const gcPartitions = 4

// gcLog records what the members of a group consumed.
type gcLog struct {
	mu     sync.Mutex
	seen   map[string]int           // value -> times consumed
	by     map[string]map[int32]int // member -> partition -> records
	dups   []string
	errs   []string
	offset map[string]map[int32][]int64 // member -> partition -> offsets in order
}

func newGCLog() *gcLog {
	return &gcLog{seen: map[string]int{}, by: map[string]map[int32]int{}, offset: map[string]map[int32][]int64{}}
}

func (l *gcLog) add(member string, p int32, off int64, v string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[v]++
	if l.seen[v] == 2 {
		l.dups = append(l.dups, fmt.Sprintf("%s (p%d@%d by %s)", v, p, off, member))
	}
	if l.by[member] == nil {
		l.by[member], l.offset[member] = map[int32]int{}, map[int32][]int64{}
	}
	l.by[member][p]++
	l.offset[member][p] = append(l.offset[member][p], off)
}

func (l *gcLog) err(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

// missing counts the values prefix-from..prefix-(to-1) not consumed yet.
func (l *gcLog) missing(prefix string, from, to int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for i := from; i < to; i++ {
		if l.seen[fmt.Sprintf("%s-%d", prefix, i)] == 0 {
			n++
		}
	}
	return n
}

func (l *gcLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

func (l *gcLog) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

func (l *gcLog) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var members []string
	for m := range l.by {
		members = append(members, m)
	}
	sort.Strings(members)
	var parts []string
	for _, m := range members {
		parts = append(parts, fmt.Sprintf("%s:%v", m, l.by[m]))
	}
	return fmt.Sprintf("%d distinct, %d duplicates, per member %s", len(l.seen), len(l.dups), strings.Join(parts, " "))
}

// gcWait polls cond every 10ms until it holds, failing the test at the deadline.
func gcWait(t *testing.T, timeout time.Duration, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; %s", timeout, what, state())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gcProduce writes prefix-from..prefix-(to-1), record i to partition i%4, acks=all.
func gcProduce(t *testing.T, n *Node, topic, prefix string, from, to int) {
	t.Helper()
	p := client(t, n, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer p.Close()
	var mu sync.Mutex
	var first error
	for i := from; i < to; i++ {
		r := &kgo.Record{Value: fmt.Appendf(nil, "%s-%d", prefix, i), Partition: int32(i % gcPartitions)}
		p.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = cmpErr(first, err)
				mu.Unlock()
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if first != nil {
		t.Fatalf("produce: %v", first)
	}
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func gcCreateTopic(t *testing.T, n *Node, topic string) *kadm.Client {
	t.Helper()
	adm := kadm.NewClient(client(t, n))
	if _, err := adm.CreateTopic(context.Background(), gcPartitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	return adm
}

// gcOffsets returns the group's committed offsets and the topic's end offsets.
func gcOffsets(t *testing.T, adm *kadm.Client, group, topic string) (committed, end map[int32]int64) {
	t.Helper()
	ctx := context.Background()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	if err := offs.Error(); err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	committed = map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			committed[o.Partition] = o.At
		}
	})
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end = map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	return committed, end
}

func gcCheckCommittedAtEnd(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	committed, end := gcOffsets(t, adm, group, topic)
	if len(end) != gcPartitions {
		t.Fatalf("end offsets %v, want %d partitions", end, gcPartitions)
	}
	for p, e := range end {
		if c, ok := committed[p]; !ok || c != e {
			t.Fatalf("group %s: committed offsets %v, want the end offsets %v", group, committed, end)
		}
	}
	return committed
}

// gcAssignment describes the group and returns, per member client id, its assigned
// partitions of topic (sorted), once the group is Stable.
func gcAssignment(adm *kadm.Client, group, topic string) (map[string][]int32, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gs, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, err.Error()
	}
	g, ok := gs[group]
	if !ok || g.Err != nil {
		return nil, fmt.Sprintf("describe: %+v", g)
	}
	out := map[string][]int32{}
	for _, m := range g.Members {
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, tp := range c.Topics {
			if tp.Topic == topic {
				out[m.ClientID] = append(out[m.ClientID], tp.Partitions...)
			}
		}
		slices.Sort(out[m.ClientID])
	}
	return out, fmt.Sprintf("state %s, %d members, assignment %v", g.State, len(g.Members), out)
}

// --- sarama ---

type saramaMember struct {
	name  string
	topic string
	log   *gcLog
	mu    sync.Mutex
	claim []int32 // the current session's partitions; nil between sessions
	gens  []int32
}

func (h *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.claim = slices.Sorted(slices.Values(s.Claims()[h.topic]))
	h.gens = append(h.gens, s.GenerationID())
	return nil
}

func (h *saramaMember) Cleanup(sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.claim = nil
	return nil
}

func (h *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			h.log.add(h.name, m.Partition, m.Offset, string(m.Value))
			s.MarkMessage(m, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

func (h *saramaMember) claims() []int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.claim
}

// TestSaramaConsumerGroup: two sarama ConsumerGroup members (range assignor, auto-commit
// every 100ms and on session release) share a 4-partition topic; one member's Consume is
// cancelled and the group closed (LeaveGroup), and the other takes over all four
// partitions and consumes what is produced afterwards. Committing on release happens
// while the group is rebalancing, with the old generation (Kafka accepts commits of the
// current generation in PreparingRebalance), so nothing is consumed twice.
func TestSaramaConsumerGroup(t *testing.T) {
	n := startNode(t, testConfig(t.TempDir()))
	defer n.Stop()
	const topic, group = "sarama-group", "sarama-g"
	adm := gcCreateTopic(t, n, topic)
	gcProduce(t, n, topic, "s", 0, 2000)

	log := newGCLog()
	cfg := saramaConfig()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 10 * time.Second
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 50 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond

	type running struct {
		g      sarama.ConsumerGroup
		h      *saramaMember
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(name string) *running {
		c := *cfg
		c.ClientID = name
		g, err := sarama.NewConsumerGroup([]string{n.KafkaAddr()}, group, &c)
		if err != nil {
			t.Fatalf("NewConsumerGroup: %v", err)
		}
		h := &saramaMember{name: name, topic: topic, log: log}
		ctx, cancel := context.WithCancel(context.Background())
		r := &running{g: g, h: h, cancel: cancel, done: make(chan struct{})}
		go func() {
			for e := range g.Errors() {
				log.err("%s: %v", name, e)
			}
		}()
		go func() {
			defer close(r.done)
			for i := 0; i < 1000 && ctx.Err() == nil; i++ {
				if err := g.Consume(ctx, []string{topic}, h); err != nil {
					if errors.Is(err, sarama.ErrClosedConsumerGroup) {
						return
					}
					log.err("%s: Consume: %v", name, err)
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
		t.Cleanup(func() { cancel(); g.Close(); <-r.done })
		return r
	}
	state := func() string {
		return fmt.Sprintf("%s; errors %v", log.summary(), log.errors())
	}
	t0 := time.Now()
	a, b := start("sarama-a"), start("sarama-b")
	gcWait(t, 15*time.Second, "both members to hold partitions", func() bool {
		ca, cb := a.h.claims(), b.h.claims()
		return len(ca) > 0 && len(cb) > 0 && len(ca)+len(cb) == gcPartitions &&
			len(slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(ca), cb...))))) == gcPartitions
	}, func() string { return fmt.Sprintf("claims a %v b %v; %s", a.h.claims(), b.h.claims(), state()) })
	t.Logf("both members hold partitions after %v: a %v b %v", time.Since(t0).Round(time.Millisecond), a.h.claims(), b.h.claims())
	gcWait(t, 10*time.Second, "the first 2000 records", func() bool { return log.missing("s", 0, 2000) == 0 }, state)
	gcProduce(t, n, topic, "s", 2000, 2400) // 100 a partition, for both members
	gcWait(t, 10*time.Second, "400 more records", func() bool { return log.missing("s", 2000, 2400) == 0 }, state)

	// b's session ends: its Consume is cancelled (claims released, offsets flushed) and
	// the group closed (LeaveGroup).
	t1 := time.Now()
	b.cancel()
	<-b.done
	if err := b.g.Close(); err != nil {
		t.Errorf("closing b: %v", err)
	}
	gcWait(t, 10*time.Second, "a to take over all partitions", func() bool { return len(a.h.claims()) == gcPartitions },
		func() string { return fmt.Sprintf("claims a %v; %s", a.h.claims(), state()) })
	t.Logf("a holds %v %v after b left", a.h.claims(), time.Since(t1).Round(time.Millisecond))
	gcProduce(t, n, topic, "s", 2400, 3400)
	gcWait(t, 10*time.Second, "the 1000 records produced after b left", func() bool { return log.missing("s", 2400, 3400) == 0 }, state)
	a.cancel()
	<-a.done
	if err := a.g.Close(); err != nil {
		t.Errorf("closing a: %v", err)
	}
	gcCheckCommittedAtEnd(t, adm, group, topic)
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.seen) != 3400 {
		t.Errorf("consumed %d distinct values, want 3400", len(log.seen))
	}
	if len(log.by["sarama-b"]) == 0 {
		t.Errorf("b consumed nothing while it held partitions")
	}
	if len(log.dups) > 0 {
		t.Errorf("%d records consumed twice, first %v; errors %v", len(log.dups), log.dups[:min(5, len(log.dups))], log.errs)
	}
	for p := int32(0); p < gcPartitions; p++ {
		if log.by["sarama-a"][p] == 0 {
			t.Errorf("a consumed nothing from partition %d", p)
		}
	}
	if len(log.errs) > 0 {
		t.Logf("client errors: %v", log.errs)
	}
	t.Logf("sarama: %d distinct, a per partition %v, b per partition %v; a generations %v, b %v; %v",
		len(log.seen), log.by["sarama-a"], log.by["sarama-b"], a.h.gens, b.h.gens, time.Since(t0).Round(time.Millisecond))
}

// --- segmentio/kafka-go ---

func segGroupReader(addr, group, topic, name string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{addr},
		GroupID:           group,
		Topic:             topic,
		StartOffset:       kafka.FirstOffset,
		MinBytes:          1,
		MaxBytes:          1 << 20,
		MaxWait:           100 * time.Millisecond,
		HeartbeatInterval: 200 * time.Millisecond,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  100 * time.Millisecond,
		ReadBackoffMin:    20 * time.Millisecond,
		ReadBackoffMax:    100 * time.Millisecond,
		CommitInterval:    0, // CommitMessages commits synchronously
		Dialer:            &kafka.Dialer{ClientID: name, Timeout: 5 * time.Second},
	})
}

// segRun reads with r until ctx ends or the reader closes, committing each message
// synchronously while commit(m) says so.
func segRun(ctx context.Context, r *kafka.Reader, name string, log *gcLog, commit func(kafka.Message) bool) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 1_000_000; i++ {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, io.EOF) {
					log.err("%s: FetchMessage: %v", name, err)
				}
				return
			}
			log.add(name, int32(m.Partition), m.Offset, string(m.Value))
			if commit == nil || commit(m) {
				if err := r.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
					log.err("%s: CommitMessages p%d@%d: %v", name, m.Partition, m.Offset, err)
				}
			}
		}
	}()
	return done
}

// TestSegmentioGroupReaders: two kafka-go Readers with the same GroupID share a
// 4-partition topic (the group is Stable with both holding partitions); one closes
// (LeaveGroup) and the other takes over all four partitions. Then the remaining reader
// consumes 400 more records but commits only the first half of each partition's share
// before closing; a restarted reader starts exactly at the committed offsets and reads
// only the 200 uncommitted records.
func TestSegmentioGroupReaders(t *testing.T) {
	n := startNode(t, testConfig(t.TempDir()))
	defer n.Stop()
	const topic, group = "seg-group", "seg-g"
	adm := gcCreateTopic(t, n, topic)
	gcProduce(t, n, topic, "k", 0, 1000)

	log := newGCLog()
	state := func() string {
		_, d := gcAssignment(adm, group, topic)
		return fmt.Sprintf("%s; %s; errors %v", d, log.summary(), log.errors())
	}
	t0 := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r1, r2 := segGroupReader(n.KafkaAddr(), group, topic, "seg-1"), segGroupReader(n.KafkaAddr(), group, topic, "seg-2")
	defer r1.Close()
	defer r2.Close()
	d1, d2 := segRun(ctx, r1, "seg-1", log, nil), segRun(ctx, r2, "seg-2", log, nil)
	gcWait(t, 15*time.Second, "a stable group with both readers holding partitions", func() bool {
		as, _ := gcAssignment(adm, group, topic)
		return len(as) == 2 && len(as["seg-1"]) > 0 && len(as["seg-2"]) > 0 && len(as["seg-1"])+len(as["seg-2"]) == gcPartitions
	}, state)
	as, _ := gcAssignment(adm, group, topic)
	t.Logf("both readers hold partitions after %v: %v", time.Since(t0).Round(time.Millisecond), as)
	gcWait(t, 10*time.Second, "the first 1000 records", func() bool { return log.missing("k", 0, 1000) == 0 }, state)

	t1 := time.Now()
	if err := r2.Close(); err != nil {
		t.Errorf("closing reader 2: %v", err)
	}
	<-d2
	gcWait(t, 10*time.Second, "reader 1 to hold all partitions", func() bool {
		as, _ := gcAssignment(adm, group, topic)
		return len(as) == 1 && len(as["seg-1"]) == gcPartitions
	}, state)
	t.Logf("reader 1 holds all partitions %v after reader 2 closed", time.Since(t1).Round(time.Millisecond))
	gcProduce(t, n, topic, "k", 1000, 2000)
	gcWait(t, 10*time.Second, "the 1000 records produced after reader 2 left", func() bool { return log.missing("k", 1000, 2000) == 0 }, state)
	// Every message is committed synchronously after it is fetched; the last commit may
	// still be in flight when the last message is recorded.
	gcWait(t, 5*time.Second, "committed offsets at the end", func() bool {
		c, e := gcOffsets(t, adm, group, topic)
		return maps4Equal(c, e)
	}, state)
	cancel()
	<-d1
	if err := r1.Close(); err != nil {
		t.Errorf("closing reader 1: %v", err)
	}
	for p := int32(0); p < gcPartitions; p++ {
		if log.by["seg-1"][p] == 0 {
			t.Errorf("reader 1 consumed nothing from partition %d", p)
		}
	}
	if len(log.errs) > 0 {
		t.Logf("client errors (rebalances): %v", log.errs)
	}
	// kafka-go may commit a message fetched in the generation that just ended under the
	// next one (its commit loop is per reader, not per generation), so a partition that
	// moved at the join can be read twice; that is the client's at-least-once.
	t.Logf("phase 1: %s; duplicates %v", log.summary(), log.dups[:min(5, len(log.dups))])

	// Reader 3 reads 400 new records but commits only the first 50 of each partition.
	gcProduce(t, n, topic, "k", 2000, 2400)
	before, _ := gcOffsets(t, adm, group, topic)
	log3 := newGCLog()
	ctx3, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	r3 := segGroupReader(n.KafkaAddr(), group, topic, "seg-3")
	defer r3.Close()
	d3 := segRun(ctx3, r3, "seg-3", log3, func(m kafka.Message) bool { return m.Offset < before[int32(m.Partition)]+50 })
	gcWait(t, 15*time.Second, "reader 3 to read the 400 new records", func() bool { return log3.missing("k", 2000, 2400) == 0 },
		func() string { return log3.summary() + fmt.Sprint(log3.errors()) })
	gcWait(t, 5*time.Second, "reader 3's commits", func() bool {
		c, _ := gcOffsets(t, adm, group, topic)
		for p := int32(0); p < gcPartitions; p++ {
			if c[p] != before[p]+50 {
				return false
			}
		}
		return true
	}, func() string {
		c, _ := gcOffsets(t, adm, group, topic)
		return fmt.Sprintf("committed %v, before %v", c, before)
	})
	cancel3()
	<-d3
	r3.Close()
	if got := log3.distinct(); got != 400 {
		t.Fatalf("reader 3 read %d distinct records, want the 400 new ones: %s", got, log3.summary())
	}
	for p, offs := range log3.offset["seg-3"] {
		if offs[0] != before[p] {
			t.Fatalf("reader 3 started partition %d at offset %d, want the committed %d", p, offs[0], before[p])
		}
	}

	// Reader 4 resumes at the commits: exactly the 200 records after them.
	committed, _ := gcOffsets(t, adm, group, topic)
	log4 := newGCLog()
	ctx4, cancel4 := context.WithCancel(context.Background())
	defer cancel4()
	r4 := segGroupReader(n.KafkaAddr(), group, topic, "seg-4")
	defer r4.Close()
	d4 := segRun(ctx4, r4, "seg-4", log4, nil)
	gcWait(t, 15*time.Second, "reader 4 to read the 200 uncommitted records", func() bool { return log4.distinct() >= 200 },
		func() string { return log4.summary() + fmt.Sprint(log4.errors()) })
	gcWait(t, 5*time.Second, "reader 4's commits at the end", func() bool {
		c, e := gcOffsets(t, adm, group, topic)
		return maps4Equal(c, e)
	}, func() string { return log4.summary() })
	cancel4()
	<-d4
	r4.Close()
	log4.mu.Lock()
	defer log4.mu.Unlock()
	if len(log4.seen) != 200 || len(log4.dups) > 0 {
		t.Fatalf("reader 4: %d distinct, %d duplicates, want 200 and none", len(log4.seen), len(log4.dups))
	}
	for p, offs := range log4.offset["seg-4"] {
		if offs[0] != committed[p] || len(offs) != 50 {
			t.Fatalf("reader 4 read partition %d from offset %d (%d records), want from the committed %d (50 records)", p, offs[0], len(offs), committed[p])
		}
	}
	t.Logf("kafka-go: restart resumed at the committed offsets %v; %v in all", committed, time.Since(t0).Round(time.Millisecond))
}

func maps4Equal(c, e map[int32]int64) bool {
	if len(e) != gcPartitions {
		return false
	}
	for p, v := range e {
		if cv, ok := c[p]; !ok || cv != v {
			return false
		}
	}
	return true
}

// --- franz-go, cooperative-sticky ---

type kgoMember struct {
	name     string
	cl       *kgo.Client
	mu       sync.Mutex
	assigned map[int32]bool
	revoked  []int32 // every partition revoked, in order
	lost     []int32
	cancel   context.CancelFunc
	done     chan struct{}
}

func (m *kgoMember) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.assigned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (m *kgoMember) revokedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.revoked)
}

// TestFranzCooperativeStickyGroup: two franz-go members with the cooperative-sticky
// balancer (incremental rebalances: a member keeps its partitions across a rebalance and
// only gives up the ones moving). Rebalances are blocked while polled records are
// processed and committed, so nothing is consumed twice. When the second member joins,
// the first gives up two partitions; when it leaves (LeaveGroup), the first gets them back
// without revoking anything.
func TestFranzCooperativeStickyGroup(t *testing.T) {
	n := startNode(t, testConfig(t.TempDir()))
	defer n.Stop()
	const topic, group = "coop-group", "coop-g"
	adm := gcCreateTopic(t, n, topic)
	gcProduce(t, n, topic, "c", 0, 2000)
	log := newGCLog()

	start := func(name string) *kgoMember {
		m := &kgoMember{name: name, assigned: map[int32]bool{}, done: make(chan struct{})}
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr()), kgo.ClientID(name),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.Balancers(kgo.CooperativeStickyBalancer()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
			kgo.HeartbeatInterval(200*time.Millisecond), kgo.FetchMaxWait(100*time.Millisecond),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
				m.mu.Lock()
				defer m.mu.Unlock()
				for _, p := range a[topic] {
					m.assigned[p] = true
				}
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
				m.mu.Lock()
				defer m.mu.Unlock()
				for _, p := range r[topic] {
					delete(m.assigned, p)
					m.revoked = append(m.revoked, p)
				}
			}),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
				m.mu.Lock()
				defer m.mu.Unlock()
				for _, p := range l[topic] {
					delete(m.assigned, p)
					m.lost = append(m.lost, p)
				}
			}),
		)
		if err != nil {
			t.Fatal(err)
		}
		m.cl = cl
		ctx, cancel := context.WithCancel(context.Background())
		m.cancel = cancel
		go func() {
			defer close(m.done)
			for ctx.Err() == nil {
				pctx, pc := context.WithTimeout(ctx, 200*time.Millisecond)
				fs := cl.PollRecords(pctx, 500)
				pc()
				fs.EachError(func(tp string, p int32, err error) {
					if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
						log.err("%s: fetch %s/%d: %v", name, tp, p, err)
					}
				})
				recs := fs.Records()
				for _, r := range recs {
					log.add(name, r.Partition, r.Offset, string(r.Value))
				}
				if len(recs) > 0 {
					if err := cl.CommitRecords(context.Background(), recs...); err != nil {
						log.err("%s: commit: %v", name, err)
					}
				}
				cl.AllowRebalance()
			}
		}()
		t.Cleanup(func() { cancel(); <-m.done; cl.Close() })
		return m
	}
	state := func() string {
		_, d := gcAssignment(adm, group, topic)
		return fmt.Sprintf("%s; %s; errors %v", d, log.summary(), log.errors())
	}
	t0 := time.Now()
	a := start("coop-a")
	gcWait(t, 10*time.Second, "a to hold every partition", func() bool { return len(a.partitions()) == gcPartitions }, state)
	b := start("coop-b")
	gcWait(t, 15*time.Second, "both members to hold two partitions", func() bool {
		pa, pb := a.partitions(), b.partitions()
		as, _ := gcAssignment(adm, group, topic)
		return len(pa) == 2 && len(pb) == 2 && slices.Equal(as["coop-a"], pa) && slices.Equal(as["coop-b"], pb)
	}, func() string { return fmt.Sprintf("a %v b %v; %s", a.partitions(), b.partitions(), state()) })
	t.Logf("cooperative: a %v b %v after %v; a had %d partitions revoked", a.partitions(), b.partitions(), time.Since(t0).Round(time.Millisecond), a.revokedCount())
	gcWait(t, 10*time.Second, "the first 2000 records", func() bool { return log.missing("c", 0, 2000) == 0 }, state)
	gcProduce(t, n, topic, "c", 2000, 2400) // both members consume some
	gcWait(t, 10*time.Second, "400 more records", func() bool { return log.missing("c", 2000, 2400) == 0 }, state)

	revokedBefore := a.revokedCount()
	t1 := time.Now()
	b.cancel()
	<-b.done
	b.cl.Close() // leaves the group
	gcWait(t, 10*time.Second, "a to take over all partitions", func() bool { return len(a.partitions()) == gcPartitions }, state)
	t.Logf("a holds %v %v after b left", a.partitions(), time.Since(t1).Round(time.Millisecond))
	gcProduce(t, n, topic, "c", 2400, 3400)
	gcWait(t, 10*time.Second, "the 1000 records produced after b left", func() bool { return log.missing("c", 2400, 3400) == 0 }, state)
	gcWait(t, 5*time.Second, "committed offsets at the end", func() bool {
		c, e := gcOffsets(t, adm, group, topic)
		return maps4Equal(c, e)
	}, state)
	a.mu.Lock()
	if extra := a.revoked[revokedBefore:]; len(extra) > 0 {
		t.Errorf("a had partitions %v revoked when b left; a cooperative rebalance only adds b's partitions", extra)
	}
	if len(a.lost) > 0 {
		t.Errorf("a lost partitions %v", a.lost)
	}
	a.mu.Unlock()
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.seen) != 3400 {
		t.Errorf("consumed %d distinct values, want 3400", len(log.seen))
	}
	if len(log.dups) > 0 {
		t.Errorf("%d records consumed twice, first %v", len(log.dups), log.dups[:min(5, len(log.dups))])
	}
	if len(log.errs) > 0 {
		t.Errorf("client errors: %v", log.errs)
	}
	t.Logf("franz-go cooperative: a %v, b %v; %v", log.by["coop-a"], log.by["coop-b"], time.Since(t0).Round(time.Millisecond))
}
