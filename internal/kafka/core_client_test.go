package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/record"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Tests driving the server with real franz-go clients.

func TestCoreProduceConsume(t *testing.T) {
	for _, tc := range []struct {
		name string
		acks kgo.Acks
		opts []kgo.Opt
	}{
		{"acks=all", kgo.AllISRAcks(), nil},
		{"acks=1", kgo.LeaderAck(), []kgo.Opt{kgo.DisableIdempotentWrite()}},
		{"acks=0", kgo.NoAck(), []kgo.Opt{kgo.DisableIdempotentWrite()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, f, addr := startCore(t, Config{})
			f.createTopic("t", 3)
			opts := append([]kgo.Opt{kgo.RequiredAcks(tc.acks), kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner())}, tc.opts...)
			pr := coreClient(t, addr, opts...)
			const n = 50
			ctx := testCtx(t)
			for i := range n {
				r := &kgo.Record{Value: fmt.Appendf(nil, "v%d", i), Partition: int32(i % 3)}
				if err := pr.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatalf("produce %d: %v", i, err)
				}
			}
			if tc.acks == kgo.NoAck() {
				// Acks=0 answers nothing; wait until the writes landed.
				f.waitFor(ctx, func() bool {
					var hw int64
					for _, p := range f.topics["t"].parts {
						hw += p.hw
					}
					return hw == n
				})
			}
			cons := coreClient(t, addr, kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			recs := consumeN(t, cons, n)
			if len(recs) != n {
				t.Fatalf("got %d records, want %d", len(recs), n)
			}
			seen := map[string]bool{}
			next := map[int32]int64{}
			for _, r := range recs {
				seen[string(r.Value)] = true
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
				}
				next[r.Partition]++
			}
			for i := range n {
				if !seen[fmt.Sprintf("v%d", i)] {
					t.Fatalf("record v%d not consumed", i)
				}
			}
		})
	}
}

func TestCoreMetadataAutoCreate(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	cl := coreClient(t, addr, kgo.AllowAutoTopicCreation())
	ctx := testCtx(t)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	_, ok := f.topics["auto"]
	f.mu.Unlock()
	if !ok {
		t.Fatal("topic not auto-created")
	}

	adm := kadm.NewClient(cl)
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.Cluster != "fake-cluster" || md.Controller != 1 || len(md.Brokers) != 1 {
		t.Fatalf("metadata: cluster %q controller %d brokers %v", md.Cluster, md.Controller, md.Brokers)
	}
	td, ok := md.Topics["auto"]
	if !ok || td.Err != nil || len(td.Partitions) != 1 || td.ID == [16]byte{} {
		t.Fatalf("topic auto: %+v", td)
	}
}

func TestCoreLongPollWokenByProduce(t *testing.T) {
	srv, f, addr := startCore(t, Config{})
	f.createTopic("lp", 1)
	const maxWait = 20 * time.Second
	cons := coreClient(t, addr, kgo.ConsumeTopics("lp"), kgo.FetchMaxWait(maxWait),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))

	got := make(chan []*kgo.Record, 1)
	go func() {
		fs := cons.PollFetches(context.Background())
		got <- fs.Records()
	}()

	// Wait until a fetch is parked on the partition, then produce.
	ctx := testCtx(t)
	if !f.waitFor(ctx, func() bool { return f.subscribers > 0 }) {
		t.Fatal("no fetch subscribed")
	}
	start := time.Now()
	pr := coreClient(t, addr)
	if err := pr.ProduceSync(ctx, &kgo.Record{Topic: "lp", Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case recs := <-got:
		if len(recs) != 1 || string(recs[0].Value) != "wake" {
			t.Fatalf("records %v", recs)
		}
	case <-ctx.Done():
		t.Fatal("consumer not woken")
	}
	if el := time.Since(start); el >= maxWait/2 {
		t.Fatalf("woken after %v, long poll was not woken by the produce", el)
	}
	if srv.Stats().Requests[1] == 0 {
		t.Fatal("no fetch counted")
	}
}

func TestCoreIncrementalFetchSessions(t *testing.T) {
	srv, f, addr := startCore(t, Config{})
	f.createTopic("s", 4)
	pr := coreClient(t, addr, kgo.DefaultProduceTopic("s"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	cons := coreClient(t, addr, kgo.ConsumeTopics("s"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(time.Second))
	ctx := testCtx(t)
	total := 0
	for round := range 5 {
		for i := range 8 {
			r := &kgo.Record{Value: fmt.Appendf(nil, "%d-%d", round, i), Partition: int32(i % 4)}
			if err := pr.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		total += 8
		recs := consumeN(t, cons, 8)
		if len(recs) != 8 {
			t.Fatalf("round %d: %d records", round, len(recs))
		}
	}
	// The consumer's session must have seen incremental fetches (epoch > 1).
	srv.sessions.mu.Lock()
	maxEpoch := int32(0)
	for _, fs := range srv.sessions.byID {
		fs.mu.Lock()
		maxEpoch = max(maxEpoch, fs.epoch)
		fs.mu.Unlock()
	}
	n := len(srv.sessions.byID)
	srv.sessions.mu.Unlock()
	if n == 0 || maxEpoch <= 2 {
		t.Fatalf("%d sessions, highest epoch %d: no incremental fetches", n, maxEpoch)
	}
	if total != 40 {
		t.Fatal(total)
	}
}

func TestCoreListOffsets(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("lo", 2)
	cl := coreClient(t, addr, kgo.DefaultProduceTopic("lo"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t)
	for i := range 5 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x"), Partition: 1}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	f.mu.Lock()
	f.topics["lo"].parts[1].logStart = 2
	f.mu.Unlock()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, "lo")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "lo")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32][2]int64{0: {0, 0}, 1: {2, 5}} {
		s, _ := starts.Lookup("lo", p)
		e, _ := ends.Lookup("lo", p)
		if s.Err != nil || e.Err != nil || s.Offset != want[0] || e.Offset != want[1] {
			t.Fatalf("partition %d: start %+v end %+v, want %v", p, s, e, want)
		}
	}
}

func TestCoreIdempotentProducer(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("idem", 1)
	cl := coreClient(t, addr, kgo.DefaultProduceTopic("idem"))
	ctx := testCtx(t)
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.initPIDs == 0 {
		t.Fatal("InitProducerID not called")
	}
	p := f.topics["idem"].parts[0]
	for _, b := range p.batches {
		h, err := record.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h.ProducerID != f.nextPID {
			t.Fatalf("batch producer id %d, want %d", h.ProducerID, f.nextPID)
		}
	}
	if p.hw != 10 {
		t.Fatalf("high watermark %d, want 10", p.hw)
	}
}
