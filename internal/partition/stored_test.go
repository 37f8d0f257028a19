package partition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	plog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/record"
	"github.com/chronik-stream/chronik/internal/replication"
	"github.com/chronik-stream/chronik/internal/wal"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.etcd.io/raft/v3/raftpb"
)

const testGroup = 5

func testBatch(t *testing.T, pid int64, seq int32, values ...string) []byte {
	t.Helper()
	spec := record.BuildSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	if pid >= 0 {
		spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence = pid, 0, seq
	}
	for _, v := range values {
		spec.Records = append(spec.Records, record.Record{Value: []byte(v)})
	}
	b, err := record.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replica is one node of a test cluster: a WAL, a host and the partition.
type replica struct {
	id   uint64
	dir  string
	w    *wal.WAL
	host *replication.Host
	p    *Partition
}

func startReplica(t *testing.T, net *replication.MemNetwork, id uint64, dir string, voters []uint64) *replica {
	t.Helper()
	w, rec, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := replication.Config{NodeID: id, WAL: w, Tick: 10 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1, CheckpointEvery: time.Hour}
	if net != nil {
		cfg.Transport, cfg.Live = net.Transport(id), net.Live(id)
	}
	h := replication.NewHost(cfg, rec)
	if net != nil {
		net.Register(id, h)
	}
	p, err := Open("t", 0, filepath.Join(dir, "t-0"), plog.Config{SegmentBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddGroup(testGroup, voters, p); err != nil {
		t.Fatal(err)
	}
	h.Start()
	r := &replica{id: id, dir: dir, w: w, host: h, p: p}
	t.Cleanup(r.stop)
	return r
}

// stop ends the replica without a checkpoint, as a crash after the last fsync would.
func (r *replica) stop() {
	r.host.Stop()
	r.w.Close()
	r.p.Close()
}

func (r *replica) produce(ctx context.Context, batch []byte) (*ProduceResult, error) {
	v, err := r.host.Propose(ctx, testGroup, EncodeProduce(replication.HeaderRoom, batch, -1))
	if err != nil {
		return nil, err
	}
	res := v.(*ProduceResult)
	if res.Err != nil {
		return nil, res.Err
	}
	return res, nil
}

// produceValues produces n single-record batches of about 50 bytes each, so that a
// test log of 4 KiB segments spans several segments.
func (r *replica) produceValues(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := r.produce(ctx, testBatch(t, -1, 0, fmt.Sprintf("value-%03d-%s", i, bytes.Repeat([]byte("x"), 40)))); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *replica) isLeader() bool {
	l, _, _ := r.host.Leader(testGroup)
	return l == r.id
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// openEmpty opens a new partition outside any raft group, loaded with no entries, and
// closes it when the test ends.
func openEmpty(t *testing.T) *Partition {
	t.Helper()
	p, err := Open("t", 0, t.TempDir(), plog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if _, err := p.Load(nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// startThree starts three replicas on an in-memory network and waits for a leader.
func startThree(t *testing.T) (*replication.MemNetwork, []*replica, *replica) {
	t.Helper()
	net := replication.NewMemNetwork()
	t.Cleanup(net.Close)
	voters := []uint64{1, 2, 3}
	var rs []*replica
	for _, id := range voters {
		rs = append(rs, startReplica(t, net, id, t.TempDir(), voters))
	}
	waitUntil(t, "a leader", func() bool { return leaderAmong(rs) != nil })
	return net, rs, leaderAmong(rs)
}

func leaderAmong(rs []*replica) *replica {
	for _, r := range rs {
		if r.isLeader() {
			return r
		}
	}
	return nil
}

// committed reads the replica's whole committed log.
func committed(t *testing.T, p *Partition) []byte {
	t.Helper()
	var out []byte
	for off := p.StartOffset(); off < p.HighWatermark(); {
		b, err := p.Read(off, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		bs := record.SplitPartial(b)
		if len(bs) == 0 {
			t.Fatalf("no batch at offset %d below the high watermark %d", off, p.HighWatermark())
		}
		out = append(out, b...)
		off = bs[len(bs)-1].Header.LastOffset() + 1
	}
	return out
}

// Every replica stores the same bytes once committed, offsets are contiguous, and an
// idempotent retry of a committed batch is answered with its original offset.
func TestReplicasStoreIdenticalBatches(t *testing.T) {
	_, rs, l := startThree(t)
	ctx := context.Background()
	var want int64
	for i := 0; i < 40; i++ {
		res, err := l.produce(ctx, testBatch(t, 9, int32(2*i), fmt.Sprint("a", i), fmt.Sprint("b", i)))
		if err != nil {
			t.Fatal(err)
		}
		if res.BaseOffset != want {
			t.Fatalf("batch %d at offset %d, want %d", i, res.BaseOffset, want)
		}
		want += 2
	}
	res, err := l.produce(ctx, testBatch(t, 9, 74, "a37", "b37")) // one of the last 5 batches
	if err != nil || res.BaseOffset != 74 {
		t.Fatalf("retry of the batch at offset 74: %+v, %v", res, err)
	}
	if _, err := l.produce(ctx, testBatch(t, 9, 100, "gap")); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("sequence gap: %v", err)
	}
	leaderLog := committed(t, l.p)
	for _, r := range rs {
		waitUntil(t, "replication", func() bool { return r.p.HighWatermark() == want })
		if got := committed(t, r.p); !bytes.Equal(got, leaderLog) {
			t.Fatalf("node %d stores %d bytes that differ from the leader's %d", r.id, len(got), len(leaderLog))
		}
	}
}

// A leader cut off from the others appends entries that never commit; once healed, its
// log (segments included) is replaced by the new leader's.
func TestUncommittedTailIsReplaced(t *testing.T) {
	net, rs, old := startThree(t)
	ctx := context.Background()
	if _, err := old.produce(ctx, testBatch(t, -1, 0, "before")); err != nil {
		t.Fatal(err)
	}
	var others []*replica
	for _, r := range rs {
		if r != old {
			others = append(others, r)
		}
	}
	net.Isolate(old.id, 1, 2, 3)
	var stale []*replication.Pending
	for i := 0; i < 3; i++ {
		pd, err := old.host.Submit(testGroup, EncodeProduce(replication.HeaderRoom, testBatch(t, -1, 0, fmt.Sprint("stale", i), "x"), -1))
		if err != nil {
			t.Fatal(err)
		}
		stale = append(stale, pd)
	}
	waitUntil(t, "the stale entries in the old leader's log", func() bool { return old.p.log.EndOffset() == 7 })
	waitUntil(t, "a new leader", func() bool { return leaderAmong(others) != nil })
	nl := leaderAmong(others)
	for i := 0; i < 5; i++ {
		if _, err := nl.produce(ctx, testBatch(t, -1, 0, fmt.Sprint("new", i))); err != nil {
			t.Fatal(err)
		}
	}
	net.Heal()
	for _, pd := range stale {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := pd.Wait(wctx)
		cancel()
		if err == nil {
			t.Fatal("an entry appended by a cut-off leader was acknowledged")
		}
	}
	want := committed(t, nl.p)
	waitUntil(t, "the old leader to catch up", func() bool { return old.p.HighWatermark() == 6 })
	if got := committed(t, old.p); !bytes.Equal(got, want) {
		t.Fatal("the old leader's log differs from the new leader's after healing")
	}
	if end := old.p.log.EndOffset(); end != 6 {
		t.Fatalf("the old leader's log ends at %d, want 6", end)
	}
}

// A restart without a checkpoint rebuilds the entries past the checkpoint from the WAL's
// descriptors and the segments; an entry whose segment data was lost is dropped with the
// data after it, and appends continue from the cut.
func TestRestartLoadsStoredEntries(t *testing.T) {
	dir := t.TempDir()
	r := startReplica(t, nil, 1, dir, []uint64{1})
	waitUntil(t, "leadership", r.isLeader)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if _, err := r.produce(ctx, testBatch(t, 4, int32(i), fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	r.stop()

	r = startReplica(t, nil, 1, dir, []uint64{1})
	waitUntil(t, "replay", func() bool { return r.p.HighWatermark() == 20 })
	if res, err := r.produce(ctx, testBatch(t, 4, 19, "v19")); err != nil || res.BaseOffset != 19 {
		t.Fatalf("retry after restart: %+v, %v", res, err)
	}
	if res, err := r.produce(ctx, testBatch(t, 4, 20, "v20")); err != nil || res.BaseOffset != 20 {
		t.Fatalf("append after restart: %+v, %v", res, err)
	}
	r.stop()

	// Lose the last batch's bytes, as if the segment write had not reached the disk.
	segs, _ := filepath.Glob(filepath.Join(dir, "t-0", "*.log"))
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, st.Size()-5); err != nil {
		t.Fatal(err)
	}
	r = startReplica(t, nil, 1, dir, []uint64{1})
	waitUntil(t, "leadership", r.isLeader)
	res, err := r.produce(ctx, testBatch(t, -1, 0, "after"))
	if err != nil || res.BaseOffset != 20 {
		t.Fatalf("append after losing offset 20: %+v, %v", res, err)
	}
}

// A retry of a batch that is still in flight becomes a duplicate entry, answered with the
// original's offset once applied.
func TestRetryOfInflightBatch(t *testing.T) {
	p := openEmpty(t)
	batch := testBatch(t, 3, 0, "x", "y")
	entry := func(index, id uint64, payload []byte) raftpb.Entry {
		data := append(make([]byte, replication.HeaderRoom), payload...)
		data[7] = byte(id)
		return raftpb.Entry{Index: index, Term: 2, Data: data}
	}
	first := EncodeProduce(0, batch, -1)
	if _, _, done := p.Prepare(1, first); done {
		t.Fatal("the first batch was answered without being appended")
	}
	if _, err := p.Store([]raftpb.Entry{entry(2, 1, first)}); err != nil {
		t.Fatal(err)
	}
	retry, _, done := p.Prepare(2, EncodeProduce(0, batch, -1))
	if done || retry[0] != cmdDuplicate {
		t.Fatalf("retry prepared as %v (done %v), want a duplicate entry", retry[0], done)
	}
	if _, err := p.Store([]raftpb.Entry{entry(3, 2, retry)}); err != nil {
		t.Fatal(err)
	}
	if p.HighWatermark() != 0 {
		t.Fatal("stored entries moved the high watermark before they were applied")
	}
	a := p.Apply(2, first).(*ProduceResult)
	b := p.Apply(3, retry).(*ProduceResult)
	if a.Err != nil || b.Err != nil || a.BaseOffset != 0 || b.BaseOffset != 0 || p.HighWatermark() != 2 {
		t.Fatalf("apply: %+v, %+v, hw %d", a, b, p.HighWatermark())
	}
}

// A SubmitLocal proposal (acks=1) is answered once durable on the leader, before it
// commits: here the leader is cut off, so it never commits.
func TestLocalSubmitAnsweredBeforeCommit(t *testing.T) {
	net, _, l := startThree(t)
	ctx := context.Background()
	if _, err := l.produce(ctx, testBatch(t, -1, 0, "committed")); err != nil {
		t.Fatal(err)
	}
	net.Isolate(l.id, 1, 2, 3)
	pd, err := l.host.SubmitLocal(testGroup, EncodeProduce(replication.HeaderRoom, testBatch(t, -1, 0, "local"), -1))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := pd.Wait(wctx)
	if err != nil {
		t.Fatalf("acks=1 write on a cut-off leader: %v", err)
	}
	if res := v.(*ProduceResult); res.Err != nil || res.BaseOffset != 1 {
		t.Fatalf("result %+v", res)
	}
	if hw := l.p.HighWatermark(); hw != 1 {
		t.Fatalf("high watermark %d: the uncommitted write became visible", hw)
	}
}

// DeleteRecords past the last checkpoint, then a crash: the log start offset the log
// persisted is ahead of the checkpoint's end offset, and the data after it is kept. The
// segments below the new start go once a checkpoint has recorded it.
func TestRestartAfterDeleteRecordsKeepsData(t *testing.T) {
	dir := t.TempDir()
	r := startReplica(t, nil, 1, dir, []uint64{1})
	waitUntil(t, "leadership", r.isLeader)
	ctx := context.Background()
	const n, cut = 200, 123
	r.produceValues(ctx, t, n)
	v, err := r.host.Propose(ctx, testGroup, EncodeDeleteRecords(replication.HeaderRoom, cut))
	if err != nil || v != any(int64(cut)) {
		t.Fatalf("delete records: %v, %v", v, err)
	}
	if _, err := r.p.Read(cut-1, 1); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("reading below the new log start: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	if s := r.p.log.StoredFrom(); s != 0 {
		t.Fatalf("segments deleted before a checkpoint: the log's data starts at %d", s)
	}
	r.stop()

	// Opened again, before any entry is replayed: the log start offset is already the
	// new one, and the high watermark is not below it.
	p, err := Open("t", 0, filepath.Join(dir, "t-0"), plog.Config{SegmentBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if start, hw := p.StartOffset(), p.HighWatermark(); start != cut || hw != cut {
		t.Fatalf("before replay: log start %d, high watermark %d; want both %d", start, hw, cut)
	}
	if b, err := p.Read(cut, 1<<10); err != nil || len(b) != 0 {
		t.Fatalf("reading at the log start before replay: %d bytes, %v; want none, no error", len(b), err)
	}
	p.Close()

	r = startReplica(t, nil, 1, dir, []uint64{1})
	waitUntil(t, "replay of the produces and the delete-records", func() bool {
		return r.p.HighWatermark() == n && r.p.StartOffset() == cut
	})
	for off := int64(cut); off < n; off++ {
		b, err := r.p.Read(off, 1)
		if err != nil || len(b) == 0 {
			t.Fatalf("offset %d after restart: %d bytes, %v", off, len(b), err)
		}
	}
	if _, _, err := r.p.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if s := r.p.log.StoredFrom(); s <= 0 || s > cut {
		t.Fatalf("after a checkpoint the log's segments start at %d, want in (0, %d]", s, cut)
	}
}

// Retention deletes only segments below the last checkpoint's end offset, so a restart
// still finds the data of the entries it replays.
func TestRetentionStopsAtCheckpoint(t *testing.T) {
	dir := t.TempDir()
	r := startReplica(t, nil, 1, dir, []uint64{1})
	waitUntil(t, "leadership", r.isLeader)
	ctx := context.Background()
	const n = 200
	r.produceValues(ctx, t, n)
	if k, err := r.p.EnforceRetention(time.Now(), -1, 0); err != nil || k != 0 {
		t.Fatalf("retention before any checkpoint deleted %d segments (%v)", k, err)
	}
	r.stop()
	r = startReplica(t, nil, 1, dir, []uint64{1})
	waitUntil(t, "replay", func() bool { return r.p.HighWatermark() == n })
	if _, _, err := r.p.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if k, err := r.p.EnforceRetention(time.Now(), -1, 0); err != nil || k == 0 {
		t.Fatalf("retention after a checkpoint deleted %d segments (%v)", k, err)
	}
	if s := r.p.StartOffset(); s <= 0 || s >= n {
		t.Fatalf("log start %d after retention, want in (0, %d)", s, n)
	}
}

func timedBatch(t *testing.T, stamps ...int64) []byte {
	t.Helper()
	spec := record.BuildSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	for i, ts := range stamps {
		spec.Records = append(spec.Records, record.Record{Timestamp: ts, Value: []byte(fmt.Sprint("t", i))})
	}
	b, err := record.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ListOffsets -3 answers with the committed record of the largest timestamp (the first
// one with it) while a batch with a larger one is stored but not committed, and after a
// restart from a checkpoint.
func TestMaxTimestampIsCommitted(t *testing.T) {
	net, _, l := startThree(t)
	ctx := context.Background()
	for _, b := range [][]byte{timedBatch(t, 1000, 5000, 2000), timedBatch(t, 5000, 3000), timedBatch(t, 4000)} {
		if _, err := l.produce(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, r *replica) {
		t.Helper()
		off, ts, ok, err := r.p.MaxTimestamp()
		if err != nil || !ok || off != 1 || ts != 5000 {
			t.Fatalf("%s: max timestamp at offset %d, %d (found %v, %v); want offset 1, 5000", when, off, ts, ok, err)
		}
	}
	check("committed", l)
	net.Isolate(l.id, 1, 2, 3)
	if _, err := l.host.SubmitLocal(testGroup, EncodeProduce(replication.HeaderRoom, timedBatch(t, 9000), -1)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the uncommitted batch to be stored", func() bool { return l.p.log.EndOffset() == 7 })
	check("with a larger timestamp uncommitted", l)

	// Still cut off: after a restart from a checkpoint the uncommitted batch is stored
	// again but not applied.
	if _, _, err := l.p.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.stop()
	r := startReplica(t, net, l.id, l.dir, []uint64{1, 2, 3})
	waitUntil(t, "the uncommitted batch to be loaded", func() bool { return r.p.log.EndOffset() == 7 })
	check("after a restart", r)
}
