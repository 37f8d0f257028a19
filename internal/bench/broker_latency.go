package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metricsTarget is a target whose brokers serve Prometheus metrics once started: the
// bench then also reports how long the brokers took to answer Produce requests during
// each latency run, beside the latency the client saw.
type metricsTarget interface {
	// MetricsURLs are the /metrics addresses of the running brokers.
	MetricsURLs() []string
}

// produceDurationMetric is the broker's request duration histogram; Produce is API key 0.
const produceDurationMetric = `chronik_kafka_request_duration_seconds_bucket{api_key="0",`

// buckets are the cumulative counts of a Prometheus histogram by upper bound in seconds
// (+Inf included).
type buckets map[float64]uint64

// scrapeProduceDurations fetches every URL's Produce duration histogram and adds them up.
func scrapeProduceDurations(ctx context.Context, urls []string) (buckets, error) {
	sum := buckets{}
	cl := http.Client{Timeout: 5 * time.Second}
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := cl.Do(req)
		if err != nil {
			return nil, err
		}
		err = parseProduceDurations(resp.Body, sum)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u, err)
		}
	}
	return sum, nil
}

// parseProduceDurations adds the Produce bucket lines of a Prometheus text exposition to
// dst. Other lines are skipped; a bucket line it cannot read is an error.
func parseProduceDurations(r io.Reader, dst buckets) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), produceDurationMetric)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(line, "} ")
		le, found := strings.CutPrefix(labels, `le="`)
		if !ok || !found || !strings.HasSuffix(le, `"`) {
			return fmt.Errorf("unreadable histogram line %q", sc.Text())
		}
		bound, err := strconv.ParseFloat(strings.TrimSuffix(le, `"`), 64)
		if err != nil {
			return fmt.Errorf("bucket bound in %q: %w", sc.Text(), err)
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bucket count in %q: %v", sc.Text(), err)
		}
		dst[bound] += uint64(n)
	}
	return sc.Err()
}

// since returns the counts added after earlier was taken.
func (b buckets) since(earlier buckets) buckets {
	out := buckets{}
	for bound, n := range b {
		out[bound] = n - min(n, earlier[bound])
	}
	return out
}

// quantile estimates the q quantile as Prometheus' histogram_quantile does: linear
// interpolation inside the bucket that holds it, the largest finite bound when it falls
// in the +Inf bucket, 0 for an empty histogram.
func (b buckets) quantile(q float64) time.Duration {
	bounds := make([]float64, 0, len(b))
	for bound := range b {
		bounds = append(bounds, bound)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 || b[bounds[len(bounds)-1]] == 0 {
		return 0
	}
	total := float64(b[bounds[len(bounds)-1]])
	rank := q * total
	lower, below := 0.0, 0.0
	for _, bound := range bounds {
		n := float64(b[bound])
		if n >= rank {
			if math.IsInf(bound, 1) {
				return seconds(lower)
			}
			if n == below {
				return seconds(bound)
			}
			return seconds(lower + (bound-lower)*(rank-below)/(n-below))
		}
		lower, below = bound, n
	}
	return seconds(lower)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
