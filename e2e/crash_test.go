//go:build e2e

package e2e

import (
	"context"
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

// Crash test: SIGKILL a standalone server while 8 goroutines produce with acks=all
// (franz-go, idempotent by default), restart it on the same data dir and check nothing
// acknowledged was lost, offsets have no gaps or repeats, and producing continues at the
// end offset. Three kill/restart cycles.

const (
	crashTopic      = "crash"
	crashPartitions = 3
	crashProducers  = 8      // goroutines
	crashClients    = 4      // franz-go clients they share
	crashAcksToKill = 20_000 // acknowledgements per cycle before the kill
)

// ackLog is every acknowledged record: partition -> offset -> value.
type ackLog struct {
	mu       sync.Mutex
	acks     map[int32]map[int64]string
	conflict []string // the same offset acknowledged with two values
	failed   atomic.Int64
	n        atomic.Int64
	perPart  [crashPartitions]atomic.Int64
}

func newAckLog() *ackLog { return &ackLog{acks: map[int32]map[int64]string{}} }

func (a *ackLog) add(p int32, off int64, v string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.acks[p]
	if m == nil {
		m = map[int64]string{}
		a.acks[p] = m
	}
	if old, ok := m[off]; ok && old != v {
		a.conflict = append(a.conflict, fmt.Sprintf("partition %d offset %d acknowledged as %q and %q", p, off, old, v))
	}
	m[off] = v
	a.n.Add(1)
	if p >= 0 && p < crashPartitions {
		a.perPart[p].Add(1)
	}
}

func (a *ackLog) snapshot() (map[int32]map[int64]string, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[int32]map[int64]string{}
	for p, m := range a.acks {
		out[p] = make(map[int64]string, len(m))
		for o, v := range m {
			out[p][o] = v
		}
	}
	return out, append([]string(nil), a.conflict...)
}

// TestCrashRestart: SIGKILL while producing, three times. Measured on 2 cores: ~1.5 s
// (20k acknowledgements take ~0.2 s; a restart ~0.1-0.3 s).
func TestCrashRestart(t *testing.T) {
	produceStopRestart(t, 3, "SIGKILL", (*server).kill)
}

// TestGracefulRestartWhileProducing: SIGTERM while producing; the server must exit
// cleanly (exit status 0, within 20 s) with clients connected, and lose nothing.
func TestGracefulRestartWhileProducing(t *testing.T) {
	produceStopRestart(t, 2, "SIGTERM", (*server).stop)
}

func produceStopRestart(t *testing.T, cycles int, how string, stopServer func(*server)) {
	s := startStandalone(t)
	adm := kadm.NewClient(client(t, []string{s.addr()}))
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, crashPartitions, 1, nil, crashTopic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	acks := newAckLog()
	for cycle := 1; cycle <= cycles; cycle++ {
		start := time.Now()
		before := acks.n.Load()
		load := startLoad(t, []string{s.addr()}, cycle, acks)
		// Kill after crashAcksToKill acknowledgements in this cycle, while producing.
		waitAcks(t, acks, before+crashAcksToKill, 90*time.Second, fmt.Sprintf("cycle %d", cycle))
		toKill := time.Since(start)
		stopServer(s)
		atKill := acks.n.Load() - before
		load.stop()
		killed := time.Now()

		s.start()
		s.waitReady(1, 60*time.Second)
		restarted := time.Since(killed)
		// The producers retry what was in flight at the kill; every record must resolve.
		flushStart := time.Now()
		load.flush(t, 60*time.Second)
		flushed := time.Since(flushStart)
		t.Logf("cycle %d: %d acks before %s (after %v), %d after restart, %d failed; restart took %v, flush %v",
			cycle, atKill, how, toKill.Round(time.Millisecond), acks.n.Load()-before-atKill, acks.failed.Load(),
			restarted.Round(time.Millisecond), flushed.Round(time.Millisecond))
		verifyCrashLog(t, []string{s.addr()}, acks, cycle)
	}
}

// load is crashProducers goroutines producing numbered records through crashClients
// franz-go clients (each its own idempotent producer id and connection, so several
// produce requests are in flight at any time), recording every acknowledgement.
type load struct {
	prods  []*kgo.Client
	stopCh chan struct{}
	wg     sync.WaitGroup
}

func startLoad(t *testing.T, addrs []string, cycle int, acks *ackLog) *load {
	t.Helper()
	l := &load{stopCh: make(chan struct{})}
	for range crashClients {
		l.prods = append(l.prods, client(t, addrs, kgo.DefaultProduceTopic(crashTopic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
			kgo.MetadataMinAge(100*time.Millisecond))) // the 5s default delays the retry after a restart
	}
	ctx := context.Background()
	for g := 0; g < crashProducers; g++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			inflight := make(chan struct{}, 256)
			for seq := 0; ; seq++ {
				select {
				case <-l.stopCh:
					return
				case inflight <- struct{}{}:
				}
				v := fmt.Sprintf("c%d-g%d-%d", cycle, g, seq)
				r := &kgo.Record{Partition: int32((g + seq) % crashPartitions), Value: []byte(v)}
				l.prods[g%crashClients].Produce(ctx, r, func(r *kgo.Record, err error) {
					<-inflight
					if err != nil {
						acks.failed.Add(1)
						return
					}
					acks.add(r.Partition, r.Offset, v)
				})
			}
		}()
	}
	return l
}

