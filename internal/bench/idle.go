package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// IdleConfig is the idle-cost benchmark: what a cluster's processes use while they
// hold partitions that nobody writes to or reads from.
type IdleConfig struct {
	// Partitions of the one topic created (with ReplicationFactor replicas each).
	Partitions        int32
	ReplicationFactor int16
	// Baseline measures the cluster first with no topic at all.
	Baseline bool
	// Settle is the pause between every partition having a leader and the measurement.
	Settle time.Duration
	// Duration is how long CPU use is measured.
	Duration time.Duration
	// LeaderTimeout bounds topic creation and the wait for every partition's leader.
	LeaderTimeout time.Duration
	// Log receives progress lines (nil = none).
	Log io.Writer
}

// DefaultIdle is the scenario: 1,000 partitions of replication factor 3, 5 s to
// settle, 20 s measured, with a baseline.
func DefaultIdle() IdleConfig {
	return IdleConfig{Partitions: 1000, ReplicationFactor: 3, Baseline: true, Settle: 5 * time.Second,
		Duration: 20 * time.Second, LeaderTimeout: 5 * time.Minute}
}

// Validate says what is wrong with an idle configuration.
func (c IdleConfig) Validate() error {
	var errs []string
	if c.Partitions < 1 {
		errs = append(errs, "partitions must be positive")
	}
	if c.ReplicationFactor < 1 && c.ReplicationFactor != -1 {
		errs = append(errs, "replication factor must be positive or -1")
	}
	if c.Settle < 0 {
		errs = append(errs, "settle must not be negative")
	}
	if c.Duration < time.Second {
		errs = append(errs, "duration must be at least 1s")
	}
	if c.LeaderTimeout <= 0 {
		errs = append(errs, "leader timeout must be positive")
	}
	if len(errs) > 0 {
		return fmt.Errorf("idle config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// NodeUsage is one server process's use over a measurement.
type NodeUsage struct {
	Node int
	PID  int
	// CPU is the user+system CPU time the process used (all its threads).
	CPU time.Duration
	// Percent is CPU as a share of one core over the measurement's wall time;
	// MaxPercent is the highest over any one-second interval.
	Percent, MaxPercent float64
	// RSS is the resident set size at the end, Threads the thread count.
	RSS     int64
	Threads int
}

// IdlePhase is one measurement: the cluster with Partitions idle partitions.
type IdlePhase struct {
	Partitions int32
	// Setup is how long creating the topic and electing every leader took, SetupCPU
	// each node's CPU over that time (none for the baseline).
	Setup    time.Duration
	SetupCPU []time.Duration
	Wall     time.Duration
	Nodes    []NodeUsage
	LoadAvg  string // at the end of the measurement
}

// IdleResult is the outcome of RunIdle.
type IdleResult struct {
	Target string
	Phases []IdlePhase
	Err    error
}

// RunIdle starts the cluster, optionally measures it with no topic, then creates one
// topic of cfg.Partitions partitions, waits until every node's Metadata gives every
// partition a leader, lets it settle and measures again. CPU comes from
// /proc/PID/stat (utime+stime), so this works on Linux only.
func RunIdle(ctx context.Context, cfg IdleConfig, c *Cluster) IdleResult {
	res := IdleResult{Target: c.Name()}
	if err := cfg.Validate(); err != nil {
		res.Err = err
		return res
	}
	logf := func(format string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "[%s idle] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
		}
	}
	var pids []int
	cl := *c
	cl.OnStart = func(p []int) {
		pids = p
		if c.OnStart != nil {
			c.OnStart(p)
		}
	}
	logf("starting %s (load average %s)", cl.Name(), LoadAverage())
	bootstrap, stop, err := cl.Start(ctx)
	if err != nil {
		res.Err = err
		return res
	}
	defer stop()
	logf("up at %v, pids %v", bootstrap, pids)

	measure := func(parts int32) (IdlePhase, error) {
		ph := IdlePhase{Partitions: parts}
		if cfg.Settle > 0 {
			logf("settling for %v", cfg.Settle)
			if err := sleepCtx(ctx, cfg.Settle); err != nil {
				return ph, err
			}
		}
		logf("measuring %d partitions for %v", parts, cfg.Duration)
		nodes, wall, err := measureCPU(ctx, pids, cfg.Duration)
		ph.Nodes, ph.Wall, ph.LoadAvg = nodes, wall, LoadAverage()
		for _, n := range nodes {
			logf("node %d (pid %d): %.2f%% of a core (max %.1f%% in 1 s), RSS %.0f MiB, %d threads", n.Node, n.PID, n.Percent, n.MaxPercent, float64(n.RSS)/(1<<20), n.Threads)
		}
		return ph, err
	}
	if cfg.Baseline {
		ph, err := measure(0)
		res.Phases = append(res.Phases, ph)
		if err != nil {
			res.Err = err
			return res
		}
	}
	topic := fmt.Sprintf("idle-%d", time.Now().UnixNano())
	logf("creating %s: %d partitions, replication factor %d", topic, cfg.Partitions, cfg.ReplicationFactor)
	before, err := cpuTimes(pids)
	if err != nil {
		res.Err = err
		return res
	}
	start := time.Now()
	if err := createIdleTopic(ctx, cfg, bootstrap, topic, logf); err != nil {
		res.Err = err
		return res
	}
	setup := time.Since(start)
	after, err := cpuTimes(pids)
	if err != nil {
		res.Err = err
		return res
	}
	logf("every partition has a leader on every node after %v", setup.Round(time.Millisecond))
	ph, err := measure(cfg.Partitions)
	ph.Setup = setup
	for i := range pids {
		ph.SetupCPU = append(ph.SetupCPU, after[i]-before[i])
	}
	res.Phases = append(res.Phases, ph)
	res.Err = err
	return res
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// createIdleTopic creates the topic and waits until every broker's own Metadata gives
// every partition a leader.
func createIdleTopic(ctx context.Context, cfg IdleConfig, bootstrap []string, topic string, logf func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.LeaderTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, cfg.Partitions, cfg.ReplicationFactor, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	lastLog := time.Now()
	for _, addr := range bootstrap {
		for {
			led, err := partitionsLed(ctx, addr, topic, cfg.Partitions)
			if err == nil && led == int(cfg.Partitions) {
				break
			}
			if time.Since(lastLog) > 5*time.Second {
				logf("%s: %d of %d partitions have a leader (%v)", addr, led, cfg.Partitions, err)
				lastLog = time.Now()
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("topic %s: %d of %d partitions have a leader according to %s: %w", topic, led, cfg.Partitions, addr, errors.Join(ctx.Err(), err))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// partitionsLed counts the topic's partitions that the broker at addr says have a leader.
func partitionsLed(ctx context.Context, addr, topic string, partitions int32) (int, error) {
	m, err := NodeMetadata(ctx, addr, []string{topic}, 2*time.Second)
	if err != nil {
		return 0, err
	}
	for _, t := range m.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if t.ErrorCode != 0 {
			return 0, fmt.Errorf("topic error code %d", t.ErrorCode)
		}
		n := 0
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 && p.Leader >= 0 {
				n++
			}
		}
		if len(t.Partitions) != int(partitions) {
			return n, fmt.Errorf("%d partitions listed", len(t.Partitions))
		}
		return n, nil
	}
	return 0, errors.New("topic not listed")
}

// measureCPU samples the processes' CPU time every second for d and returns each
// one's use (node i+1 is pids[i]) and the exact wall time measured.
func measureCPU(ctx context.Context, pids []int, d time.Duration) ([]NodeUsage, time.Duration, error) {
	first, err := cpuTimes(pids)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	prev, prevAt := first, start
	usage := make([]NodeUsage, len(pids))
	for i, pid := range pids {
		usage[i] = NodeUsage{Node: i + 1, PID: pid}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := start.Add(d)
	var cur []time.Duration
	for {
		select {
		case <-ctx.Done():
			return usage, time.Since(start), ctx.Err()
		case <-tick.C:
		}
		now := time.Now()
		cur, err = cpuTimes(pids)
		if err != nil {
			return usage, now.Sub(start), err
		}
		for i := range pids {
			if p := 100 * float64(cur[i]-prev[i]) / float64(now.Sub(prevAt)); p > usage[i].MaxPercent {
				usage[i].MaxPercent = p
			}
		}
		prev, prevAt = cur, now
		if !now.Before(end.Add(-100 * time.Millisecond)) {
			break
		}
	}
	wall := prevAt.Sub(start)
	for i, pid := range pids {
		usage[i].CPU = cur[i] - first[i]
		usage[i].Percent = 100 * float64(usage[i].CPU) / float64(wall)
		usage[i].RSS, usage[i].Threads = procStatus(pid)
	}
	return usage, wall, nil
}

func cpuTimes(pids []int) ([]time.Duration, error) {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		d, err := ProcessCPU(pid)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// ProcessCPU is the user+system CPU time process pid has used, from /proc/PID/stat.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count the
	// fields after its closing parenthesis, which is field 3 (state).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / time.Duration(ClockTicks()), nil
}

// ClockTicks is the kernel's USER_HZ (what `getconf CLK_TCK` prints), the unit of the
// CPU times in /proc/PID/stat: AT_CLKTCK from /proc/self/auxv, or 100, which it is on
// every Linux architecture Go supports.
func ClockTicks() int64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		const atClkTck = 17
		for i := 0; i+16 <= len(b); i += 16 { // (key, value) pairs of 64-bit words
			k, v := binary.NativeEndian.Uint64(b[i:]), binary.NativeEndian.Uint64(b[i+8:])
			if k == 0 {
				break
			}
			if k == atClkTck && v > 0 {
				return int64(v)
			}
		}
	}
	return 100
}

// procStatus reads the resident set size and the thread count from /proc/PID/status.
func procStatus(pid int) (rss int64, threads int) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	if kb, ok := procKB(path, "VmRSS"); ok {
		rss = kb << 10
	}
	threads, _ = strconv.Atoi(procField(path, "Threads"))
	return rss, threads
}

// WriteIdleMarkdown writes the idle benchmark's result.
func WriteIdleMarkdown(w io.Writer, m Machine, cfg IdleConfig, res IdleResult) {
	fmt.Fprintf(w, "Machine: %s, %d cores, %.0f GiB, %s %s, Linux %s.\n\n", orUnknown(m.CPU), m.Cores, m.MemoryGiB, m.GoVersion, m.OS, orUnknown(m.Kernel))
	fmt.Fprintf(w, "Target: %s (one chronik-server process per node, on loopback). One topic of %d partitions, replication factor %s; after every node's Metadata gives every partition a leader, %v to settle, then each process's user+system CPU time (/proc/PID/stat, USER_HZ %d) over %v with nothing produced or fetched. %% is of one core; max is the busiest 1 s interval.\n\n",
		res.Target, cfg.Partitions, rfName(cfg.ReplicationFactor), cfg.Settle, ClockTicks(), cfg.Duration)
	fmt.Fprintln(w, "| partitions | node | CPU time | % of one core | max 1 s | RSS | threads | load average |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, ph := range res.Phases {
		for _, n := range ph.Nodes {
			fmt.Fprintf(w, "| %d | %d | %.2f s | %.2f%% | %.1f%% | %.0f MiB | %d | %s |\n", ph.Partitions, n.Node, n.CPU.Seconds(), n.Percent, n.MaxPercent, float64(n.RSS)/(1<<20), n.Threads, ph.LoadAvg)
		}
	}
	fmt.Fprintln(w)
	for _, ph := range res.Phases {
		if ph.Setup > 0 {
			var cpu []string
			for i, d := range ph.SetupCPU {
				cpu = append(cpu, fmt.Sprintf("node %d %s", i+1, fmtDur(d)))
			}
			fmt.Fprintf(w, "Creating the %d partitions until every node listed a leader for each took %v (CPU: %s).\n\n", ph.Partitions, ph.Setup.Round(time.Millisecond), strings.Join(cpu, ", "))
		}
		if ph.Partitions > 0 && len(ph.Nodes) > 0 {
			worst := 0.0
			for _, n := range ph.Nodes {
				worst = max(worst, n.Percent)
			}
			verdict := "met"
			if worst >= 10 {
				verdict = "not met"
			}
			fmt.Fprintf(w, "Goal: under 10%% of one core per node with %d idle partitions: %s (busiest node %.2f%%).\n\n", ph.Partitions, verdict, worst)
		}
	}
	if res.Err != nil {
		fmt.Fprintf(w, "**Failed:** %s\n\n", strings.ReplaceAll(res.Err.Error(), "\n", " "))
	}
}
