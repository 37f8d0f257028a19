package bench

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tiny is the quick configuration cut down to a few records: it checks that the
// harness works end to end, not how fast anything is.
func tiny() Config {
	c := Quick()
	c.Records = 2000
	c.Duration = time.Minute // the record count, not the clock, ends the produce runs
	c.LatencyDuration = 300 * time.Millisecond
	c.Producers = 2
	return c
}

func TestQuickAgainstKfake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := tiny()
	var log bytes.Buffer
	cfg.Log = &log
	targets := []Target{&Kfake{}, &Kfake{Brokers: 3}}
	res, err := Run(ctx, cfg, targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d target results", len(res))
	}
	for _, tr := range res {
		if tr.Err != nil {
			t.Fatalf("%s: %v\n%s", tr.Target, tr.Err, log.String())
		}
		if len(tr.Results) != 3*len(cfg.Sizes) {
			t.Fatalf("%s: %d results", tr.Target, len(tr.Results))
		}
		for _, size := range cfg.Sizes {
			p, ok := tr.Find(Produce, size)
			if !ok || p.Records != int64(cfg.Records) || p.Errors != 0 || p.P99 <= 0 || p.P50 > p.P99 {
				t.Fatalf("%s produce %d: %+v", tr.Target, size, p)
			}
			if p.Bytes != p.Records*int64(size) {
				t.Fatalf("%s produce %d: %d bytes for %d records", tr.Target, size, p.Bytes, p.Records)
			}
			c, ok := tr.Find(Consume, size)
			if !ok || c.Records != p.Records+100 { // + the warm-up records
				t.Fatalf("%s consume %d: %+v (produced %d)", tr.Target, size, c, p.Records)
			}
			l, ok := tr.Find(Latency, size)
			if !ok || l.Records < 1 || l.Errors != 0 || l.TargetRate <= 0 || l.RequestP99 <= 0 || l.RequestP50 > l.RequestP99 {
				t.Fatalf("%s latency %d: %+v", tr.Target, size, l)
			}
		}
	}
	var md bytes.Buffer
	WriteMarkdown(&md, ThisMachine(), cfg, res, "kfake")
	out := md.String()
	for _, want := range []string{"#### kfake\n", "#### kfake-3\n", "#### Comparison with kfake", "kfake-3/kfake", "produce 1 KiB records/s", "latency 100 B p99 at 50% load", "Machine: "} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Log("\n" + out)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := Quick().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Sizes = nil },
		func(c *Config) { c.Sizes = []int{0} },
		func(c *Config) { c.Records = 0 },
		func(c *Config) { c.Duration = 0 },
		func(c *Config) { c.LatencyLoad = 1.5 },
		func(c *Config) { c.Partitions = 0 },
		func(c *Config) { c.Producers = 0 },
		func(c *Config) { c.Compression = "brotli" },
		func(c *Config) { c.BatchMaxBytes = 10 },
	}
	for i, f := range bad {
		c := Default()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: invalid config accepted", i)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram")
	}
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100_000)
	for i := range vals {
		vals[i] = time.Duration(r.Int64N(int64(20 * time.Millisecond)))
		h.add(vals[i])
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		got := h.quantile(q)
		want := time.Duration(q * float64(20*time.Millisecond)) // uniform
		if diff := float64(got-want) / float64(want); diff < -0.02 || diff > 0.02 {
			t.Errorf("q%v = %v, want about %v", q, got, want)
		}
	}
	for ns := uint64(0); ns < 1<<20; ns += 7 {
		b := bucketOf(ns)
		if bucketValue(b) < ns || (b > 0 && bucketValue(b-1) >= ns) {
			t.Fatalf("value %d in bucket %d [%d, %d]", ns, b, bucketValue(b-1)+1, bucketValue(b))
		}
	}
}

func TestExpandArgs(t *testing.T) {
	got := strings.Join(ExpandArgs("", "/d", 1234, 1235), " ")
	if got != "standalone --data-dir /d --kafka-port 1234 --bind 127.0.0.1 --advertised-host 127.0.0.1 --http-port 1235 --log-level warn" {
		t.Fatalf("default args: %q", got)
	}
	got = strings.Join(ExpandArgs("standalone --dir={dir} -p {port}", "/x", 9, 10), " ")
	if got != "standalone --dir=/x -p 9" {
		t.Fatalf("template: %q", got)
	}
}

