package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

const sampleMetrics = `# HELP chronik_kafka_request_duration_seconds Kafka requests ...
# TYPE chronik_kafka_request_duration_seconds histogram
chronik_kafka_request_duration_seconds_bucket{api_key="0",le="0.001"} 10
chronik_kafka_request_duration_seconds_bucket{api_key="0",le="0.002"} 60
chronik_kafka_request_duration_seconds_bucket{api_key="0",le="0.005"} 99
chronik_kafka_request_duration_seconds_bucket{api_key="0",le="+Inf"} 100
chronik_kafka_request_duration_seconds_sum{api_key="0"} 0.2
chronik_kafka_request_duration_seconds_count{api_key="0"} 100
chronik_kafka_request_duration_seconds_bucket{api_key="1",le="0.001"} 7
chronik_kafka_requests_total{api_key="0"} 100
`

func TestParseProduceDurations(t *testing.T) {
	b := buckets{}
	// Two brokers' expositions add up.
	for range 2 {
		if err := parseProduceDurations(strings.NewReader(sampleMetrics), b); err != nil {
			t.Fatal(err)
		}
	}
	want := buckets{0.001: 20, 0.002: 120, 0.005: 198, math.Inf(1): 200}
	if len(b) != len(want) {
		t.Fatalf("buckets %v, want %v", b, want)
	}
	for bound, n := range want {
		if b[bound] != n {
			t.Fatalf("bucket %v = %d, want %d (all %v)", bound, b[bound], n, b)
		}
	}
	bad := `chronik_kafka_request_duration_seconds_bucket{api_key="0",le="x"} 1`
	if err := parseProduceDurations(strings.NewReader(bad), buckets{}); err == nil {
		t.Fatal("unreadable bound accepted")
	}
}

func TestBucketQuantile(t *testing.T) {
	earlier := buckets{0.001: 5, 0.002: 5, 0.005: 5, math.Inf(1): 5}
	now := buckets{0.001: 15, 0.002: 65, 0.005: 104, math.Inf(1): 105}
	d := now.since(earlier) // 10 / 60 / 99 / 100
	cases := []struct {
		q    float64
		want time.Duration
	}{
		{0.05, 500 * time.Microsecond},  // halfway through the first bucket, from 0
		{0.35, 1500 * time.Microsecond}, // halfway through (1 ms, 2 ms]
		{0.99, 5 * time.Millisecond},    // the top of (2 ms, 5 ms]
		{1, 5 * time.Millisecond},       // in +Inf: the largest finite bound
	}
	for _, c := range cases {
		if got := d.quantile(c.q); got < c.want-time.Microsecond || got > c.want+time.Microsecond {
			t.Fatalf("q %v = %v, want %v", c.q, got, c.want)
		}
	}
	if got := (buckets{}).quantile(0.99); got != 0 {
		t.Fatalf("empty histogram: %v", got)
	}
}

func TestWriteRequestTimes(t *testing.T) {
	var w bytes.Buffer
	writeRequestTimes(&w, []Result{{Kind: Produce, Size: 100}, {Kind: Latency, Size: 1024}})
	if w.Len() != 0 {
		t.Fatalf("wrote %q without broker figures", w.String())
	}
	writeRequestTimes(&w, []Result{{Kind: Latency, Size: 1024, BrokerP50: 1500 * time.Microsecond, BrokerP99: 4 * time.Millisecond,
		RequestP50: 2 * time.Millisecond, RequestP99: 6 * time.Millisecond}})
	got := w.String()
	if !strings.Contains(got, "as the brokers timed them") || !strings.Contains(got, "1 KiB p50 1.50 ms, p99 4.00 ms") ||
		!strings.Contains(got, "as the client timed them") || !strings.Contains(got, "1 KiB p50 2.00 ms, p99 6.00 ms") {
		t.Fatalf("got %q", got)
	}
}
