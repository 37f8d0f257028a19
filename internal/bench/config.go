// Package bench is the whole-system benchmark: it runs the same produce, consume and
// rate-limited latency workloads, with the same franz-go client settings, against each
// Target (Chronik standalone, a 3-node Chronik cluster, franz-go's kfake as the reference
// broker) in one run, and reports the figures and the ratios between targets as markdown.
// RunIdle (idle.go) measures the CPU a cluster's processes use with idle partitions.
package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config is one benchmark run. Every target gets the same workloads and client settings.
type Config struct {
	// Sizes are the record value sizes in bytes; each gets a produce, a consume and a
	// latency workload.
	Sizes []int
	// Records and Duration bound each produce workload: whichever is reached first.
	Records  int
	Duration time.Duration
	// LatencyDuration is the length of each rate-limited latency run, LatencyLoad the
	// fraction of the measured maximum produce rate it runs at (0.5 = half).
	LatencyDuration time.Duration
	LatencyLoad     float64
	// LatencyRate, when positive, replaces LatencyLoad: every target's latency runs go at
	// this many records/s, so that targets are compared at the same absolute load.
	LatencyRate float64
	// Partitions of each benchmark topic.
	Partitions int32
	// ReplicationFactor of each benchmark topic (-1 = the broker's default).
	ReplicationFactor int16
	// Producers is the number of goroutines calling Produce (asynchronously) in the
	// throughput workloads.
	Producers int
	// Repeat runs every target this many times, interleaved (A B A B ...), and reports
	// the median of each figure with the spread of the rates (0 = 1).
	Repeat int

	// Client settings, the same for every target.
	Linger             time.Duration
	BatchMaxBytes      int32
	MaxBufferedRecords int
	Compression        string // none, gzip, snappy, lz4, zstd
	// Acks is the producers' acks: "all" (idempotent, the default) or "1" (leader only,
	// not idempotent: franz-go requires acks=all for idempotence).
	Acks string

	// Log receives progress lines (nil = none).
	Log io.Writer
}

// Default is the full run: 1 KiB and 100-byte records, 1,000,000 records or 20 s per
// produce workload, 10 s latency runs at half the measured maximum.
func Default() Config {
	return Config{
		Sizes:              []int{1024, 100},
		Records:            1_000_000,
		Duration:           20 * time.Second,
		LatencyDuration:    10 * time.Second,
		LatencyLoad:        0.5,
		Partitions:         3,
		ReplicationFactor:  -1,
		Producers:          4,
		Linger:             0,
		BatchMaxBytes:      1 << 20,
		MaxBufferedRecords: 50_000,
		Compression:        "none",
		Acks:               "all",
	}
}

// Quick is the short run used by CI smoke tests: 200,000 records or 5 s per produce
// workload, 3 s latency runs.
func Quick() Config {
	c := Default()
	c.Records = 200_000
	c.Duration = 5 * time.Second
	c.LatencyDuration = 3 * time.Second
	return c
}

// Validate says what is wrong with a configuration.
func (c Config) Validate() error {
	var errs []string
	if len(c.Sizes) == 0 {
		errs = append(errs, "no record sizes")
	}
	for _, s := range c.Sizes {
		if s < 1 || s > 1<<20 {
			errs = append(errs, fmt.Sprintf("record size %d out of range 1..1048576", s))
		}
	}
	if c.Records < 1 {
		errs = append(errs, "records must be positive")
	}
	if c.Duration <= 0 || c.LatencyDuration <= 0 {
		errs = append(errs, "durations must be positive")
	}
	if c.LatencyRate < 0 {
		errs = append(errs, "latency rate must not be negative")
	}
	if c.LatencyLoad <= 0 || c.LatencyLoad > 1 {
		errs = append(errs, fmt.Sprintf("latency load %v must be in (0, 1]", c.LatencyLoad))
	}
	if c.Partitions < 1 {
		errs = append(errs, "partitions must be positive")
	}
	if c.Repeat < 0 {
		errs = append(errs, "repeat must not be negative")
	}
	if c.Producers < 1 {
		errs = append(errs, "producers must be positive")
	}
	if c.Linger < 0 {
		errs = append(errs, "linger must not be negative")
	}
	if c.BatchMaxBytes < 1024 {
		errs = append(errs, "batch max bytes must be at least 1024")
	}
	if c.MaxBufferedRecords < 1 {
		errs = append(errs, "max buffered records must be positive")
	}
	if _, err := codec(c.Compression); err != nil {
		errs = append(errs, err.Error())
	}
	if c.Acks != "all" && c.Acks != "1" {
		errs = append(errs, fmt.Sprintf("acks %q: want all or 1", c.Acks))
	}
	if len(errs) > 0 {
		return fmt.Errorf("bench config: %s", strings.Join(errs, "; "))
	}
	return nil
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown compression %q (none, gzip, snappy, lz4, zstd)", name)
}

// clientOpts are the client settings every workload and every target share.
func (c Config) clientOpts(bootstrap []string) []kgo.Opt {
	cc, _ := codec(c.Compression)
	acks := []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())} // idempotent writes stay on (the default)
	if c.Acks == "1" {
		acks = []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}
	}
	return append(acks,
		kgo.SeedBrokers(bootstrap...),
		kgo.ProducerLinger(c.Linger),
		kgo.ProducerBatchMaxBytes(c.BatchMaxBytes),
		kgo.MaxBufferedRecords(c.MaxBufferedRecords),
		kgo.ProducerBatchCompression(cc),
		kgo.FetchMaxBytes(50<<20),
		kgo.FetchMaxPartitionBytes(c.BatchMaxBytes*2),
	)
}

// ClientSettings describes the shared client settings for the report.
func (c Config) ClientSettings() string {
	acks := "acks=all, idempotent"
	if c.Acks == "1" {
		acks = "acks=1, not idempotent"
	}
	return fmt.Sprintf("franz-go kgo, %s, linger %v, batch max %d B, max buffered %d records, compression %s, %d producer goroutines",
		acks, c.Linger, c.BatchMaxBytes, c.MaxBufferedRecords, strings.ToLower(c.Compression), c.Producers)
}
