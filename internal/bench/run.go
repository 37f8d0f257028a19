package bench

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

// TargetResult is every workload's result on one target, or the error that stopped it.
// With repeated runs, Results holds the medians (see Merge) and Runs each run's own.
type TargetResult struct {
	Target  string
	Results []Result
	Runs    [][]Result
	Err     error
}

// Find returns the result of a workload kind and size.
func (tr TargetResult) Find(k Kind, size int) (Result, bool) {
	for _, r := range tr.Results {
		if r.Kind == k && r.Size == size {
			return r, true
		}
	}
	return Result{}, false
}

// Run runs every workload against every target (one target up at a time), cfg.Repeat
// times interleaved, and returns one result per target in the targets' order. A target
// that fails keeps the results it had and its error; the others still run.
func Run(ctx context.Context, cfg Config, targets []Target) ([]TargetResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reps := max(cfg.Repeat, 1)
	out := make([]TargetResult, len(targets))
	for i, t := range targets {
		out[i].Target = t.Name()
	}
	for rep := 0; rep < reps; rep++ {
		for i, t := range targets {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			if out[i].Err != nil {
				continue
			}
			if reps > 1 && cfg.Log != nil {
				fmt.Fprintf(cfg.Log, "run %d of %d\n", rep+1, reps)
			}
			goroutines := runtime.NumGoroutine()
			tr := RunTarget(ctx, cfg, t)
			releaseMemory(goroutines)
			out[i].Runs = append(out[i].Runs, tr.Results)
			out[i].Err = tr.Err
		}
	}
	for i := range out {
		out[i].Results = Merge(out[i].Runs)
	}
	return out, nil
}

// releaseMemory hands a stopped target's memory back to the OS. An in-process target
// (kfake) leaves gigabytes in this process's heap, and its goroutines (and the clients')
// may still hold them for a moment after it stopped: the runtime would then collect that
// heap only once it doubled again (during the next target, one long collection competing
// with it for the CPU) and hand it back to the OS only slowly, leaving the next target
// short of memory for its page cache. So this waits, at most 10 s, until no more
// goroutines run than before the target started and the heap left after a collection is
// under releasedHeap, collecting and returning memory at each step.
func releaseMemory(goroutinesBefore int) {
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for {
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc < releasedHeap || time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// releasedHeap is the live heap below which a stopped target's memory counts as released
// (the bench itself keeps only results and a few buffers between targets).
const releasedHeap = 256 << 20

// RunTarget starts one target, runs the workloads on it and stops it. For each record
// size: a produce run to a fresh topic, a consume run that reads that topic back from the
// start, and a latency run to another fresh topic at cfg.LatencyLoad times the measured
// produce rate.
func RunTarget(ctx context.Context, cfg Config, t Target) TargetResult {
	tr := TargetResult{Target: t.Name()}
	logf := func(format string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "[%s %s] %s\n", time.Now().Format("15:04:05"), t.Name(), fmt.Sprintf(format, a...))
		}
	}
	logf("starting (load average %s, %s available)", LoadAverage(), MemAvailable())
	bootstrap, stop, err := t.Start(ctx)
	if err != nil {
		tr.Err = err
		logf("failed to start: %v", err)
		return tr
	}
	defer func() {
		stop()
		logf("stopped")
	}()
	logf("up at %v", bootstrap)
	fail := func(err error) TargetResult {
		tr.Err = err
		logf("error: %v", err)
		return tr
	}
	for _, size := range cfg.Sizes {
		topic := fmt.Sprintf("bench-%d-%d", size, time.Now().UnixNano())
		if err := createTopic(ctx, cfg, bootstrap, topic); err != nil {
			return fail(err)
		}
		pr, written, err := runProduce(ctx, cfg, bootstrap, topic, size)
		if err != nil {
			return fail(fmt.Errorf("produce %d B: %w", size, err))
		}
		tr.Results = append(tr.Results, pr)
		logf("produce %d B: %s", size, summary(pr))
		if pr.Records == 0 {
			return fail(fmt.Errorf("produce %d B: nothing acknowledged (first error: %v)", size, pr.FirstErr))
		}

		cr, err := runConsume(ctx, cfg, bootstrap, topic, size, written)
		if err != nil {
			return fail(fmt.Errorf("consume %d B: %w", size, err))
		}
		tr.Results = append(tr.Results, cr)
		logf("consume %d B: %s", size, summary(cr))

		ltopic := topic + "-latency"
		if err := createTopic(ctx, cfg, bootstrap, ltopic); err != nil {
			return fail(err)
		}
		rate := cfg.LatencyLoad * pr.RecordsPerSec()
		if cfg.LatencyRate > 0 {
			rate = cfg.LatencyRate
		}
		before := brokerDurations(ctx, t, logf)
		lr, err := runLatency(ctx, cfg, bootstrap, ltopic, size, rate)
		if err != nil {
			return fail(fmt.Errorf("latency %d B: %w", size, err))
		}
		if after := brokerDurations(ctx, t, logf); before != nil && after != nil {
			d := after.since(before)
			lr.BrokerP50, lr.BrokerP99 = d.quantile(0.50), d.quantile(0.99)
		}
		tr.Results = append(tr.Results, lr)
		logf("latency %d B at %.0f rec/s: %s", size, lr.TargetRate, summary(lr))
	}
	return tr
}

// brokerDurations reads the brokers' Produce duration histograms of a target that serves
// them (nil otherwise, or when they cannot be read, which is logged).
func brokerDurations(ctx context.Context, t Target, logf func(string, ...any)) buckets {
	mt, ok := t.(metricsTarget)
	if !ok || len(mt.MetricsURLs()) == 0 {
		return nil
	}
	b, err := scrapeProduceDurations(ctx, mt.MetricsURLs())
	if err != nil {
		logf("broker metrics: %v", err)
		return nil
	}
	return b
}

func summary(r Result) string {
	s := fmt.Sprintf("%d records in %v: %.0f rec/s, %.1f MB/s", r.Records, r.Elapsed.Round(time.Millisecond), r.RecordsPerSec(), r.MBPerSec())
	if r.Kind != Consume {
		s += fmt.Sprintf(", p50 %v, p99 %v", fmtDur(r.P50), fmtDur(r.P99))
	}
	if r.RequestP99 > 0 {
		s += fmt.Sprintf(" (requests p50 %v, p99 %v)", fmtDur(r.RequestP50), fmtDur(r.RequestP99))
	}
	if r.BrokerP99 > 0 {
		s += fmt.Sprintf(" (brokers answered Produce in p50 %v, p99 %v)", fmtDur(r.BrokerP50), fmtDur(r.BrokerP99))
	}
	if r.Errors > 0 {
		s += fmt.Sprintf(", %d errors (first: %v)", r.Errors, r.FirstErr)
	}
	return s
}
