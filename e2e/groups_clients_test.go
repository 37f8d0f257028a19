//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer groups with librdkafka (confluent-kafka consumer processes and kcat -G) and
// kafka-python against a standalone server process.

// grpRecord is one consumed record.
type grpRecord struct {
	partition int32
	offset    int64
	value     string
}

// grpProduce writes prefix-from..prefix-(to-1) with franz-go, record i to partition
// i%partitions, acks=all, failing the test on any error.
func grpProduce(t *testing.T, addrs []string, topic, prefix string, partitions, from, to int, opts ...kgo.Opt) {
	t.Helper()
	p := client(t, addrs, append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(2 * time.Millisecond)}, opts...)...)
	defer p.Close()
	var mu sync.Mutex
	var first error
	for i := from; i < to; i++ {
		r := &kgo.Record{Value: fmt.Appendf(nil, "%s-%d", prefix, i), Partition: int32(i % partitions)}
		p.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if first != nil {
		t.Fatalf("produce %s-%d..%d: %v", prefix, from, to-1, first)
	}
}

// grpOffsets returns a group's committed offsets and the topic's end offsets.
func grpOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (committed, end map[int32]int64, err error) {
	offs, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("OffsetFetch: %w", err)
	}
	committed = map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			committed[o.Partition] = o.At
		}
	})
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ListOffsets: %w", err)
	}
	end = map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	return committed, end, nil
}

// grpWaitCommittedAtEnd waits until the group's committed offsets equal the topic's end
// offsets on all partitions and returns them.
func grpWaitCommittedAtEnd(t *testing.T, adm *kadm.Client, group, topic string, partitions int, timeout time.Duration) map[int32]int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		committed, end, err := grpOffsets(ctx, adm, group, topic)
		cancel()
		if err == nil && len(end) == partitions && sameOffsets(committed, end) {
			return committed
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: committed offsets %v, want the end offsets %v (%v)", group, committed, end, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sameOffsets(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, v := range b {
		if w, ok := a[p]; !ok || w != v {
			return false
		}
	}
	return true
}

// parseRecords parses complete "partition offset value" lines.
func parseRecords(t *testing.T, b []byte) []grpRecord {
	t.Helper()
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		return nil
	}
	var out []grpRecord
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 {
			t.Fatalf("bad record line %q", line)
		}
		p, err1 := strconv.Atoi(f[0])
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad record line %q", line)
		}
		out = append(out, grpRecord{int32(p), o, f[2]})
	}
	return out
}

// grpMissing counts prefix-from..prefix-(to-1) not in seen.
func grpMissing(seen map[string]int, prefix string, from, to int) int {
	n := 0
	for i := from; i < to; i++ {
		if seen[prefix+"-"+strconv.Itoa(i)] == 0 {
			n++
		}
	}
	return n
}

// pyMember is a groups_confluent.py consumer process.
type pyMember struct {
	t       *testing.T
	name    string
	out     string // its records file
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	stderr  bytes.Buffer
	stopped bool // stop was called

	mu       sync.Mutex
	lines    []string
	assigned map[int32]bool
}

func startPyMember(t *testing.T, name, bootstrap, topic, group string) *pyMember {
	t.Helper()
	m := &pyMember{t: t, name: name, out: filepath.Join(t.TempDir(), name+".records"), done: make(chan struct{}), assigned: map[int32]bool{}}
	m.cmd = exec.Command(python, "testdata/groups_confluent.py", bootstrap, topic, group, m.out)
	m.cmd.Env = cleanEnv()
	m.cmd.Stderr = &m.stderr
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			m.line(sc.Text())
		}
		m.waitErr = m.cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		if !m.exited() {
			_ = m.cmd.Process.Kill()
			<-m.done
		}
		if t.Failed() {
			t.Logf("--- %s stdout:\n%s\nstderr:\n%s", name, strings.Join(m.output(), "\n"), tail(m.stderr.Bytes(), 3000))
		}
	})
	return m
}

func (m *pyMember) line(l string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lines = append(m.lines, l)
	verb, rest, _ := strings.Cut(l, " ")
	for _, f := range strings.Fields(rest) {
		p, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		switch verb {
		case "assigned":
			m.assigned[int32(p)] = true
		case "revoked", "lost":
			delete(m.assigned, int32(p))
		}
	}
}

