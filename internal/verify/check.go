package verify

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxExamples bounds the anomalies kept per check.
const maxExamples = 10

// Result is what a Run found.
type Result struct {
	Seed     uint64
	Duration time.Duration

	Acked        int   // acknowledged records
	Failed       int64 // records the producers gave up on (not acknowledged; may or may not be in the log)
	LogRecords   int   // records read back
	Lost         int   // acknowledged records missing from, or different at, their offset
	Duplicated   int   // values appearing more than once
	Reordered    int   // records whose seq is not above the previous one of the same producer and partition
	Gaps         int   // offsets missing between consecutive records read back
	Foreign      int   // values not written by the producers
	AckConflicts int   // (partition, offset) acknowledged with two different values

	LostExamples, DupExamples, ReorderExamples, GapExamples, OtherExamples []string

	Faults            []*Fault
	MaxUnavailability time.Duration
}

// DataErr reports a failed data check (lost, duplicated, reordered, gaps, foreign or
// conflicting acknowledgements), or nil.
func (r *Result) DataErr() error {
	var errs []error
	add := func(n int, what string, ex []string) {
		if n > 0 {
			errs = append(errs, fmt.Errorf("%d %s, e.g. %s", n, what, strings.Join(ex, "; ")))
		}
	}
	add(r.Lost, "acknowledged records lost", r.LostExamples)
	add(r.Duplicated, "duplicated values", r.DupExamples)
	add(r.Reordered, "reordered records", r.ReorderExamples)
	add(r.Gaps, "offset gaps", r.GapExamples)
	add(r.Foreign+r.AckConflicts, "foreign values or conflicting acknowledgements", r.OtherExamples)
	if r.Acked == 0 {
		errs = append(errs, errors.New("nothing was acknowledged"))
	}
	return errors.Join(errs...)
}

// UnavailabilityErr reports the faults whose unavailability exceeded the bound.
func (r *Result) UnavailabilityErr() error {
	var errs []error
	for i, f := range r.Faults {
		if f.Unavailable > r.MaxUnavailability || f.Unresolved {
			errs = append(errs, fmt.Errorf("fault %d (%s node %d, led %v): partition %d acknowledged nothing new for %v%s (bound %v)",
				i+1, f.Kind, f.Node, f.Led, f.WorstPart, f.Unavailable.Round(time.Millisecond), map[bool]string{true: "+ (never again)", false: ""}[f.Unresolved], r.MaxUnavailability))
		}
	}
	return errors.Join(errs...)
}

// Err is DataErr and UnavailabilityErr together.
func (r *Result) Err() error { return errors.Join(r.DataErr(), r.UnavailabilityErr()) }

func parseValue(v string) (prod, seq int, ok bool) {
	rest, found := strings.CutPrefix(v, "p")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, "-")
	if !found {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(a)
	s, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return p, s, true
}

func appendEx(ex []string, s string) []string {
	if len(ex) < maxExamples {
		ex = append(ex, s)
	}
	return ex
}

