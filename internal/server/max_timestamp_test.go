package server

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxTimestampOffset sends ListOffsets with timestamp -3 (v7) for partition 0 of topic.
func maxTimestampOffset(ctx context.Context, t *testing.T, c *kgo.Client, topic string) (offset, ts int64) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("ListOffsets -3: %v", err)
	}
	return p.Offset, p.Timestamp
}

// ListOffsets -3 (max timestamp) names the committed record with the largest timestamp,
// also while a producer keeps writing records with ever larger timestamps (the newest is
// then often stored but not committed yet), and again after a restart.
func TestMaxTimestampUnderLoad(t *testing.T) {
	cfg := testConfig(t.TempDir())
	n := startNode(t, cfg)
	const topic = "maxts"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(client(t, n))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	p := client(t, n, kgo.DefaultProduceTopic(topic))
	q := client(t, n)
	base := time.Now().Add(-time.Hour).UnixMilli()
	// Record i has offset i and timestamp base+i.
	record := func(i int64) *kgo.Record { return &kgo.Record{Value: []byte("v"), Timestamp: time.UnixMilli(base + i)} }
	if err := p.ProduceSync(ctx, record(0)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const records = 20000
	var wg sync.WaitGroup
	var failed atomic.Int64 // produce errors, checked once all are answered
	wg.Add(records - 1)
	last := int64(-1)
	for i := int64(1); i < records; i++ {
		p.Produce(ctx, record(i), func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
			wg.Done()
		})
		if i%250 == 0 {
			off, ts := maxTimestampOffset(ctx, t, q, topic)
			if off < last || off > i || ts != base+off {
				t.Fatalf("while producing record %d: -3 gives offset %d, timestamp %d (base %d); the last answer was offset %d", i, off, ts, base, last)
			}
			last = off
		}
	}
	wg.Wait()
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d produces failed", f)
	}
	// A late record (older timestamp) changes nothing.
	if err := p.ProduceSync(ctx, record(5)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := int64(records - 1)
	if off, ts := maxTimestampOffset(ctx, t, q, topic); off != want || ts != base+want {
		t.Fatalf("after the load: -3 gives offset %d, timestamp %d; want %d, %d", off, ts, want, base+want)
	}
	p.Close()
	q.Close()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n = startNode(t, cfg)
	defer n.Stop()
	if off, ts := maxTimestampOffset(ctx, t, client(t, n), topic); off != want || ts != base+want {
		t.Fatalf("after a restart: -3 gives offset %d, timestamp %d; want %d, %d", off, ts, want, base+want)
	}
}