func (m *pyMember) output() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.lines)
}

// outputWith returns the stdout lines starting with prefix.
func (m *pyMember) outputWith(prefix string) []string {
	var out []string
	for _, l := range m.output() {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func (m *pyMember) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.assigned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (m *pyMember) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

func (m *pyMember) records() []grpRecord {
	b, err := os.ReadFile(m.out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		m.t.Fatal(err)
	}
	return parseRecords(m.t, b)
}

// stop sends SIGTERM and waits for the script to close its consumer and exit 0.
func (m *pyMember) stop() {
	m.t.Helper()
	m.stopped = true
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
		m.t.Fatalf("%s did not exit within 20s of SIGTERM", m.name)
	}
	if m.waitErr != nil || len(m.outputWith("closed")) == 0 {
		m.t.Fatalf("%s after SIGTERM: %v, closed=%v", m.name, m.waitErr, m.outputWith("closed"))
	}
}

// TestConfluentGroupMembers: two confluent-kafka consumer processes with the same
// group.id subscribe to a 4-partition topic holding 20k records; each writes what it
// consumes to a file and commits synchronously after each batch. Once both hold
// partitions, 2000 more records are consumed by both, then one gets SIGTERM (it closes
// the consumer: LeaveGroup) and the other takes over every partition and consumes 2000
// more; together they consumed everything, and a record consumed twice needs a reported
// failed commit. Finally, with the group empty and its offsets at the log end, 1000 more
// are produced and a restarted member reads exactly those 1000.
func TestConfluentGroupMembers(t *testing.T) {
	needPython(t, "python3-confluent-kafka", "confluent_kafka")
	start := time.Now()
	s := startStandalone(t)
	addrs := []string{s.addr()}
	const topic, group, parts = "ck-group", "ck-g", 4
	adm := kadm.NewClient(client(t, addrs))
	if _, err := adm.CreateTopic(context.Background(), parts, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	grpProduce(t, addrs, topic, "g", parts, 0, 20_000)
	t.Logf("20k records produced %v after start", time.Since(start).Round(time.Millisecond))

	c1 := startPyMember(t, "member1", s.addr(), topic, group)
	c2 := startPyMember(t, "member2", s.addr(), topic, group)
	members := []*pyMember{c1, c2}
	union := func() (map[string]int, int) {
		seen := map[string]int{}
		dups := 0
		for _, m := range members {
			for _, r := range m.records() {
				seen[r.value]++
				if seen[r.value] == 2 {
					dups++
				}
			}
		}
		return seen, dups
	}
	state := func() string {
		seen, dups := union()
		return fmt.Sprintf("member1 %v (%d records), member2 %v (%d records); %d distinct, %d duplicates",
			c1.partitions(), len(c1.records()), c2.partitions(), len(c2.records()), len(seen), dups)
	}
	waitUntil := func(timeout time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			for _, m := range members {
				if m.exited() && !m.stopped {
					t.Fatalf("%s exited (%v) while waiting for %s", m.name, m.waitErr, what)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, state())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t0 := time.Now()
	waitUntil(30*time.Second, "both members to hold partitions", func() bool {
		p1, p2 := c1.partitions(), c2.partitions()
		all := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(p1), p2...))))
		return len(p1) > 0 && len(p2) > 0 && len(p1)+len(p2) == parts && len(all) == parts
	})
	p1, p2 := c1.partitions(), c2.partitions()
	t.Logf("both members hold partitions %v after starting them: member1 %v member2 %v", time.Since(t0).Round(time.Millisecond), p1, p2)
	waitUntil(30*time.Second, "the 20k records", func() bool { seen, _ := union(); return grpMissing(seen, "g", 0, 20_000) == 0 })
	grpProduce(t, addrs, topic, "g", parts, 20_000, 22_000)
	waitUntil(20*time.Second, "2000 more records", func() bool { seen, _ := union(); return grpMissing(seen, "g", 20_000, 22_000) == 0 })
	if !slices.Equal(c1.partitions(), p1) || !slices.Equal(c2.partitions(), p2) {
		t.Fatalf("the assignment changed without a member leaving: %s", state())
	}
	for _, m := range members {
		n := 0
		for _, r := range m.records() {
			if i, _ := strconv.Atoi(strings.TrimPrefix(r.value, "g-")); i >= 20_000 {
				n++
			}
		}
		if n != 1000 {
			t.Errorf("%s (partitions %v) consumed %d of the 2000 records produced while both were members, want 1000", m.name, m.partitions(), n)
		}
	}

	// member2 leaves cleanly; member1 takes over its partitions.
	t1 := time.Now()
	c2.stop()
	waitUntil(20*time.Second, "member1 to hold every partition", func() bool { return len(c1.partitions()) == parts })
	t.Logf("member1 holds %v %v after member2's SIGTERM", c1.partitions(), time.Since(t1).Round(time.Millisecond))
	grpProduce(t, addrs, topic, "g", parts, 22_000, 24_000)
	waitUntil(20*time.Second, "the 2000 records produced after member2 left", func() bool {
		seen, _ := union()
		return grpMissing(seen, "g", 22_000, 24_000) == 0
	})
	perPart := map[int32]int{}
	for _, r := range c1.records() {
		if i, _ := strconv.Atoi(strings.TrimPrefix(r.value, "g-")); i >= 22_000 {
			perPart[r.partition]++
		}
	}
	for p := int32(0); p < parts; p++ {
		if perPart[p] != 500 {
			t.Errorf("member1 consumed %d of the 500 records on partition %d after member2 left", perPart[p], p)
		}
	}
	seen, dups := union()
	if len(seen) != 24_000 {
		t.Errorf("members consumed %d distinct records, want 24000", len(seen))
	}
	failedCommits := append(c1.outputWith("commit failed"), c2.outputWith("commit failed")...)
	if dups > 0 && len(failedCommits) == 0 {
		t.Errorf("%d records consumed twice though every commit succeeded", dups)
	}
	t.Logf("union %d distinct, %d duplicates; failed commits %v; errors %v %v", len(seen), dups, failedCommits,
		c1.outputWith("error"), c2.outputWith("error"))
	c1.stop()
	committed := grpWaitCommittedAtEnd(t, adm, group, topic, parts, 10*time.Second)

	// A restarted member resumes at the committed offsets: exactly the 1000 new records.
	grpProduce(t, addrs, topic, "g", parts, 24_000, 25_000)
	t2 := time.Now()
	c3 := startPyMember(t, "member3", s.addr(), topic, group)
	members = []*pyMember{c3}
	waitUntil(30*time.Second, "member3 to read the 1000 new records", func() bool {
		seen, _ := union()
		return grpMissing(seen, "g", 24_000, 25_000) == 0
	})
	c3.stop()
	recs := c3.records()
	if len(recs) != 1000 {
		t.Fatalf("restarted member read %d records, want exactly the 1000 new ones", len(recs))
	}
	first := map[int32]int64{}
	for _, r := range recs {
		if _, ok := first[r.partition]; !ok {
			first[r.partition] = r.offset
		}
		if r.offset < committed[r.partition] {
			t.Fatalf("restarted member re-read %+v below the committed offset %d", r, committed[r.partition])
		}
	}
	if !sameOffsets(first, committed) {
		t.Fatalf("restarted member started at %v, want the committed offsets %v", first, committed)
	}
	grpWaitCommittedAtEnd(t, adm, group, topic, parts, 10*time.Second)
	t.Logf("restarted member resumed at %v and read the 1000 new records in %v; %v in all",
		committed, time.Since(t2).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestKafkaPythonGroup: a kafka-python KafkaConsumer with a group_id consumes a
// 4-partition topic, committing after each poll, and closes; after 1000 more records a
// new process with the same group resumes at the committed offsets and reads exactly
// those 1000.
func TestKafkaPythonGroup(t *testing.T) {
	needPython(t, "python3-kafka", "kafka")
	start := time.Now()
	s := startStandalone(t)
	addrs := []string{s.addr()}
	const topic, group, parts = "kp-group", "kp-g", 4
	adm := kadm.NewClient(client(t, addrs))
	if _, err := adm.CreateTopic(context.Background(), parts, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	run := func(want int) []grpRecord {
		t.Helper()
		out := runCmd(t, 90*time.Second, nil, nil, python, "testdata/groups_kafka_python.py", s.addr(), topic, group, strconv.Itoa(want))
		var recLines, info []string
		for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] != "assigned" {
				recLines = append(recLines, l)
			} else {
				info = append(info, l)
			}
		}
		t.Logf("kafka-python: %s", strings.Join(info, "; "))
		return parseRecords(t, []byte(strings.Join(recLines, "\n")+"\n"))
	}
	grpProduce(t, addrs, topic, "kp", parts, 0, 3000)
	recs := run(3000)
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.value]++
	}
	if len(recs) != 3000 || grpMissing(seen, "kp", 0, 3000) != 0 {
		t.Fatalf("first run read %d records (%d distinct), want the 3000", len(recs), len(seen))
	}
	committed := grpWaitCommittedAtEnd(t, adm, group, topic, parts, 10*time.Second)

	grpProduce(t, addrs, topic, "kp", parts, 3000, 4000)
	recs = run(1000)
	seen = map[string]int{}
	first := map[int32]int64{}
	for _, r := range recs {
		seen[r.value]++
		if _, ok := first[r.partition]; !ok {
			first[r.partition] = r.offset
		}
	}
	if len(recs) != 1000 || grpMissing(seen, "kp", 3000, 4000) != 0 {
		t.Fatalf("second run read %d records (%d distinct), want exactly the 1000 new ones", len(recs), len(seen))
	}
	if !sameOffsets(first, committed) {
		t.Fatalf("second run started at %v, want the committed offsets %v", first, committed)
	}
	grpWaitCommittedAtEnd(t, adm, group, topic, parts, 10*time.Second)
	t.Logf("kafka-python group resumed at %v; %v in all", committed, time.Since(start).Round(time.Millisecond))
}

