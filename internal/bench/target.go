package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/chronik-stream/chronik/internal/server"
)

// Target is one system under test. Start brings it up (empty) and returns the Kafka
// bootstrap addresses and a function that stops it and frees what it used (data
// directories included). The harness calls Start once per run and stop exactly once.
//
// Implementations: Chronik in-process (InProcess), Chronik as a separate chronik-server
// process (Process), a Chronik cluster of chronik-server processes (Cluster, cluster.go),
// franz-go's in-memory kfake (Kfake) and a broker already running (External).
type Target interface {
	Name() string
	Start(ctx context.Context) (bootstrap []string, stop func(), err error)
}

// ProfileLabel is the pprof label set on every goroutine of an in-process Chronik node
// (ProfileLabel=ProfileServer), so that a CPU profile of a whole bench run can be narrowed
// to the server's side with `go tool pprof -tagfocus chronik=server`.
const (
	ProfileLabel  = "chronik"
	ProfileServer = "server"
)

// InProcess runs a standalone Chronik node inside this process, on a fresh data
// directory under DataDir ("" = the system temp dir). Client and server share the Go
// runtime, as they do with kfake.
type InProcess struct {
	DataDir string
	// Configure, if set, adjusts the node's configuration before it starts.
	Configure func(*server.Config)
	// Logger receives the node's logs (nil = discarded).
	Logger *slog.Logger
}

func (t *InProcess) Name() string { return "chronik" }

func (t *InProcess) Start(ctx context.Context) ([]string, func(), error) {
	dir, err := os.MkdirTemp(t.DataDir, "chronik-bench-")
	if err != nil {
		return nil, nil, err
	}
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.Bind = "127.0.0.1"
	cfg.AdvertisedHost = "127.0.0.1"
	cfg.KafkaPort = 0
	cfg.HTTPPort = -1
	if t.Configure != nil {
		t.Configure(&cfg)
	}
	log := t.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var node *server.Node
	// Goroutines inherit pprof labels from the goroutine that starts them, so every
	// goroutine of the node (listeners, connections, raft workers, WAL) carries the label.
	pprof.Do(ctx, pprof.Labels(ProfileLabel, ProfileServer), func(ctx context.Context) {
		node, err = server.Start(ctx, cfg, log)
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start chronik node: %w", err)
	}
	stop := func() {
		_ = node.Stop()
		os.RemoveAll(dir)
	}
	return []string{node.KafkaAddr()}, stop, nil
}

// Kfake runs franz-go's in-memory fake cluster with Brokers brokers (0 = 1): the
// reference broker. It keeps everything in memory and never fsyncs.
type Kfake struct {
	Brokers int
}

func (t *Kfake) Name() string {
	if t.Brokers > 1 {
		return fmt.Sprintf("kfake-%d", t.Brokers)
	}
	return "kfake"
}

func (t *Kfake) Start(ctx context.Context) ([]string, func(), error) {
	n := t.Brokers
	if n < 1 {
		n = 1
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(n))
	if err != nil {
		return nil, nil, fmt.Errorf("start kfake: %w", err)
	}
	return c.ListenAddrs(), c.Close, nil
}

// External is a broker that is already running (a Kafka, or a Chronik cluster started by
// hand): the benchmark only creates its topics there and never stops it.
type External struct {
	Label     string // name in the report ("external" when empty)
	Bootstrap []string
}

func (t *External) Name() string {
	if t.Label != "" {
		return t.Label
	}
	return "external"
}

func (t *External) Start(context.Context) ([]string, func(), error) {
	if len(t.Bootstrap) == 0 {
		return nil, nil, fmt.Errorf("external target: no bootstrap brokers")
	}
	return t.Bootstrap, func() {}, nil
}
