// Package verify is a Jepsen-style fault-injection verifier for a Chronik cluster of
// real chronik-server processes: franz-go producers (idempotent, acks=all) write
// "p<producer>-<seq>" values while a seeded nemesis SIGKILLs, freezes (SIGSTOP/SIGCONT)
// and gracefully restarts one node at a time; afterwards every partition is read back
// and checked against every acknowledgement (lost, duplicated, reordered, gaps), and
// the time each fault kept its partitions from acknowledging is measured.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Fault kinds.
const (
	FaultKill    = "kill"    // SIGKILL a node, restart it 2-5 s later
	FaultPause   = "pause"   // SIGSTOP a node for 2-6 s, then SIGCONT
	FaultRestart = "restart" // SIGTERM a node, start it again as soon as it exited
)

// AllFaults are the fault kinds in the order they are reported.
var AllFaults = []string{FaultKill, FaultPause, FaultRestart}

// Config configures a Run.
type Config struct {
	Binary string // chronik-server
	// Duration is how long the nemesis injects faults (a fault under way when it ends
	// is healed first).
	Duration time.Duration
	Faults   []string // subset of AllFaults
	Seed     uint64
	// Producers is the number of producing clients (0 = 4); Rate their combined
	// records/s (0 = 2000).
	Producers int
	Rate      int
	// Partitions of the topic (0 = 3); it is replicated on every node.
	Partitions int32
	// MaxUnavailability is the bound on each fault's unavailability (0 = 3 s).
	MaxUnavailability time.Duration
	// ProduceTimeout is the producers' broker-side produce timeout (0 = 1.5 s); a
	// produce request unanswered after it plus 0.5 s (a frozen leader) is retried.
	ProduceTimeout time.Duration
	DataDir        string
	Keep           bool
	// Log receives progress lines (nil = discarded).
	Log io.Writer
}

