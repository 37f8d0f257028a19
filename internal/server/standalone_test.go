package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.Bind = "127.0.0.1"
	cfg.KafkaPort = 0
	cfg.HTTPPort = -1
	cfg.RaftTick = 10 * time.Millisecond
	return cfg
}

func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func client(t *testing.T, n *Node, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.KafkaAddr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// consumeAll reads a topic from the start until want records arrived.
func consumeAll(t *testing.T, n *Node, topic string, want int) []*kgo.Record {
	t.Helper()
	c := client(t, n, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < want {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(got), want)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Logf("fetch error %s/%d: %v", tp, p, err) })
		got = append(got, fs.Records()...)
	}
	return got
}

func TestStandaloneProduceConsumeRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	n := startNode(t, cfg)
	const topic = "orders"
	p := client(t, n, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		if err := p.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprintf("v%d", i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	got := consumeAll(t, n, topic, 300)
	if len(got) != 300 {
		t.Fatalf("got %d records", len(got))
	}
	p.Close()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	// After a restart the records are still there and offsets continue.
	n = startNode(t, cfg)
	defer n.Stop()
	ends, err := kadm.NewClient(client(t, n)).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 300 {
		t.Fatalf("end offsets sum to %d after restart", total)
	}
	p2 := client(t, n, kgo.DefaultProduceTopic(topic))
	r := &kgo.Record{Value: []byte("after"), Partition: 0}
	if err := p2.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got = consumeAll(t, n, topic, 301)
	seen := map[string]bool{}
	for _, rec := range got {
		seen[string(rec.Value)] = true
	}
	if len(seen) != 301 {
		t.Fatalf("%d distinct values after restart", len(seen))
	}
}
