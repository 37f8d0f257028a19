package kafka

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaMember is one sarama ConsumerGroup member recording its claims and messages.
type saramaMember struct {
	t     *testing.T
	name  string
	group sarama.ConsumerGroup
	done  chan struct{}

	mu      sync.Mutex
	claims  map[int32]bool
	seen    map[string]int
	changed chan struct{}
}

func (m *saramaMember) update(f func()) {
	m.mu.Lock()
	f()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

func (m *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	m.update(func() {
		for _, ps := range s.Claims() {
			for _, p := range ps {
				m.claims[p] = true
			}
		}
	})
	return nil
}

func (m *saramaMember) Cleanup(sarama.ConsumerGroupSession) error {
	m.update(func() { clear(m.claims) })
	return nil
}

func (m *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for msg := range c.Messages() {
		m.update(func() { m.seen[string(msg.Value)]++ })
		s.MarkMessage(msg, "")
	}
	return nil
}

func (m *saramaMember) waitFor(what string, cond func() bool) {
	m.t.Helper()
	ctx := testCtx(m.t)
	for {
		m.mu.Lock()
		ok, ch := cond(), m.changed
		m.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			m.t.Fatalf("%s: timed out waiting for %s", m.name, what)
		}
	}
}

func (m *saramaMember) seenAll(prefix string, n int) bool {
	for i := range n {
		if m.seen[fmt.Sprintf("%s-%d", prefix, i)] == 0 {
			return false
		}
	}
	return true
}

func (m *saramaMember) close() {
	select {
	case <-m.done:
		return
	default:
	}
	if err := m.group.Close(); err != nil {
		m.t.Errorf("%s: close: %v", m.name, err)
	}
	<-m.done
}

func startSaramaMember(t *testing.T, addr, name, groupID, topic string, v sarama.KafkaVersion) *saramaMember {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = v
	cfg.ClientID = name
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Group.Heartbeat.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	g, err := sarama.NewConsumerGroup([]string{addr}, groupID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &saramaMember{t: t, name: name, group: g, done: make(chan struct{}), claims: map[int32]bool{}, seen: map[string]int{}, changed: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			err := g.Consume(context.Background(), []string{topic}, m)
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return
			}
			if err != nil {
				t.Logf("%s: consume: %v", name, err)
			}
		}
	}()
	t.Cleanup(m.close)
	return m
}

func TestGroupSarama(t *testing.T) {
	for _, v := range []sarama.KafkaVersion{sarama.V2_1_0_0, sarama.V3_6_0_0} {
		t.Run(v.String(), func(t *testing.T) {
			_, f, addr := startCore(t, Config{})
			const topic, groupID, parts = "sgt", "sg", 4
			f.createTopic(topic, parts)
			produceValues(t, addr, topic, "a", 20, parts)

			a := startSaramaMember(t, addr, "a", groupID, topic, v)
			a.waitFor("all partitions", func() bool { return len(a.claims) == parts })
			b := startSaramaMember(t, addr, "b", groupID, topic, v)
			b.waitFor("a share", func() bool { return len(b.claims) == parts/2 })
			a.waitFor("its share", func() bool { return len(a.claims) == parts/2 })
			b.close()
			a.waitFor("every partition after b left", func() bool { return len(a.claims) == parts })
			produceValues(t, addr, topic, "b", 20, parts)
			a.waitFor("every record", func() bool { return a.seenAll("a", 20) && a.seenAll("b", 20) })
			a.close() // commits the marked offsets and leaves

			for p, o := range committed(t, addr, groupID, topic) {
				if o != 10 {
					t.Fatalf("partition %d committed at %d, want 10", p, o)
				}
			}
			c := startSaramaMember(t, addr, "c", groupID, topic, v)
			produceValues(t, addr, topic, "c", 4, parts)
			c.waitFor("the new records", func() bool { return c.seenAll("c", 4) })
			c.mu.Lock()
			for val := range c.seen {
				if !strings.HasPrefix(val, "c-") {
					t.Errorf("restarted member consumed %q again", val)
				}
			}
			c.mu.Unlock()
		})
	}
}

// TestGroupKcat runs librdkafka's balanced consumer (kcat -G) when kcat is installed:
// it consumes, commits on close, and a second run resumes after the commit.
func TestGroupKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	_, f, addr := startCore(t, Config{})
	f.createTopic("kg", 2)
	run := func(args ...string) string {
		t.Helper()
		ctx := testCtx(t)
		cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", addr, "-q"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kcat %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	consume := func() []string {
		out := run("-G", "kgroup", "-e", "-f", "%s\n", "-X", "auto.offset.reset=earliest",
			"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500", "kg")
		return strings.Fields(out)
	}
	produceValues(t, addr, "kg", "a", 6, 2)
	if got := consume(); len(got) != 6 {
		t.Fatalf("first run consumed %v", got)
	}
	if got := committed(t, addr, "kgroup", "kg"); got[0] != 3 || got[1] != 3 {
		t.Fatalf("committed %v", got)
	}
	produceValues(t, addr, "kg", "b", 2, 2)
	if got := consume(); len(got) != 2 || !strings.HasPrefix(got[0], "b-") || !strings.HasPrefix(got[1], "b-") {
		t.Fatalf("second run consumed %v", got)
	}
}