// TestKcatBalancedConsumer: kcat -G (librdkafka's balanced consumer, auto commit, which
// commits on close) reads a topic, and a second run with the same group reads exactly the
// records produced in between.
func TestKcatBalancedConsumer(t *testing.T) {
	needKcat(t)
	start := time.Now()
	s := startStandalone(t)
	addrs := []string{s.addr()}
	const topic, group, parts = "kcat-group", "kcat-g", 4
	adm := kadm.NewClient(client(t, addrs))
	if _, err := adm.CreateTopic(context.Background(), parts, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	consume := func(n int) []grpRecord {
		t.Helper()
		out := runCmd(t, 60*time.Second, nil, nil, "kcat", "-b", s.addr(), "-G", group, "-q", "-c", strconv.Itoa(n),
			"-X", "auto.offset.reset=earliest", "-X", "heartbeat.interval.ms=250", "-X", "fetch.wait.max.ms=100",
			"-f", `%p %o %s\n`, topic)
		return parseRecords(t, out)
	}
	grpProduce(t, addrs, topic, "kc", parts, 0, 500)
	recs := consume(500)
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.value]++
	}
	if len(recs) != 500 || grpMissing(seen, "kc", 0, 500) != 0 {
		t.Fatalf("kcat -G read %d records (%d distinct), want the 500", len(recs), len(seen))
	}
	committed := grpWaitCommittedAtEnd(t, adm, group, topic, parts, 10*time.Second)
	grpProduce(t, addrs, topic, "kc", parts, 500, 600)
	recs = consume(100)
	seen = map[string]int{}
	for _, r := range recs {
		seen[r.value]++
		if r.offset < committed[r.partition] {
			t.Fatalf("second kcat -G re-read %+v below the committed offset %d", r, committed[r.partition])
		}
	}
	if len(recs) != 100 || grpMissing(seen, "kc", 500, 600) != 0 {
		t.Fatalf("second kcat -G read %d records (%d distinct), want exactly the 100 new ones", len(recs), len(seen))
	}
	grpWaitCommittedAtEnd(t, adm, group, topic, parts, 10*time.Second)
	t.Logf("kcat -G: two runs, resumed at %v; %v", committed, time.Since(start).Round(time.Millisecond))
}
