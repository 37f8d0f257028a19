package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-stream/chronik/internal/bench"
)

// defaultServerBinary is where `make build` puts the server; when it exists, bench runs
// Chronik as a separate process from it.
const defaultServerBinary = "./bin/chronik-server"

type benchOpts struct {
	quick       bool
	cfg         bench.Config
	sizes       []int
	targets     []string
	binary      string
	binaryArgs  string
	inProcess   bool
	dataDir     string
	cpuProfile  string
	output      string
	reference   []string
	clusterArgs string
	progress    bool
	fileExists  func(string) bool // tests replace it
	brokers     func() []string   // --brokers, for the external target
	flagChanged func(string) bool
}

func newBenchCmd(g *globals) *cobra.Command {
	cmd, _ := benchCmd(g)
	cmd.AddCommand(newBenchIdleCmd())
	cmd.AddCommand(newBenchFsyncCmd())
	return cmd
}

// benchCmd builds the bench command and returns the options its flags fill.
func benchCmd(g *globals) (*cobra.Command, *benchOpts) {
	o := &benchOpts{cfg: bench.Default(), fileExists: fileExists, brokers: func() []string { return g.brokers }}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark Chronik (standalone and a 3-node cluster) against franz-go's kfake in one run",
		Long: `Runs the same workloads, with the same franz-go client settings, against each target in
turn and prints markdown: a table per target and each target's ratio to the reference.

Targets: chronik (a standalone node: a separate chronik-server process from --chronik-binary,
or ./bin/chronik-server when it exists, otherwise in this process), chronik-3 (a 3-node
raft-cluster of chronik-server processes from the same binary on loopback; topics get
replication factor 3), kfake (franz-go's in-memory fake broker, the reference), kfake-3 (three
kfake brokers, the cluster's reference) and external (a broker already running at --brokers,
which bench only creates topics on).

Ratios: --reference kfake,chronik-3=kfake-3 (the default) compares chronik-3 with kfake-3 and
every other target with kfake, one table per reference; add chronik-3=chronik for the cost of
replication.

"chronik bench idle" measures the CPU a 3-node cluster uses while holding idle partitions;
"chronik bench fsync" how long the disk takes to make an append durable.

Per record size: produce as fast as possible (acks=all, idempotent) until --records or
--duration, read it all back with one consumer, then produce at --latency-load times the
measured rate for --latency-duration and report per-record latency.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	d := bench.Default()
	f.BoolVar(&o.quick, "quick", false, "short run (200,000 records or 5 s per produce, 3 s latency runs) unless overridden")
	f.IntSliceVar(&o.sizes, "sizes", d.Sizes, "record value sizes in bytes")
	f.IntVar(&o.cfg.Records, "records", d.Records, "records per produce run (whichever of --records and --duration comes first)")
	f.DurationVar(&o.cfg.Duration, "duration", d.Duration, "longest produce run")
	f.DurationVar(&o.cfg.LatencyDuration, "latency-duration", d.LatencyDuration, "length of each rate-limited latency run")
	f.Float64Var(&o.cfg.LatencyLoad, "latency-load", d.LatencyLoad, "latency runs' rate as a fraction of the measured produce rate")
	f.Float64Var(&o.cfg.LatencyRate, "latency-rate", 0, "run every target's latency runs at this many records/s instead (compares targets at the same load)")
	f.Int32Var(&o.cfg.Partitions, "partitions", d.Partitions, "partitions per benchmark topic")
	f.Int16Var(&o.cfg.ReplicationFactor, "replication-factor", d.ReplicationFactor, "replication factor of benchmark topics (-1 = broker default)")
	f.IntVar(&o.cfg.Producers, "producers", d.Producers, "goroutines calling Produce in the throughput runs")
	f.IntVar(&o.cfg.Repeat, "repeat", 1, "run every target this many times, interleaved, and report medians")
	f.DurationVar(&o.cfg.Linger, "linger", d.Linger, "producer linger")
	f.Int32Var(&o.cfg.BatchMaxBytes, "batch-max-bytes", d.BatchMaxBytes, "producer batch max bytes")
	f.IntVar(&o.cfg.MaxBufferedRecords, "max-buffered-records", d.MaxBufferedRecords, "producer max buffered records")
	f.StringVar(&o.cfg.Compression, "compression", d.Compression, "producer compression: none, gzip, snappy, lz4, zstd")
	f.StringVar(&o.cfg.Acks, "acks", d.Acks, "producer acks: all (idempotent) or 1 (leader only, not idempotent)")
	f.StringSliceVar(&o.targets, "targets", []string{"chronik", "kfake"}, "targets in run order: chronik, chronik-3, kfake, kfake-3, external")
	f.StringSliceVar(&o.reference, "reference", []string{"kfake", "chronik-3=kfake-3"}, "what the ratios are taken against: REF (every target without a pair) or TARGET=REF pairs, one table per reference")
	f.StringVar(&o.clusterArgs, "cluster-args", "", "extra chronik-server arguments for every chronik-3 node")
	f.StringVar(&o.binary, "chronik-binary", "", "run Chronik as a separate process from this chronik-server binary (default "+defaultServerBinary+" when it exists)")
	f.StringVar(&o.binaryArgs, "chronik-args", bench.DefaultProcessArgs, "chronik-server arguments; {dir} and {port} are filled in")
	f.BoolVar(&o.inProcess, "in-process", false, "run Chronik inside this process even when a binary is available")
	f.StringVar(&o.dataDir, "data-dir", "", "parent of the data directories (default the system temp dir; use a real disk, not tmpfs)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile covering the chronik target's run (in-process Chronik only); narrow it to the server with: go tool pprof -tagfocus chronik=server")
	f.StringVarP(&o.output, "output", "o", "", "also write the markdown report to this file")
	f.BoolVar(&o.progress, "progress", true, "print progress to standard error")
	o.flagChanged = f.Changed
	return cmd, o
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// config is the benchmark configuration the flags ask for: --quick sets the short
// bounds, and flags given explicitly win over it.
func (o *benchOpts) config() (bench.Config, error) {
	cfg := o.cfg
	cfg.Sizes = o.sizes
	changed := o.flagChanged
	if changed == nil {
		changed = func(string) bool { return false }
	}
	if o.quick {
		q := bench.Quick()
		if !changed("records") {
			cfg.Records = q.Records
		}
		if !changed("duration") {
			cfg.Duration = q.Duration
		}
		if !changed("latency-duration") {
			cfg.LatencyDuration = q.LatencyDuration
		}
	}
	return cfg, cfg.Validate()
}

// serverBinary is the chronik-server binary a cluster runs: --chronik-binary, else
// ./bin/chronik-server.
func (o *benchOpts) serverBinary() (string, error) {
	bin := o.binary
	if bin == "" {
		bin = defaultServerBinary
	}
	if !o.fileExists(bin) {
		return "", fmt.Errorf("chronik-3 needs a chronik-server binary: %s does not exist (make build, or --chronik-binary)", bin)
	}
	return bin, nil
}

// chronikTarget picks how Chronik runs: a given binary, else ./bin/chronik-server when it
// exists, else in-process.
func (o *benchOpts) chronikTarget() (bench.Target, error) {
	if o.inProcess && o.binary != "" {
		return nil, fmt.Errorf("--in-process and --chronik-binary exclude each other")
	}
	bin := o.binary
	if bin == "" && !o.inProcess && o.fileExists(defaultServerBinary) {
		bin = defaultServerBinary
	}
	if bin == "" {
		return &bench.InProcess{DataDir: o.dataDir}, nil
	}
	if !o.fileExists(bin) {
		return nil, fmt.Errorf("--chronik-binary %s: no such file", bin)
	}
	return &bench.Process{Binary: bin, Args: o.binaryArgs, DataDir: o.dataDir}, nil
}

func (o *benchOpts) buildTargets() ([]bench.Target, error) {
	if len(o.targets) == 0 {
		return nil, fmt.Errorf("no --targets")
	}
	seen := map[string]bool{}
	var ts []bench.Target
	for _, name := range o.targets {
		name = strings.ToLower(strings.TrimSpace(name))
		if seen[name] {
			return nil, fmt.Errorf("target %q listed twice", name)
		}
		seen[name] = true
		switch name {
		case "chronik":
			t, err := o.chronikTarget()
			if err != nil {
				return nil, err
			}
			if o.cpuProfile != "" {
				if _, ok := t.(*bench.InProcess); !ok {
					return nil, fmt.Errorf("--cpuprofile needs the in-process target (--in-process); profile a chronik-server process with perf record -p PID")
				}
				t = &profiled{Target: t, path: o.cpuProfile}
			}
			ts = append(ts, t)
		case "chronik-3":
			bin, err := o.serverBinary()
			if err != nil {
				return nil, err
			}
			ts = append(ts, &bench.Cluster{Binary: bin, Nodes: 3, ExtraArgs: o.clusterArgs, DataDir: o.dataDir})
		case "kfake":
			ts = append(ts, &bench.Kfake{Brokers: 1})
		case "kfake-3":
			ts = append(ts, &bench.Kfake{Brokers: 3})
		case "external":
			var bs []string
			if o.brokers != nil {
				bs = o.brokers()
			}
			ts = append(ts, &bench.External{Bootstrap: bs})
		default:
			return nil, fmt.Errorf("unknown target %q (chronik, chronik-3, kfake, kfake-3, external)", name)
		}
	}
	return ts, nil
}

func (o *benchOpts) run(ctx context.Context, stdout, stderr io.Writer) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	targets, err := o.buildTargets()
	if err != nil {
		return err
	}
	if o.progress {
		cfg.Log = stderr
		for _, t := range targets {
			if c, ok := t.(*bench.Cluster); ok {
				c.Log = stderr
			}
			fmt.Fprintf(stderr, "target %s: %s\n", t.Name(), describeTarget(t))
		}
	}
	results, err := bench.Run(ctx, cfg, targets)
	var md bytes.Buffer
	fmt.Fprintf(&md, "### Run of %s\n\n", time.Now().Format("2006-01-02 15:04 MST"))
	bench.WriteMarkdown(&md, bench.ThisMachine(), cfg, results, o.reference...)
	if _, werr := stdout.Write(md.Bytes()); werr != nil {
		return werr
	}
	if o.output != "" {
		if werr := os.WriteFile(o.output, md.Bytes(), 0o644); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	var failed []string
	for _, tr := range results {
		if tr.Err != nil {
			failed = append(failed, tr.Target)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("targets failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

func describeTarget(t bench.Target) string {
	switch t := t.(type) {
	case *profiled:
		return describeTarget(t.Target) + ", CPU profile to " + t.path
	case *bench.InProcess:
		return "standalone node in this process"
	case *bench.Process:
		return "standalone chronik-server process " + t.Binary
	case *bench.Cluster:
		return fmt.Sprintf("%d-node raft-cluster of chronik-server processes %s", t.Nodes, t.Binary)
	case *bench.Kfake:
		return fmt.Sprintf("franz-go kfake, %d broker(s), in memory", max(t.Brokers, 1))
	case *bench.External:
		return fmt.Sprintf("running broker at %v", t.Bootstrap)
	}
	return "?"
}

// profiled writes a CPU profile of the whole process while its target is up.
type profiled struct {
	bench.Target
	path string
}

func (p *profiled) Start(ctx context.Context) ([]string, func(), error) {
	f, err := os.Create(p.path)
	if err != nil {
		return nil, nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, nil, err
	}
	bootstrap, stop, err := p.Target.Start(ctx)
	if err != nil {
		pprof.StopCPUProfile()
		f.Close()
		return nil, nil, err
	}
	return bootstrap, func() {
		pprof.StopCPUProfile()
		f.Close()
		stop()
	}, nil
}