// stop ends the producing goroutines (records already handed to the clients stay).
func (l *load) stop() {
	close(l.stopCh)
	l.wg.Wait()
}

// flush waits until every record handed to the clients is acknowledged or failed.
func (l *load) flush(t *testing.T, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for i, prod := range l.prods {
		if err := prod.Flush(ctx); err != nil {
			t.Fatalf("producer %d flush: %v (buffered %d records)", i, err, prod.BufferedProduceRecords())
		}
		prod.Close()
	}
}

// waitAcks polls until acks holds at least n acknowledgements.
func waitAcks(t *testing.T, acks *ackLog, n int64, timeout time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for acks.n.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d acknowledgements after %v, waiting for %d (%d failed)", what, acks.n.Load(), timeout, n, acks.failed.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// verifyCrashLog reads every partition back and checks it against the acknowledgements,
// then produces one record per partition and checks it lands at the end offset.
func verifyCrashLog(t *testing.T, addrs []string, acks *ackLog, cycle int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := client(t, addrs)
	adm := kadm.NewClient(cl)
	startOffs, err := adm.ListStartOffsets(ctx, crashTopic)
	if err != nil || startOffs.Error() != nil {
		t.Fatalf("cycle %d: list start offsets: %v %v", cycle, err, startOffs.Error())
	}
	endOffs, err := adm.ListEndOffsets(ctx, crashTopic)
	if err != nil || endOffs.Error() != nil {
		t.Fatalf("cycle %d: list end offsets: %v %v", cycle, err, endOffs.Error())
	}
	ends := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	for p := int32(0); p < crashPartitions; p++ {
		so, ok1 := startOffs.Lookup(crashTopic, p)
		eo, ok2 := endOffs.Lookup(crashTopic, p)
		if !ok1 || !ok2 {
			t.Fatalf("cycle %d: partition %d missing from ListOffsets", cycle, p)
		}
		if so.Offset != 0 {
			t.Fatalf("cycle %d: partition %d log start %d, want 0", cycle, p, so.Offset)
		}
		ends[p] = eo.Offset
		offsets[p] = kgo.NewOffset().At(0)
	}

	// Read [0, end) of every partition.
	cons := client(t, addrs, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{crashTopic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond))
	logs := map[int32][]*kgo.Record{}
	done := func() bool {
		for p, e := range ends {
			if int64(len(logs[p])) < e {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			got := map[int32]int{}
			for p, l := range logs {
				got[p] = len(l)
			}
			t.Fatalf("cycle %d: consumed %v of %v", cycle, got, ends)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("cycle %d: fetch partition %d: %v", cycle, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				logs[r.Partition] = append(logs[r.Partition], r)
			}
		})
	}
	cons.Close()

	acked, conflicts := acks.snapshot()
	for _, c := range conflicts {
		t.Errorf("cycle %d: %s", cycle, c)
	}
	values := map[string]string{} // value -> where
	var dups []string
	var total int64
	for p := int32(0); p < crashPartitions; p++ {
		for i, r := range logs[p] {
			if r.Offset != int64(i) {
				t.Fatalf("cycle %d: partition %d: record %d has offset %d (gap or repeat)", cycle, p, i, r.Offset)
			}
			v := string(r.Value)
			if !strings.HasPrefix(v, "c") && !strings.HasPrefix(v, "probe-") {
				t.Fatalf("cycle %d: partition %d offset %d: foreign value %q", cycle, p, r.Offset, v)
			}
			if where, ok := values[v]; ok {
				dups = append(dups, fmt.Sprintf("%q at %s and p%d@%d", v, where, p, r.Offset))
			}
			values[v] = fmt.Sprintf("p%d@%d", p, r.Offset)
		}
		total += int64(len(logs[p]))
		// Every acknowledged record is where it was acknowledged.
		var missing []int64
		for off, v := range acked[p] {
			if off >= int64(len(logs[p])) {
				missing = append(missing, off)
				continue
			}
			if got := string(logs[p][off].Value); got != v {
				t.Fatalf("cycle %d: partition %d offset %d holds %q, acknowledged %q", cycle, p, off, got, v)
			}
		}
		if len(missing) > 0 {
			sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
			t.Fatalf("cycle %d: partition %d: %d acknowledged records lost (log ends at %d; first lost offset %d)",
				cycle, p, len(missing), len(logs[p]), missing[0])
		}
	}
	if len(dups) > 0 {
		// The idempotent producer retried records that had been written before the
		// kill and the restarted broker appended them again.
		t.Errorf("cycle %d: %d values appear twice in the log (idempotent retries duplicated after restart), e.g. %s",
			cycle, len(dups), strings.Join(dups[:min(3, len(dups))], "; "))
	}
	t.Logf("cycle %d: log holds %d records (ends %v), all %d acknowledgements present", cycle, total, ends, acks.n.Load())

	// Producing after the restart continues at the end offset.
	prod := client(t, addrs, kgo.DefaultProduceTopic(crashTopic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < crashPartitions; p++ {
		v := fmt.Sprintf("probe-c%d-p%d", cycle, p)
		r, err := prod.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(v)}).First()
		if err != nil {
			t.Fatalf("cycle %d: produce after restart to partition %d: %v", cycle, p, err)
		}
		if r.Offset != ends[p] {
			t.Fatalf("cycle %d: produce after restart to partition %d landed at %d, want the end offset %d", cycle, p, r.Offset, ends[p])
		}
		acks.add(p, r.Offset, v)
	}
	prod.Close()
}