func (c *Config) defaults() error {
	if c.Producers <= 0 {
		c.Producers = 4
	}
	if c.Rate <= 0 {
		c.Rate = 2000
	}
	if c.Partitions <= 0 {
		c.Partitions = 3
	}
	if c.ProduceTimeout <= 0 {
		c.ProduceTimeout = 1500 * time.Millisecond
	}
	if c.MaxUnavailability <= 0 {
		c.MaxUnavailability = 3 * time.Second
	}
	if c.Duration <= 0 {
		return errors.New("duration must be positive")
	}
	if len(c.Faults) == 0 {
		c.Faults = AllFaults
	}
	for _, f := range c.Faults {
		switch f {
		case FaultKill, FaultPause, FaultRestart:
		default:
			return fmt.Errorf("unknown fault %q (want %s)", f, strings.Join(AllFaults, ","))
		}
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return nil
}

// ParseFaults splits a comma-separated fault list.
func ParseFaults(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		switch f {
		case FaultKill, FaultPause, FaultRestart:
			out = append(out, f)
		default:
			return nil, fmt.Errorf("unknown fault %q (want %s)", f, strings.Join(AllFaults, ","))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no faults given")
	}
	return out, nil
}

const topic = "chronik-verify"

// ack is one acknowledged record.
type ack struct {
	part int32
	off  int64
	val  string
	sent time.Time // handed to Produce
	at   time.Time // acknowledged
}

// Fault is one injected fault.
type Fault struct {
	Kind     string
	Node     int
	At       time.Time
	Healed   time.Time // SIGCONT sent / process started again
	InSync   time.Time // every partition back to a full ISR (zero if it did not within the bound)
	Led      []int32   // partitions the node led when the fault began
	Affected []int32   // partitions whose acknowledgements are timed (Led, or all if none)
	// Unavailable is the longest, over Affected, time from At until the first
	// acknowledgement of a record produced at or after At; Unresolved when some
	// partition had none by the end of the run (Unavailable is then a lower bound).
	Unavailable time.Duration
	Unresolved  bool
	// NewLeader is the time from At until another node reported itself leader of
	// every partition in Led (the server-side failover; 0 when Led is empty, -1 if it
	// did not happen within 15 s).
	NewLeader time.Duration
	WorstPart int32
	Note      string
}

type runner struct {
	cfg     Config
	cl      *Cluster
	start   time.Time
	logMu   sync.Mutex
	ackMu   sync.Mutex
	acks    []ack
	failed  atomic.Int64
	failErr atomic.Value // first produce error
}

func (r *runner) logf(format string, args ...any) {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.cfg.Log, "[%7.3fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// Run starts a cluster, produces under faults for cfg.Duration, heals, reads everything
// back and checks it. The error is for a run that could not be carried out (cluster
// did not start, records could not be read back); check failures are in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, start: time.Now()}
	r.cl = &Cluster{Binary: cfg.Binary, Nodes: 3, DataDir: cfg.DataDir, Keep: cfg.Keep}
	if err := r.cl.Start(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	defer r.cl.Close()
	for _, n := range r.cl.All() {
		r.logf("node %d pid %d kafka %s", n.ID, n.PID(), n.Addr)
	}
	if cfg.Keep {
		r.logf("cluster directory (kept): %s", r.cl.Root())
	}
	res, err := r.run(ctx)
	if err != nil {
		for _, n := range r.cl.All() {
			err = fmt.Errorf("%w\n--- node %d log tail:\n%s", err, n.ID, n.LogTail(1500))
		}
	}
	return res, err
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	adm, err := kgo.NewClient(kgo.SeedBrokers(r.cl.Addrs()...))
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	resp, err := kadm.NewClient(adm).CreateTopic(actx, cfg.Partitions, int16(len(r.cl.All())), nil, topic)
	cancel()
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return nil, fmt.Errorf("create topic: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = r.cl.WaitInSync(sctx, topic, cfg.Partitions)
	cancel()
	if err != nil {
		return nil, err
	}
	r.logf("topic %s: %d partitions, replication factor %d, in sync", topic, cfg.Partitions, len(r.cl.All()))

	// Producers.
	var clients []*kgo.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := 0; i < cfg.Producers; i++ {
		c, err := kgo.NewClient(kgo.SeedBrokers(r.cl.Addrs()...),
			kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent is franz-go's default
			kgo.RecordRetries(1_000_000),
			kgo.UnknownTopicRetries(-1),
			kgo.MetadataMinAge(100*time.Millisecond),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
			kgo.DialTimeout(time.Second),
			// A frozen leader never answers: give up on a produce request after 2 s
			// (1.5 s broker-side timeout + 0.5 s) and retry, rather than after 20 s.
			kgo.ProduceRequestTimeout(cfg.ProduceTimeout),
			kgo.RequestTimeoutOverhead(500*time.Millisecond),
		)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	stopProducing := make(chan struct{})
	var pwg sync.WaitGroup
	interval := time.Duration(float64(time.Second) * float64(cfg.Producers) / float64(cfg.Rate))
	for i, c := range clients {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			r.produce(ctx, i, c, interval, stopProducing)
		}()
	}

	// Wait for the first acknowledgement on every partition before faults begin.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = r.waitAcksEverywhere(wctx)
	cancel()
	if err != nil {
		close(stopProducing)
		pwg.Wait()
		return nil, err
	}
	r.logf("producing: %d producers, %d records/s in all", cfg.Producers, cfg.Rate)

	faults := r.nemesis(ctx)

	// Heal (the nemesis heals its last fault) and drain.
	close(stopProducing)
	pwg.Wait()
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	for i, c := range clients {
		if err := c.Flush(fctx); err != nil {
			cancel()
			return nil, fmt.Errorf("producer %d flush: %w (%d records still buffered)", i, err, c.BufferedProduceRecords())
		}
	}
	cancel()
	ended := time.Now()
	r.logf("producers flushed: %d acknowledged, %d failed", len(r.acks), r.failed.Load())
	if e, ok := r.failErr.Load().(error); ok {
		r.logf("first produce error: %v", e)
	}
	sctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	err = r.cl.WaitInSync(sctx, topic, cfg.Partitions)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("after healing: %w", err)
	}

	logs, err := readAll(ctx, r.cl.Addrs(), cfg.Partitions, 90*time.Second)
	if err != nil {
		return nil, err
	}
	r.logf("read back %d partitions", len(logs))

	r.ackMu.Lock()
	acks := r.acks
	r.ackMu.Unlock()
	res := check(acks, logs, cfg.Partitions)
	res.Seed = cfg.Seed
	res.Duration = cfg.Duration
	res.Failed = r.failed.Load()
	res.MaxUnavailability = cfg.MaxUnavailability
	res.Faults = measureUnavailability(faults, acks, ended)
	return res, nil
}

// produce writes p<i>-<seq> to partition seq%partitions at the given interval, with
// at most 128 records in flight, until stop is closed.
func (r *runner) produce(ctx context.Context, i int, c *kgo.Client, interval time.Duration, stop <-chan struct{}) {
	inflight := make(chan struct{}, 128)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case inflight <- struct{}{}:
		}
		v := fmt.Sprintf("p%d-%d", i, seq)
		sent := time.Now()
		rec := &kgo.Record{Partition: int32(seq) % r.cfg.Partitions, Value: []byte(v)}
		c.Produce(ctx, rec, func(rec *kgo.Record, err error) {
			<-inflight
			if err != nil {
				r.failed.Add(1)
				r.failErr.CompareAndSwap(nil, err)
				return
			}
			now := time.Now()
			r.ackMu.Lock()
			r.acks = append(r.acks, ack{part: rec.Partition, off: rec.Offset, val: v, sent: sent, at: now})
			r.ackMu.Unlock()
		})
	}
}

