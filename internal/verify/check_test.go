package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func recs(p int32, vals ...string) []*kgo.Record {
	var out []*kgo.Record
	for i, v := range vals {
		out = append(out, &kgo.Record{Partition: p, Offset: int64(i), Value: []byte(v)})
	}
	return out
}

func TestCheckClean(t *testing.T) {
	logs := map[int32][]*kgo.Record{0: recs(0, "p0-0", "p1-0", "p0-2"), 1: recs(1, "p0-1")}
	acks := []ack{{part: 0, off: 0, val: "p0-0"}, {part: 0, off: 2, val: "p0-2"}, {part: 1, off: 0, val: "p0-1"}}
	res := check(acks, logs, 2)
	if err := res.DataErr(); err != nil {
		t.Fatal(err)
	}
	if res.LogRecords != 4 || res.Acked != 3 {
		t.Fatalf("counts: %+v", res)
	}
}

func TestCheckAnomalies(t *testing.T) {
	logs := map[int32][]*kgo.Record{
		0: recs(0, "p0-0", "p0-3", "p0-3", "p0-2", "x"),
		1: {{Partition: 1, Offset: 0, Value: []byte("p1-0")}, {Partition: 1, Offset: 3, Value: []byte("p1-1")}},
	}
	acks := []ack{
		{part: 0, off: 1, val: "p0-1"}, // overwritten by p0-3: lost
		{part: 1, off: 5, val: "p1-9"}, // beyond the log: lost
		{part: 1, off: 0, val: "p1-0"},
	}
	res := check(acks, logs, 2)
	if res.Lost != 2 || res.Duplicated != 1 || res.Reordered != 1 || res.Gaps != 2 || res.Foreign != 1 {
		t.Fatalf("got lost %d dup %d reorder %d gaps %d foreign %d: %v",
			res.Lost, res.Duplicated, res.Reordered, res.Gaps, res.Foreign, res.DataErr())
	}
	var sb strings.Builder
	res.WriteSummary(&sb)
	if !strings.Contains(sb.String(), "FAIL") {
		t.Fatalf("summary without FAIL:\n%s", sb.String())
	}
}

func TestUnavailability(t *testing.T) {
	t0 := time.Unix(1000, 0)
	faults := []*Fault{{Kind: FaultKill, At: t0, Affected: []int32{0, 1}}, {Kind: FaultPause, At: t0.Add(10 * time.Second), Affected: []int32{2}}}
	acks := []ack{
		{part: 0, sent: t0.Add(-time.Second), at: t0.Add(5 * time.Second)}, // sent before the fault: ignored
		{part: 0, sent: t0.Add(time.Millisecond), at: t0.Add(1500 * time.Millisecond)},
		{part: 1, sent: t0.Add(time.Millisecond), at: t0.Add(2500 * time.Millisecond)},
	}
	measureUnavailability(faults, acks, t0.Add(20*time.Second))
	if f := faults[0]; f.Unavailable != 2500*time.Millisecond || f.WorstPart != 1 || f.Unresolved {
		t.Fatalf("fault 1: %+v", f)
	}
	if f := faults[1]; !f.Unresolved || f.Unavailable != 10*time.Second {
		t.Fatalf("fault 2: %+v", f)
	}
	res := &Result{Faults: faults, MaxUnavailability: 3 * time.Second, Acked: 1}
	if err := res.UnavailabilityErr(); err == nil || !strings.Contains(err.Error(), "fault 2") || strings.Contains(err.Error(), "fault 1 ") {
		t.Fatalf("UnavailabilityErr: %v", err)
	}
	if p := percentile([]time.Duration{3, 1, 2}, 0.99); p != 3 {
		t.Fatalf("p99 %v", p)
	}
}

func TestParseFaults(t *testing.T) {
	if fs, err := ParseFaults("kill, pause"); err != nil || len(fs) != 2 {
		t.Fatal(fs, err)
	}
	if _, err := ParseFaults("kill,partition"); err == nil {
		t.Fatal("want an error")
	}
}
