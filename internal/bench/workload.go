package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kind is what a workload measures.
type Kind string

const (
	Produce Kind = "produce"
	Consume Kind = "consume"
	Latency Kind = "latency"
)

// Result is the outcome of one workload on one target.
type Result struct {
	Kind    Kind
	Size    int           // record value size
	Records int64         // records acknowledged (produce, latency) or read (consume)
	Bytes   int64         // value bytes of those records
	Elapsed time.Duration // from the first Produce (or poll) to the last ack (or record)
	Errors  int64         // records that failed
	// Latency quantiles, per record from the Produce call to its promise (produce and
	// latency workloads).
	P50, P99, P999, Max time.Duration
	// TargetRate is the rate a latency run aimed at (records/s).
	TargetRate float64
	// BrokerP50 and BrokerP99 are how long the brokers took to answer the Produce
	// requests of a latency run, by their own request-duration histograms (0 when the
	// target does not serve them; see metricsTarget).
	BrokerP50, BrokerP99 time.Duration
	// RequestP50 and RequestP99 are how long the client's Produce requests of a latency
	// run took, from writing each to reading its answer (franz-go's BrokerE2E without the
	// wait for the connection): the brokers' time plus the network and the client's own
	// reading, without the records' wait for a request to carry them.
	RequestP50, RequestP99 time.Duration
	// FirstErr is the first record error seen, if any.
	FirstErr error
	// Runs is how many runs were merged into this result; MinRate and MaxRate are the
	// lowest and highest record rates among them (see Merge).
	Runs             int
	MinRate, MaxRate float64
}

// RecordsPerSec is the achieved record rate.
func (r Result) RecordsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

// MBPerSec is the achieved rate of value bytes, in 10^6 bytes per second.
func (r Result) MBPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds()
}

// payload is a random buffer that record values are cut from one after the other, so
// that values differ and a batch of them is incompressible: consecutive values do not
// overlap, and the buffer (payloadBytes) is far larger than a batch, so no codec finds a
// repeat inside one batch.
type payload struct{ buf []byte }

const payloadBytes = 8 << 20

func newPayload(size int) payload {
	b := make([]byte, payloadBytes+size)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	_, _ = r.Read(b)
	return payload{b}
}

// value is the value of the i-th record of size bytes.
func (p payload) value(i int64, size int) []byte {
	off := int(uint64(i) * uint64(size) % payloadBytes)
	return p.buf[off : off+size : off+size]
}

// createTopic creates a topic and waits until each of its partitions has a leader.
func createTopic(ctx context.Context, cfg Config, bootstrap []string, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, cfg.Partitions, cfg.ReplicationFactor, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			if td, ok := md.Topics[topic]; ok && td.Err == nil && len(td.Partitions) == int(cfg.Partitions) {
				ready := true
				for _, p := range td.Partitions {
					if p.Err != nil || p.Leader < 0 {
						ready = false
					}
				}
				if ready {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leader for every partition: %w", topic, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// warmup produces a few records synchronously so that connections, metadata and the
// producer id are in place before timing starts. It returns how many it wrote.
func warmup(ctx context.Context, cl *kgo.Client, p payload, size int, n int) (int64, error) {
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Value: p.value(int64(i), size)}
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return 0, fmt.Errorf("warm-up produce: %w", err)
	}
	return int64(n), nil
}

// counters gathers the outcome of asynchronous produces.
type counters struct {
	hist     hist
	acked    atomic.Int64
	failed   atomic.Int64
	errOnce  sync.Once
	firstErr error
}

func (c *counters) promise(start time.Time) func(*kgo.Record, error) {
	return func(_ *kgo.Record, err error) {
		c.hist.add(time.Since(start))
		if err != nil {
			c.failed.Add(1)
			c.errOnce.Do(func() { c.firstErr = err })
			return
		}
		c.acked.Add(1)
	}
}

func (c *counters) result(kind Kind, size int, elapsed time.Duration) Result {
	return Result{
		Kind: kind, Size: size, Records: c.acked.Load(), Bytes: c.acked.Load() * int64(size),
		Elapsed: elapsed, Errors: c.failed.Load(),
		P50: c.hist.quantile(0.50), P99: c.hist.quantile(0.99), P999: c.hist.quantile(0.999),
		Max: time.Duration(c.hist.max.Load()), FirstErr: c.firstErr,
	}
}

// runProduce produces as fast as it can to topic, from cfg.Producers goroutines, until
// cfg.Records records were issued or cfg.Duration passed (or the machine's available
// memory fell under minFreeKB, see memoryLow). The result counts records
// written after the warm-up; written is every record in the topic afterwards.
func runProduce(ctx context.Context, cfg Config, bootstrap []string, topic string, size int) (res Result, written int64, err error) {
	cl, err := kgo.NewClient(append(cfg.clientOpts(bootstrap), kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		return Result{}, 0, err
	}
	defer cl.Close()
	p := newPayload(size)
	warm, err := warmup(ctx, cl, p, size, 100)
	if err != nil {
		return Result{}, 0, err
	}
	var c counters
	var issued atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for g := 0; g < cfg.Producers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := issued.Add(1)
				if i > int64(cfg.Records) || ctx.Err() != nil || (i%128 == 0 && time.Now().After(deadline)) ||
					(i%65536 == 0 && memoryLow()) {
					return
				}
				r := &kgo.Record{Value: p.value(i, size)}
				cl.Produce(ctx, r, c.promise(time.Now()))
			}
		}()
	}
	wg.Wait()
	if err := cl.Flush(ctx); err != nil {
		return Result{}, 0, err
	}
	res = c.result(Produce, size, time.Since(start))
	return res, warm + res.Records, nil
}