func (r *runner) waitAcksEverywhere(ctx context.Context) error {
	for {
		seen := map[int32]bool{}
		r.ackMu.Lock()
		for _, a := range r.acks {
			seen[a.part] = true
		}
		r.ackMu.Unlock()
		if int32(len(seen)) == r.cfg.Partitions {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no acknowledgement on every partition before faults (%d of %d; %d failed, first error %v): %w",
				len(seen), r.cfg.Partitions, r.failed.Load(), r.failErr.Load(), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// nemesis injects a random fault every 1-3 s of quiet, one node at a time, for
// cfg.Duration, healing each (and waiting for every partition to be fully in sync
// again, up to 30 s) before the next.
func (r *runner) nemesis(ctx context.Context) []*Fault {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, r.cfg.Seed^0x9e3779b97f4a7c15))
	end := time.Now().Add(r.cfg.Duration)
	var faults []*Fault
	for {
		sleep(ctx, between(rng, time.Second, 3*time.Second))
		if ctx.Err() != nil || time.Now().After(end) {
			return faults
		}
		kind := r.cfg.Faults[rng.IntN(len(r.cfg.Faults))]
		targetLeader := rng.IntN(4) != 0 // 3 in 4: the leader of a random partition
		part := int32(rng.IntN(int(r.cfg.Partitions)))
		randomNode := 1 + rng.IntN(len(r.cl.All()))
		hold := between(rng, 2*time.Second, 5*time.Second)
		if kind == FaultPause {
			hold = between(rng, 2*time.Second, 6*time.Second)
		}

		lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		leaders := r.cl.Leaders(lctx, topic)
		cancel()
		victim := randomNode
		if l, ok := leaders[part]; ok && targetLeader {
			victim = l
		}
		f := &Fault{Kind: kind, Node: victim}
		for p := int32(0); p < r.cfg.Partitions; p++ {
			if leaders[p] == victim {
				f.Led = append(f.Led, p)
			}
		}
		f.Affected = f.Led
		if len(f.Affected) == 0 {
			for p := int32(0); p < r.cfg.Partitions; p++ {
				f.Affected = append(f.Affected, p)
			}
		}
		n := r.cl.Node(victim)
		pid := n.PID()
		f.At = time.Now()
		leaderDone := make(chan struct{})
		go func() {
			defer close(leaderDone)
			f.NewLeader = r.watchFailover(ctx, f.At, victim, f.Led)
		}()
		var err error
		switch kind {
		case FaultKill:
			err = n.Kill()
			if err == nil {
				r.logf("fault %d: SIGKILL node %d (pid %d, leads %v); restart in %v", len(faults)+1, victim, pid, f.Led, hold.Round(time.Millisecond))
				sleep(ctx, hold)
				err = n.Start()
			}
		case FaultPause:
			err = n.Pause()
			if err == nil {
				r.logf("fault %d: SIGSTOP node %d (pid %d, leads %v) for %v", len(faults)+1, victim, pid, f.Led, hold.Round(time.Millisecond))
				sleep(ctx, hold)
				err = n.Resume()
			}
		case FaultRestart:
			r.logf("fault %d: SIGTERM node %d (pid %d, leads %v), start again once exited", len(faults)+1, victim, pid, f.Led)
			if !n.Terminate(10 * time.Second) {
				f.Note = "did not exit within 10 s of SIGTERM; killed"
			}
			err = n.Start()
		}
		f.Healed = time.Now()
		<-leaderDone
		faults = append(faults, f)
		if err != nil {
			f.Note = strings.TrimSpace(f.Note + " " + err.Error())
			r.logf("fault %d: %v", len(faults), err)
		}
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := r.cl.WaitReady(hctx, victim); err != nil {
			r.logf("fault %d: node %d not ready again: %v", len(faults), victim, err)
			f.Note = strings.TrimSpace(f.Note + " not ready again within 30 s")
		} else if err := r.cl.WaitInSync(hctx, topic, r.cfg.Partitions); err != nil {
			r.logf("fault %d: %v", len(faults), err)
			f.Note = strings.TrimSpace(f.Note + " not in sync again within 30 s")
		} else {
			f.InSync = time.Now()
		}
		cancel()
		r.logf("fault %d healed %v after it began; in sync %v after", len(faults),
			f.Healed.Sub(f.At).Round(time.Millisecond), sinceOrNone(f.InSync, f.At))
	}
}

// watchFailover polls the nodes other than victim until each reports a leader other
// than victim for every partition of led, and returns the time since at from when they
// did (0 when led is empty, -1 after 15 s without).
func (r *runner) watchFailover(ctx context.Context, at time.Time, victim int, led []int32) time.Duration {
	if len(led) == 0 {
		return 0
	}
	deadline := at.Add(15 * time.Second)
	for {
		vctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		views := r.cl.ViewsExcept(vctx, topic, victim)
		cancel()
		now := time.Now()
		leaders := leadersOf(views)
		moved := true
		for _, p := range led {
			if l, ok := leaders[p]; !ok || l == victim {
				moved = false
			}
		}
		if moved {
			return now.Sub(at)
		}
		if now.After(deadline) || ctx.Err() != nil {
			return -1
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

func sinceOrNone(t, from time.Time) string {
	if t.IsZero() {
		return "(never)"
	}
	return t.Sub(from).Round(time.Millisecond).String()
}

// measureUnavailability fills each fault's Unavailable: for every affected partition,
// the time from the fault to the first acknowledgement of a record handed to the
// producer at or after the fault.
func measureUnavailability(faults []*Fault, acks []ack, ended time.Time) []*Fault {
	for _, f := range faults {
		first := map[int32]time.Time{}
		for _, a := range acks {
			if a.sent.Before(f.At) {
				continue
			}
			if t, ok := first[a.part]; !ok || a.at.Before(t) {
				first[a.part] = a.at
			}
		}
		f.WorstPart = -1
		for _, p := range f.Affected {
			t, ok := first[p]
			var d time.Duration
			if ok {
				d = t.Sub(f.At)
			} else {
				d = ended.Sub(f.At)
				f.Unresolved = true
			}
			if d > f.Unavailable || f.WorstPart < 0 {
				f.Unavailable, f.WorstPart = d, p
			}
		}
	}
	return faults
}

// readAll reads every partition of the topic from its log start to its end offset
// (as listed once producing is over), through any node.
func readAll(ctx context.Context, addrs []string, partitions int32, timeout time.Duration) (map[int32][]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	endOffs, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = endOffs.Error()
	}
	cl.Close()
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	ends := map[int32]int64{}
	startAt := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		so, ok1 := starts.Lookup(topic, p)
		eo, ok2 := endOffs.Lookup(topic, p)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("partition %d missing from ListOffsets", p)
		}
		ends[p] = eo.Offset
		startAt[p] = so.Offset
		from[p] = kgo.NewOffset().At(so.Offset)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addrs...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	logs := map[int32][]*kgo.Record{}
	last := map[int32]int64{}
	for p := range ends {
		logs[p] = nil
		last[p] = startAt[p] - 1
	}
	var fetchErr error
	for {
		done := true
		for p, e := range ends {
			if last[p]+1 < e {
				done = false
			}
		}
		if done {
			return logs, nil
		}
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			got := map[int32]int64{}
			for p := range ends {
				got[p] = last[p] + 1
			}
			return nil, fmt.Errorf("reading back: reached offsets %v of %v in %v (last fetch error %v)", got, ends, timeout, fetchErr)
		}
		fs.EachError(func(_ string, p int32, err error) { fetchErr = fmt.Errorf("partition %d: %w", p, err) })
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Offset < ends[rec.Partition] {
				logs[rec.Partition] = append(logs[rec.Partition], rec)
			}
			if rec.Offset > last[rec.Partition] {
				last[rec.Partition] = rec.Offset
			}
		})
	}
}