// check compares the acknowledgements with the partitions' logs (records in offset
// order as read).
func check(acks []ack, logs map[int32][]*kgo.Record, partitions int32) *Result {
	res := &Result{Acked: len(acks)}
	type key struct {
		prod int
		part int32
	}
	at := map[int32]map[int64]string{} // partition -> offset -> value read
	seen := map[string]string{}        // value -> first place
	lastSeq := map[key]int{}
	for p := int32(0); p < partitions; p++ {
		at[p] = map[int64]string{}
		var prevOff int64 = -1
		for _, rec := range logs[p] {
			v := string(rec.Value)
			where := fmt.Sprintf("p%d@%d", p, rec.Offset)
			if prevOff >= 0 && rec.Offset != prevOff+1 {
				if rec.Offset <= prevOff {
					res.Gaps++
					res.GapExamples = appendEx(res.GapExamples, fmt.Sprintf("partition %d: offset %d read after %d", p, rec.Offset, prevOff))
				} else {
					res.Gaps += int(rec.Offset - prevOff - 1)
					res.GapExamples = appendEx(res.GapExamples, fmt.Sprintf("partition %d: offsets %d..%d missing", p, prevOff+1, rec.Offset-1))
				}
			}
			if rec.Offset > prevOff {
				prevOff = rec.Offset
			}
			at[p][rec.Offset] = v
			res.LogRecords++
			if first, dup := seen[v]; dup {
				res.Duplicated++
				res.DupExamples = appendEx(res.DupExamples, fmt.Sprintf("%q at %s and %s", v, first, where))
				continue
			}
			seen[v] = where
			prod, seq, ok := parseValue(v)
			if !ok {
				res.Foreign++
				res.OtherExamples = appendEx(res.OtherExamples, fmt.Sprintf("foreign value %q at %s", v, where))
				continue
			}
			k := key{prod, p}
			if last, ok := lastSeq[k]; ok && seq <= last {
				res.Reordered++
				res.ReorderExamples = appendEx(res.ReorderExamples, fmt.Sprintf("%q at %s after p%d-%d", v, where, prod, last))
			}
			if last, ok := lastSeq[k]; !ok || seq > last {
				lastSeq[k] = seq
			}
		}
	}
	ackedAt := map[int32]map[int64]string{}
	sorted := append([]ack(nil), acks...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].part != sorted[j].part {
			return sorted[i].part < sorted[j].part
		}
		return sorted[i].off < sorted[j].off
	})
	for _, a := range sorted {
		if ackedAt[a.part] == nil {
			ackedAt[a.part] = map[int64]string{}
		}
		if prev, ok := ackedAt[a.part][a.off]; ok && prev != a.val {
			res.AckConflicts++
			res.OtherExamples = appendEx(res.OtherExamples, fmt.Sprintf("p%d@%d acknowledged for both %q and %q", a.part, a.off, prev, a.val))
		}
		ackedAt[a.part][a.off] = a.val
		got, ok := at[a.part][a.off]
		switch {
		case !ok:
			res.Lost++
			res.LostExamples = appendEx(res.LostExamples, fmt.Sprintf("%q acknowledged at p%d@%d (at %s), offset absent (partition read back holds %d records)",
				a.val, a.part, a.off, a.at.Format("15:04:05.000"), len(logs[a.part])))
		case got != a.val:
			res.Lost++
			res.LostExamples = appendEx(res.LostExamples, fmt.Sprintf("%q acknowledged at p%d@%d (at %s), offset holds %q (found at %s)",
				a.val, a.part, a.off, a.at.Format("15:04:05.000"), got, seenOr(seen, a.val)))
		}
	}
	return res
}

func seenOr(seen map[string]string, v string) string {
	if w, ok := seen[v]; ok {
		return w
	}
	return "nowhere"
}

// percentile is the nearest-rank q-quantile of ds (sorted in place).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(q*float64(len(ds))+0.999999) - 1
	i = max(0, min(i, len(ds)-1))
	return ds[i]
}