// runLatency produces at rate records/s from one pacing goroutine for cfg.LatencyDuration
// and reports the per-record latency. If the target cannot keep up, it stops issuing
// after twice that time (or once the machine's available memory falls under minFreeKB);
// the result then shows an achieved rate below the target rate.
func runLatency(ctx context.Context, cfg Config, bootstrap []string, topic string, size int, rate float64) (Result, error) {
	var requests requestTimer
	cl, err := kgo.NewClient(append(cfg.clientOpts(bootstrap), kgo.DefaultProduceTopic(topic), kgo.WithHooks(&requests))...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	p := newPayload(size)
	if _, err := warmup(ctx, cl, p, size, 100); err != nil {
		return Result{}, err
	}
	total := int64(rate * cfg.LatencyDuration.Seconds())
	if total < 1 {
		total = 1
	}
	var c counters
	start := time.Now()
	var sent int64
	giveUp := start.Add(2*cfg.LatencyDuration + time.Second) // when the target cannot keep up
	nextMemCheck := start
	for sent < total && ctx.Err() == nil && time.Now().Before(giveUp) {
		if now := time.Now(); now.After(nextMemCheck) {
			if memoryLow() {
				break
			}
			nextMemCheck = now.Add(100 * time.Millisecond)
		}
		due := int64(rate * time.Since(start).Seconds())
		if due > total {
			due = total
		}
		for ; sent < due; sent++ {
			r := &kgo.Record{Value: p.value(sent, size)}
			cl.Produce(ctx, r, c.promise(time.Now()))
		}
		time.Sleep(100 * time.Microsecond)
	}
	if err := cl.Flush(ctx); err != nil {
		return Result{}, err
	}
	res := c.result(Latency, size, time.Since(start))
	res.TargetRate = rate
	res.RequestP50, res.RequestP99 = requests.hist.quantile(0.50), requests.hist.quantile(0.99)
	return res, nil
}

// requestTimer records how long each successful Produce request took from being written
// to its answer being read (kgo.HookBrokerE2E). The warm-up's requests count too; they
// are few next to a latency run's.
type requestTimer struct{ hist hist }

func (r *requestTimer) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if key == 0 && e.Err() == nil {
		r.hist.add(e.TimeToWrite + e.ReadWait + e.TimeToRead)
	}
}

// runConsume reads topic from the start with one consumer until want records arrived
// (or cfg.Duration + 60 s passed, which is an error).
func runConsume(ctx context.Context, cfg Config, bootstrap []string, topic string, size int, want int64) (Result, error) {
	cl, err := kgo.NewClient(append(cfg.clientOpts(bootstrap),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+60*time.Second)
	defer cancel()
	var got, bytes int64
	var fetchErr error
	start := time.Now()
	for got < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("consumed %d of %d records from %s: %w", got, want, topic, errors.Join(ctx.Err(), fetchErr))
		}
		fs.EachError(func(_ string, _ int32, err error) { fetchErr = err })
		fs.EachRecord(func(r *kgo.Record) {
			got++
			bytes += int64(len(r.Value))
		})
	}
	return Result{Kind: Consume, Size: size, Records: got, Bytes: bytes, Elapsed: time.Since(start)}, nil
}
