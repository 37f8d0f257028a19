package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a run happened.
type Machine struct {
	CPU       string
	Cores     int
	MemoryGiB float64
	GoVersion string
	OS        string
	Kernel    string
}

// ThisMachine reads the CPU model from /proc/cpuinfo and the memory from /proc/meminfo
// (left empty where they cannot be read).
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if kb, ok := procKB("/proc/meminfo", "MemTotal"); ok {
		m.MemoryGiB = float64(kb) / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// procKB reads a "key: N kB" field of a /proc file (meminfo, PID/status), in KiB.
func procKB(path, key string) (int64, bool) {
	f := strings.Fields(procField(path, key))
	if len(f) != 2 || f[1] != "kB" {
		return 0, false
	}
	kb, err := strconv.ParseInt(f[0], 10, 64)
	return kb, err == nil
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func fmtRate(v float64) string {
	switch {
	case v >= 100_000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 10_000:
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

func sizeName(size int) string {
	if size%1024 == 0 {
		return fmt.Sprintf("%d KiB", size/1024)
	}
	return fmt.Sprintf("%d B", size)
}

// WriteMarkdown writes the machine, the settings, a table per target and comparison
// tables of ratios between targets, as references asks (see Comparisons; none = no
// ratios).
func WriteMarkdown(w io.Writer, m Machine, cfg Config, results []TargetResult, references ...string) {
	fmt.Fprintf(w, "Machine: %s, %d cores, %.0f GiB, %s %s, Linux %s; load average %s at the end of the run.\n\n", orUnknown(m.CPU), m.Cores, m.MemoryGiB, m.GoVersion, m.OS, orUnknown(m.Kernel), LoadAverage())
	fmt.Fprintf(w, "Client: %s. Topics of %d partitions (replication factor %s). Produce runs stop at %d records or %v; latency runs last %v at %s. MB/s counts record values (10^6 B/s). Latency is per record, from the Produce call to its acknowledgement.\n\n",
		cfg.ClientSettings(), cfg.Partitions, rfName(cfg.ReplicationFactor), cfg.Records, cfg.Duration, cfg.LatencyDuration, latencyLoadName(cfg, true))
	if reps := max(cfg.Repeat, 1); reps > 1 {
		fmt.Fprintf(w, "Each target ran %d times, interleaved with the others; the tables give the run with the median record rate (the range of rates in brackets) and the median of each latency quantile.\n\n", reps)
	}
	for _, tr := range results {
		fmt.Fprintf(w, "#### %s\n\n", tr.Target)
		fmt.Fprintln(w, "| workload | records | records/s | MB/s | p50 | p99 | p99.9 | max | errors |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, r := range tr.Results {
			name := fmt.Sprintf("%s %s", r.Kind, sizeName(r.Size))
			if r.Kind == Latency {
				name = fmt.Sprintf("latency %s at %s rec/s", sizeName(r.Size), fmtRate(r.TargetRate))
			}
			rate := fmtRate(r.RecordsPerSec())
			if r.Runs > 1 {
				rate += fmt.Sprintf(" (%s–%s)", fmtRate(r.MinRate), fmtRate(r.MaxRate))
			}
			if r.Kind == Consume {
				fmt.Fprintf(w, "| %s | %d | %s | %.1f | - | - | - | - | %d |\n", name, r.Records, rate, r.MBPerSec(), r.Errors)
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %s | %.1f | %s | %s | %s | %s | %d |\n", name, r.Records, rate, r.MBPerSec(),
				fmtDur(r.P50), fmtDur(r.P99), fmtDur(r.P999), fmtDur(r.Max), r.Errors)
		}
		writeRequestTimes(w, tr.Results)
		if tr.Err != nil {
			fmt.Fprintf(w, "\n**Failed:** %s\n", strings.ReplaceAll(tr.Err.Error(), "\n", " "))
		}
		fmt.Fprintln(w)
	}
	for _, c := range Comparisons(results, references) {
		writeComparison(w, cfg, results, c)
	}
}

// writeRequestTimes adds, under a target's table, how long its Produce requests took
// during the latency runs: as the client timed them, and as its brokers did when they
// report it.
func writeRequestTimes(w io.Writer, rs []Result) {
	var client, brokers []string
	for _, r := range rs {
		if r.Kind != Latency {
			continue
		}
		if r.RequestP99 > 0 {
			client = append(client, fmt.Sprintf("%s p50 %s, p99 %s", sizeName(r.Size), fmtDur(r.RequestP50), fmtDur(r.RequestP99)))
		}
		if r.BrokerP99 > 0 {
			brokers = append(brokers, fmt.Sprintf("%s p50 %s, p99 %s", sizeName(r.Size), fmtDur(r.BrokerP50), fmtDur(r.BrokerP99)))
		}
	}
	if len(client) > 0 {
		fmt.Fprintf(w, "\nProduce requests as the client timed them during the latency runs (written to answer read; the records' latency adds their wait for a request): %s.\n", strings.Join(client, "; "))
	}
	if len(brokers) > 0 {
		fmt.Fprintf(w, "\nProduce requests as the brokers timed them during the latency runs (frame read to response queued, interpolated within histogram buckets): %s.\n", strings.Join(brokers, "; "))
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// latencyLoadName says what load the latency runs went at.
func latencyLoadName(cfg Config, long bool) string {
	switch {
	case cfg.LatencyRate > 0:
		return fmt.Sprintf("%s records/s", fmtRate(cfg.LatencyRate))
	case long:
		return fmt.Sprintf("%.0f%% of the measured produce rate", cfg.LatencyLoad*100)
	}
	return fmt.Sprintf("%.0f%% load", cfg.LatencyLoad*100)
}

func rfName(rf int16) string {
	if rf < 0 {
		return "broker default"
	}
	return strconv.Itoa(int(rf))
}

// metric is one row of the comparison table.
type metric struct {
	name   string
	kind   Kind
	size   int
	value  func(Result) float64
	format func(float64) string
	lower  bool // lower is better
}

func metrics(cfg Config) []metric {
	rate := func(r Result) float64 { return r.RecordsPerSec() }
	mb := func(r Result) float64 { return r.MBPerSec() }
	p50 := func(r Result) float64 { return float64(r.P50) }
	p99 := func(r Result) float64 { return float64(r.P99) }
	fr := func(v float64) string { return fmtRate(v) }
	fm := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	fd := func(v float64) string { return fmtDur(time.Duration(v)) }
	var ms []metric
	for _, s := range cfg.Sizes {
		n := sizeName(s)
		load := latencyLoadName(cfg, false)
		ms = append(ms,
			metric{"produce " + n + " records/s", Produce, s, rate, fr, false},
			metric{"produce " + n + " MB/s", Produce, s, mb, fm, false},
			metric{"produce " + n + " p50 (max load)", Produce, s, p50, fd, true},
			metric{"produce " + n + " p99 (max load)", Produce, s, p99, fd, true},
			metric{"consume " + n + " records/s", Consume, s, rate, fr, false},
			metric{"consume " + n + " MB/s", Consume, s, mb, fm, false},
			metric{"latency " + n + " p50 at " + load, Latency, s, p50, fd, true},
			metric{"latency " + n + " p99 at " + load, Latency, s, p99, fd, true},
		)
	}
	return ms
}

// Comparison is one ratio table: each of Targets against Reference (names of targets).
type Comparison struct {
	Reference string
	Targets   []string
}

// Comparisons groups the targets of a run by the reference each is compared with.
// Each entry of references is either REF, the default reference, or TARGET=REF, which
// compares TARGET with REF (a target may be given several). A target with no pair whose
// reference ran is compared with the first default reference that ran and is not
// itself. References absent from the run are skipped. Tables come in the order their
// references are first named.
func Comparisons(results []TargetResult, references []string) []Comparison {
	ran := map[string]bool{}
	for _, tr := range results {
		ran[tr.Target] = true
	}
	var defaults, order []string
	pairs := map[string][]string{} // target -> references
	for _, e := range references {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if t, ref, ok := strings.Cut(e, "="); ok {
			t, ref = strings.TrimSpace(t), strings.TrimSpace(ref)
			if ran[t] && ran[ref] && t != ref && !slices.Contains(pairs[t], ref) {
				pairs[t] = append(pairs[t], ref)
				if !slices.Contains(order, ref) {
					order = append(order, ref)
				}
			}
			continue
		}
		if ran[e] {
			defaults = append(defaults, e)
			if !slices.Contains(order, e) {
				order = append(order, e)
			}
		}
	}
	groups := map[string][]string{}
	for _, tr := range results {
		refs := pairs[tr.Target]
		if len(refs) == 0 {
			for _, d := range defaults {
				if d != tr.Target {
					refs = []string{d}
					break
				}
			}
		}
		for _, ref := range refs {
			groups[ref] = append(groups[ref], tr.Target)
		}
	}
	var out []Comparison
	for _, ref := range order {
		if len(groups[ref]) > 0 {
			out = append(out, Comparison{Reference: ref, Targets: groups[ref]})
		}
	}
	return out
}

func writeComparison(w io.Writer, cfg Config, all []TargetResult, c Comparison) {
	var results []TargetResult // the compared targets, then the reference
	var ref TargetResult
	for _, tr := range all {
		if slices.Contains(c.Targets, tr.Target) {
			results = append(results, tr)
		}
		if tr.Target == c.Reference {
			ref = tr
		}
	}
	results = append(results, ref)
	last := len(results) - 1
	fmt.Fprintf(w, "#### Comparison with %s\n\n", c.Reference)
	head := "| metric |"
	sep := "| --- |"
	for _, tr := range results {
		head += " " + tr.Target + " |"
		sep += " ---: |"
	}
	for _, tr := range results[:last] {
		head += fmt.Sprintf(" %s/%s |", tr.Target, c.Reference)
		sep += " ---: |"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	for _, m := range metrics(cfg) {
		row := "| " + m.name + " |"
		vals := make([]float64, len(results))
		have := make([]bool, len(results))
		for i, tr := range results {
			r, ok := tr.Find(m.kind, m.size)
			if ok {
				vals[i], have[i] = m.value(r), true
				row += " " + m.format(vals[i]) + " |"
			} else {
				row += " - |"
			}
		}
		for i := range results[:last] {
			if have[i] && have[last] && vals[last] > 0 {
				row += fmt.Sprintf(" %.2f |", vals[i]/vals[last])
			} else {
				row += " - |"
			}
		}
		fmt.Fprintln(w, row)
	}
	fmt.Fprintln(w, "\nRatios above 1 are better for rates (records/s, MB/s) and worse for latencies.")
	fmt.Fprintln(w)
}