func TestProcessTargetReportsEarlyExit(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-server")
	script := "#!/bin/sh\necho \"fake server got: $*\"\nexit 3\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Process{Binary: bin, Args: "standalone --data-dir {dir} --kafka-port {port}", DataDir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, err := p.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "fake server got: standalone --data-dir") || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("error %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 { // only the script: the data dir is gone
		t.Fatalf("left behind: %v", ents)
	}
}

func TestFormatting(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "-", 250 * time.Microsecond: "250 µs", 3500 * time.Microsecond: "3.50 ms",
		250 * time.Millisecond: "250 ms", 5670 * time.Millisecond: "5.67 s"} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
	for v, want := range map[float64]string{950: "950", 12345: "12.3k", 1234567: "1235k"} {
		if got := fmtRate(v); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestMerge(t *testing.T) {
	mk := func(recs int64, p99 time.Duration) Result {
		return Result{Kind: Produce, Size: 100, Records: recs, Bytes: recs * 100, Elapsed: time.Second, P50: p99 / 2, P99: p99, Max: p99 * 2}
	}
	got := Merge([][]Result{{mk(300, 9*time.Millisecond)}, {mk(100, 1*time.Millisecond)}, {mk(200, 5*time.Millisecond)}})
	if len(got) != 1 {
		t.Fatalf("%d results", len(got))
	}
	m := got[0]
	if m.Records != 200 || m.P99 != 5*time.Millisecond || m.Max != 18*time.Millisecond || m.MinRate != 100 || m.MaxRate != 300 || m.Runs != 3 {
		t.Fatalf("%+v", m)
	}
}

func TestComparisons(t *testing.T) {
	res := []TargetResult{{Target: "chronik"}, {Target: "kfake"}, {Target: "chronik-3"}, {Target: "kfake-3"}}
	str := func(cs []Comparison) string {
		var parts []string
		for _, c := range cs {
			parts = append(parts, strings.Join(c.Targets, "+")+"/"+c.Reference)
		}
		return strings.Join(parts, " ")
	}
	for _, c := range []struct {
		refs []string
		want string
	}{
		{[]string{"kfake", "chronik-3=kfake-3"}, "chronik+kfake-3/kfake chronik-3/kfake-3"},
		{[]string{"kfake", "chronik-3=kfake-3", "chronik-3=chronik"}, "chronik+kfake-3/kfake chronik-3/kfake-3 chronik-3/chronik"},
		{[]string{"kfake"}, "chronik+chronik-3+kfake-3/kfake"},
		{[]string{"nope", "kfake-3"}, "chronik+kfake+chronik-3/kfake-3"},
		{[]string{"kfake", "chronik-3=absent"}, "chronik+chronik-3+kfake-3/kfake"},
		{nil, ""},
	} {
		if got := str(Comparisons(res, c.refs)); got != c.want {
			t.Errorf("%v: %q, want %q", c.refs, got, c.want)
		}
	}
	// Without kfake-3 in the run, the cluster falls back to the default reference.
	if got := str(Comparisons(res[:3], []string{"kfake", "chronik-3=kfake-3"})); got != "chronik+chronik-3/kfake" {
		t.Errorf("no kfake-3: %q", got)
	}
}

func TestProcessCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if hz := ClockTicks(); hz != 100 && hz != 250 && hz != 1000 {
		t.Errorf("USER_HZ %d", hz)
	}
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := ProcessCPU(os.Getpid())
	if err != nil || after < before+50*time.Millisecond {
		t.Fatalf("CPU %v then %v (%v)", before, after, err)
	}
	if rss, threads := procStatus(os.Getpid()); rss <= 0 || threads < 1 {
		t.Fatalf("rss %d threads %d", rss, threads)
	}
}

func TestWriteLogSummary(t *testing.T) {
	log := `time=2026-11-26T00:20:08.704Z level=WARN msg="checkpoint failed" group=1 err="x"
time=2026-11-26T00:20:09.000Z level=WARN msg="checkpoint failed" group=2 err="y"
time=2026-11-26T00:20:10.000Z level=ERROR msg=plain n=1
panic: boom
`
	var b bytes.Buffer
	writeLogSummary(&b, 2, []byte(log))
	out := b.String()
	for _, want := range []string{"node 2 logged 4 line(s)", `2× "checkpoint failed" (2026-11-26T00:20:08.704Z – 2026-11-26T00:20:09.000Z)`, `1× "plain"`, `1× "panic: boom"`, "last: panic: boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