// WriteSummary prints the result as a table.
func (r *Result) WriteSummary(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	status := func(n int) string {
		if n == 0 {
			return "ok"
		}
		return "FAIL"
	}
	fmt.Fprintf(tw, "seed\t%d\t\n", r.Seed)
	fmt.Fprintf(tw, "fault duration\t%v\t\n", r.Duration)
	fmt.Fprintf(tw, "acknowledged\t%d\t\n", r.Acked)
	fmt.Fprintf(tw, "failed (not acked)\t%d\t\n", r.Failed)
	fmt.Fprintf(tw, "records read back\t%d\t\n", r.LogRecords)
	fmt.Fprintf(tw, "lost\t%d\t%s\n", r.Lost, status(r.Lost))
	fmt.Fprintf(tw, "duplicated\t%d\t%s\n", r.Duplicated, status(r.Duplicated))
	fmt.Fprintf(tw, "reordered\t%d\t%s\n", r.Reordered, status(r.Reordered))
	fmt.Fprintf(tw, "offset gaps\t%d\t%s\n", r.Gaps, status(r.Gaps))
	if r.Foreign+r.AckConflicts > 0 {
		fmt.Fprintf(tw, "foreign/conflicting\t%d\t%s\n", r.Foreign+r.AckConflicts, "FAIL")
	}
	byKind := map[string][]time.Duration{}
	var all []time.Duration
	over := 0
	for _, f := range r.Faults {
		byKind[f.Kind] = append(byKind[f.Kind], f.Unavailable)
		all = append(all, f.Unavailable)
		if f.Unavailable > r.MaxUnavailability || f.Unresolved {
			over++
		}
	}
	var kinds []string
	for _, k := range AllFaults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, len(byKind[k])))
	}
	fmt.Fprintf(tw, "faults\t%d\t%s\n", len(r.Faults), strings.Join(kinds, ", "))
	if len(all) > 0 {
		st := "ok"
		if over > 0 {
			st = fmt.Sprintf("FAIL (%d over)", over)
		}
		fmt.Fprintf(tw, "unavailability max\t%v\t%s (bound %v)\n", percentile(append([]time.Duration(nil), all...), 1).Round(time.Millisecond), st, r.MaxUnavailability)
		fmt.Fprintf(tw, "unavailability p99\t%v\t\n", percentile(append([]time.Duration(nil), all...), 0.99).Round(time.Millisecond))
		fmt.Fprintf(tw, "unavailability p50\t%v\t\n", percentile(append([]time.Duration(nil), all...), 0.5).Round(time.Millisecond))
		for _, k := range AllFaults {
			if ds := byKind[k]; len(ds) > 0 {
				fmt.Fprintf(tw, "  %s max / p50\t%v / %v\t\n", k, percentile(append([]time.Duration(nil), ds...), 1).Round(time.Millisecond),
					percentile(append([]time.Duration(nil), ds...), 0.5).Round(time.Millisecond))
			}
		}
	}
	var failovers []time.Duration
	noLeader := 0
	for _, f := range r.Faults {
		switch {
		case f.NewLeader > 0:
			failovers = append(failovers, f.NewLeader)
		case f.NewLeader < 0:
			noLeader++
		}
	}
	if len(failovers)+noLeader > 0 {
		fmt.Fprintf(tw, "new leader after (server)\tmax %v, p50 %v\t%d leader faults, %d without a new leader in 15 s\n",
			percentile(append([]time.Duration(nil), failovers...), 1).Round(time.Millisecond),
			percentile(append([]time.Duration(nil), failovers...), 0.5).Round(time.Millisecond), len(failovers)+noLeader, noLeader)
	}
	tw.Flush()
	if len(r.Faults) > 0 {
		fmt.Fprintln(w, "\nfaults:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tkind\tnode\tled\tnew leader after\thealed after\tin sync after\tunavailable\tworst partition\tnote")
		for i, f := range r.Faults {
			u := f.Unavailable.Round(time.Millisecond).String()
			if f.Unresolved {
				u += "+ (no ack after)"
			}
			nl := "-"
			switch {
			case f.NewLeader > 0:
				nl = f.NewLeader.Round(time.Millisecond).String()
			case f.NewLeader < 0:
				nl = "none in 15s"
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%v\t%s\t%v\t%s\t%s\t%d\t%s\n", i+1, f.Kind, f.Node, f.Led, nl, f.Healed.Sub(f.At).Round(time.Millisecond),
				sinceOrNone(f.InSync, f.At), u, f.WorstPart, f.Note)
		}
		tw.Flush()
	}
	for _, ex := range [][]string{r.LostExamples, r.DupExamples, r.ReorderExamples, r.GapExamples, r.OtherExamples} {
		for _, e := range ex {
			fmt.Fprintln(w, "  anomaly:", e)
		}
	}
}
