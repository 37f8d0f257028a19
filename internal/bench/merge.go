package bench

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Merge combines the results of repeated runs of the same workloads: for each workload
// (kind and size, in first-seen order) the run with the median record rate supplies the
// counts, each latency quantile is the median over the runs, Max is the largest, and
// MinRate and MaxRate give the spread of the record rate. A single run is returned as it
// is (with its spread set).
func Merge(runs [][]Result) []Result {
	type key struct {
		k Kind
		s int
	}
	var order []key
	groups := map[key][]Result{}
	for _, run := range runs {
		for _, r := range run {
			k := key{r.Kind, r.Size}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], r)
		}
	}
	out := make([]Result, 0, len(order))
	for _, k := range order {
		rs := groups[k]
		slices.SortFunc(rs, func(a, b Result) int {
			switch ra, rb := a.RecordsPerSec(), b.RecordsPerSec(); {
			case ra < rb:
				return -1
			case ra > rb:
				return 1
			}
			return 0
		})
		m := rs[(len(rs)-1)/2] // the lower median for an even count
		m.Runs = len(rs)
		m.MinRate, m.MaxRate = rs[0].RecordsPerSec(), rs[len(rs)-1].RecordsPerSec()
		m.P50 = medianDur(rs, func(r Result) time.Duration { return r.P50 })
		m.P99 = medianDur(rs, func(r Result) time.Duration { return r.P99 })
		m.P999 = medianDur(rs, func(r Result) time.Duration { return r.P999 })
		m.BrokerP50 = medianDur(rs, func(r Result) time.Duration { return r.BrokerP50 })
		m.BrokerP99 = medianDur(rs, func(r Result) time.Duration { return r.BrokerP99 })
		m.RequestP50 = medianDur(rs, func(r Result) time.Duration { return r.RequestP50 })
		m.RequestP99 = medianDur(rs, func(r Result) time.Duration { return r.RequestP99 })
		for _, r := range rs {
			m.Max = max(m.Max, r.Max)
		}
		out = append(out, m)
	}
	return out
}

func medianDur(rs []Result, f func(Result) time.Duration) time.Duration {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = f(r)
	}
	slices.Sort(ds)
	return ds[(len(ds)-1)/2]
}

// LoadAverage is the 1, 5 and 15 minute load average from /proc/loadavg ("?" if unknown):
// logged with every target start, since other work on the machine skews the figures.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// MemAvailable returns the machine's available memory as /proc/meminfo gives it
// ("?" where there is no such file).
func MemAvailable() string {
	kb, ok := procKB("/proc/meminfo", "MemAvailable")
	if !ok {
		return "?"
	}
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}

// minFreeKB is the available memory below which load loops stop issuing records: an
// in-memory reference broker (kfake) keeps every record, and a machine without swap
// that runs out of memory stalls for many minutes instead of failing.
const minFreeKB = 2 << 20

// memoryLow reports whether the machine is about to run out of memory (false where
// that cannot be read).
func memoryLow() bool {
	kb, ok := procKB("/proc/meminfo", "MemAvailable")
	return ok && kb < minFreeKB
}
