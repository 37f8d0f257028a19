package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDurationHistBuckets(t *testing.T) {
	var h durationHist
	for _, d := range []time.Duration{0, 500 * time.Microsecond, 700 * time.Microsecond, 4 * time.Millisecond, time.Minute} {
		h.add(d)
	}
	s := h.snapshot()
	if s.Count != 5 || s.Sum != time.Minute+5200*time.Microsecond {
		t.Fatalf("count %d sum %v", s.Count, s.Sum)
	}
	want := map[float64]uint64{0.0005: 2, 0.001: 3, 0.003: 3, 0.005: 4, 10: 4}
	for i, b := range RequestDurationBounds {
		if n, ok := want[b]; ok && s.Cumulative[i] != n {
			t.Fatalf("bucket <= %v s holds %d, want %d (all %v)", b, s.Cumulative[i], n, s.Cumulative)
		}
	}
}

func TestRequestDurationsCounted(t *testing.T) {
	srv, _, addr := startCore(t, Config{})
	c := rawDial(t, addr)
	for range 3 {
		roundTrip[*kmsg.ApiVersionsResponse](t, c, kmsg.NewPtrApiVersionsRequest())
	}
	// The writer counts a request after writing its response, which the client may read
	// first: wait for the count.
	waitStat(t, srv, func(st Stats) bool { return st.RequestDurations[18].Count == 3 })
	h := srv.Stats().RequestDurations[18]
	if h.Sum <= 0 || h.Cumulative[len(h.Cumulative)-1] != 3 {
		t.Fatalf("histogram %+v", h)
	}
}
