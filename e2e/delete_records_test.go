//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDeleteRecordsSurvivesCrash: DeleteRecords moves the log start offset; kcat
// consuming from the beginning starts there, and so it stays after a SIGKILL restart.
func TestDeleteRecordsSurvivesCrash(t *testing.T) {
	needKcat(t)
	s := startStandalone(t, "--segment-bytes", "4096")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, n = "trim", 2000
	adm := kadm.NewClient(client(t, []string{s.addr()}))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	p := client(t, []string{s.addr()}, kgo.DefaultProduceTopic(topic))
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "r-%d", i)})
	}
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const cut = 1234
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: cut})
	res, err := adm.DeleteRecords(ctx, offs)
	if err != nil || res.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, res.Error())
	}
	if r, _ := res.Lookup(topic, 0); r.LowWatermark != cut {
		t.Fatalf("DeleteRecords low watermark %d, want %d", r.LowWatermark, cut)
	}
	check := func(when string) {
		t.Helper()
		got := kcatConsume(t, s.addr(), topic, "-p", "0", "-o", "beginning")
		if len(got) != n-cut || got[0].offset != cut || got[0].value != fmt.Sprintf("r-%d", cut) {
			t.Fatalf("%s: consumed %d records from the beginning, first %+v; want %d from offset %d", when, len(got), got[:min(1, len(got))], n-cut, cut)
		}
		// Below the log start: OFFSET_OUT_OF_RANGE, which kcat reports when told to.
		_, errOut, err := runCmdErr(30*time.Second, nil, nil, "kcat", "-C", "-b", s.addr(), "-t", topic, "-p", "0", "-o", "10", "-c", "1",
			"-X", "auto.offset.reset=error", "-e")
		if err == nil || !containsAny(string(errOut), "Offset out of range", "OFFSET_OUT_OF_RANGE") {
			t.Fatalf("%s: consuming below the log start: %v, stderr %q; want Offset out of range", when, err, errOut)
		}
	}
	check("after DeleteRecords")
	s.kill()
	s.start()
	s.waitReady(1, 60*time.Second)
	check("after SIGKILL and restart")
	so, err := kadm.NewClient(client(t, []string{s.addr()})).ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := so.Lookup(topic, 0); o.Offset != cut {
		t.Fatalf("log start after restart %d, want %d", o.Offset, cut)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
